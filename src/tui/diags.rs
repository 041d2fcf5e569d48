//! Which validation problems a screen shows: the errors that stop Next and the one
//! problem marked on a field. Shared by the screens and the forms they are built from.

use crate::spec::Diagnostic;

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
