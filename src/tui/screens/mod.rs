//! One module per screen. A screen owns its editing state, turns keys into changes of
//! the spec and an [`Outcome`], and draws from a read-only [`View`].

pub mod done;
pub mod execute;
pub mod hosts;
pub mod import;
pub mod network;
pub mod options;
pub mod preview;
pub mod review;
pub mod start;
pub mod topology;

use ratatui::Frame;
use ratatui::crossterm::event::KeyEvent;
use ratatui::layout::Rect;

use super::app::{Outcome, View};
use super::keys::Binding;
use crate::spec::{ClusterSpec, Diagnostic};

/// What the app needs from every screen.
pub trait Screen {
    /// The name in the header and the help.
    fn title(&self) -> &'static str;
    /// What the screen is for, shown by `?`.
    fn help(&self) -> &'static str;
    /// The keys the screen handles in its current mode; the hint bar shows these.
    fn bindings(&self) -> &'static [Binding];
    /// True while a text field has the keyboard: `?` is then a character.
    fn editing(&self) -> bool {
        false
    }
    /// Handles one key; may change `spec`.
    fn handle(&mut self, key: &KeyEvent, spec: &mut ClusterSpec) -> Outcome;
    /// Draws into `area`; never changes anything.
    fn draw(&self, frame: &mut Frame, area: Rect, view: &View);
    /// What stops Next on this screen; empty when the operator may go on.
    fn problems(&self, _view: &View) -> Vec<String> {
        Vec::new()
    }
}

/// The validation errors whose path `owns` accepts, as `path: message`.
pub fn errors_of(diags: &[Diagnostic], owns: impl Fn(&str) -> bool) -> Vec<String> {
    diags
        .iter()
        .filter(|d| d.is_error() && owns(&d.path))
        .map(|d| format!("{}: {}", d.path, d.message))
        .collect()
}

/// The first problem (errors before warnings) reported for exactly `path`.
pub fn diag_for<'a>(diags: &'a [Diagnostic], path: &str) -> Option<&'a Diagnostic> {
    diags
        .iter()
        .filter(|d| d.path == path)
        .min_by_key(|d| d.severity)
}
