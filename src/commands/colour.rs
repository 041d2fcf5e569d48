//! Colour in line output: only on a terminal, never with `NO_COLOR` set
//! (https://no-color.org), so pipes, files and CI logs get plain text.

use std::io::IsTerminal;

/// True when standard output may carry colour.
pub fn stdout() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

pub fn red(text: &str) -> String {
    format!("\x1b[1;31m{text}\x1b[0m")
}

pub fn yellow(text: &str) -> String {
    format!("\x1b[1;33m{text}\x1b[0m")
}
