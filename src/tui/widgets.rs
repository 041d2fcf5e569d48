//! Small drawing pieces several screens share, so that a cut text, a problem's mark
//! and a centred dialog look the same everywhere and change in one place.

use ratatui::layout::Rect;
use ratatui::style::Style;

use super::theme;
use crate::spec::Severity;

/// Cuts `text` to `width` characters, marking the cut with an ellipsis.
pub fn shorten(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mark = theme::ellipsis();
    let keep = width.saturating_sub(mark.chars().count());
    let mut out: String = text.chars().take(keep).collect();
    out.push_str(mark);
    out
}

/// The mark and style of a problem: an error and a warning must read differently on
/// every screen, also in ASCII and without colour.
pub fn severity(severity: Severity) -> (&'static str, Style) {
    match severity {
        Severity::Error => (theme::err_mark(), theme::error()),
        Severity::Warning => (theme::warn_mark(), theme::warning()),
    }
}

/// A rectangle of `width`×`height` centred in `area`.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}
