//! `kubewiz validate FILE... [--json]`

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{EXIT_FAILED, EXIT_OK};
use crate::spec::{self, Diagnostic, LoadError, Position, Severity, SourceMap};

/// Validates each file; prints one line per problem on stdout (text, or one JSON
/// object each with `json`) and a summary on stderr.
pub fn run(files: &[PathBuf], json: bool) -> ExitCode {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let colour = super::colour::stdout();
    let (mut errors, mut warnings) = (0, 0);
    // A reader that stops early (`| head`) closes the pipe: the counting goes on, the
    // printing stops, and the exit code still says whether the presets are valid.
    let mut out = std::io::stdout().lock();
    let mut open = true;
    for file in files {
        let (text, diagnostics) = diagnostics_of(file, home.as_deref());
        for problem in placed(&file.display().to_string(), &text, &diagnostics) {
            match problem.severity {
                Severity::Error => errors += 1,
                Severity::Warning => warnings += 1,
            }
            let line = if json {
                problem.json()
            } else {
                problem.line(colour)
            };
            open = open && writeln!(out, "{line}").is_ok();
        }
    }
    eprintln!(
        "kubewiz validate: {} file(s), {errors} error(s), {warnings} warning(s)",
        files.len()
    );
    ExitCode::from(if errors > 0 { EXIT_FAILED } else { EXIT_OK })
}

/// One problem placed in its file.
struct Problem {
    file: String,
    at: Position,
    severity: Severity,
    path: String,
    message: String,
}

impl Problem {
    /// The report line, its severity coloured when asked.
    fn line(&self, colour: bool) -> String {
        let word = self.severity.to_string();
        let severity = match (colour, self.severity) {
            (false, _) => word,
            (true, Severity::Error) => super::colour::red(&word),
            (true, Severity::Warning) => super::colour::yellow(&word),
        };
        format!(
            "{}:{}: {severity}: {}: {}",
            self.file, self.at, self.path, self.message
        )
    }

    /// The same content as the line, as one JSON object.
    fn json(&self) -> String {
        serde_json::json!({
            "file": self.file,
            "line": self.at.line,
            "column": self.at.column,
            "severity": self.severity.to_string(),
            "path": self.path,
            "message": self.message,
        })
        .to_string()
    }
}

/// Every problem of one file, as report lines in the order they stand in the file.
pub fn check_file(file: &Path, home: Option<&Path>) -> Vec<(Severity, String)> {
    let (text, diagnostics) = diagnostics_of(file, home);
    report_lines(&file.display().to_string(), &text, &diagnostics)
}

fn diagnostics_of(file: &Path, home: Option<&Path>) -> (String, Vec<Diagnostic>) {
    match spec::load_file(file) {
        Ok(preset) => {
            let mut diagnostics = spec::validate::validate(&preset.spec);
            diagnostics.extend(spec::validate::check_local(&preset.spec, home));
            (preset.text, diagnostics)
        }
        Err(LoadError::Invalid { text, diagnostics }) => (text, diagnostics),
        Err(LoadError::Read { error, .. }) => {
            let d = Diagnostic::error("preset", format!("cannot read the file: {error}"));
            (String::new(), vec![d])
        }
    }
}

/// `FILE:LINE:COL: severity: PATH: message`, sorted by position (stable for equal ones).
pub fn report_lines(file: &str, text: &str, diagnostics: &[Diagnostic]) -> Vec<(Severity, String)> {
    placed(file, text, diagnostics)
        .into_iter()
        .map(|p| (p.severity, p.line(false)))
        .collect()
}

fn placed(file: &str, text: &str, diagnostics: &[Diagnostic]) -> Vec<Problem> {
    let map = SourceMap::new(text);
    let mut placed: Vec<Problem> = diagnostics
        .iter()
        .map(|d| Problem {
            file: file.to_owned(),
            at: match &d.span {
                Some(span) => map.position_of(span.start),
                None => map.locate(&d.path),
            },
            severity: d.severity,
            path: d.path.clone(),
            message: d.message.clone(),
        })
        .collect();
    placed.sort_by_key(|p| p.at);
    placed
}
