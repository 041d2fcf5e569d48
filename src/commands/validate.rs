//! `kubewiz validate FILE...`

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{EXIT_FAILED, EXIT_OK};
use crate::spec::{self, Diagnostic, LoadError, Severity, SourceMap};

/// Validates each file; prints one line per problem on stdout and a summary on stderr.
pub fn run(files: &[PathBuf]) -> ExitCode {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let (mut errors, mut warnings) = (0, 0);
    for file in files {
        let lines = check_file(file, home.as_deref());
        for (severity, line) in &lines {
            match severity {
                Severity::Error => errors += 1,
                Severity::Warning => warnings += 1,
            }
            println!("{line}");
        }
    }
    eprintln!(
        "kubewiz validate: {} file(s), {errors} error(s), {warnings} warning(s)",
        files.len()
    );
    ExitCode::from(if errors > 0 { EXIT_FAILED } else { EXIT_OK })
}

/// Every problem of one file, as report lines in the order they stand in the file.
pub fn check_file(file: &Path, home: Option<&Path>) -> Vec<(Severity, String)> {
    let (text, diagnostics) = match spec::load_file(file) {
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
    };
    report_lines(&file.display().to_string(), &text, &diagnostics)
}

/// `FILE:LINE:COL: severity: PATH: message`, sorted by position (stable for equal ones).
pub fn report_lines(file: &str, text: &str, diagnostics: &[Diagnostic]) -> Vec<(Severity, String)> {
    let map = SourceMap::new(text);
    let mut placed: Vec<_> = diagnostics
        .iter()
        .map(|d| {
            let at = match &d.span {
                Some(span) => map.position_of(span.start),
                None => map.locate(&d.path),
            };
            (at, d)
        })
        .collect();
    placed.sort_by_key(|(at, _)| *at);
    placed
        .into_iter()
        .map(|(at, d)| (d.severity, format!("{file}:{at}: {d}")))
        .collect()
}
