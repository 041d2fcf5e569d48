//! The record of every run: the audit log written as the run goes, and the redaction
//! of secrets before anything is written or shown.

mod log;

pub use crate::exec::redact::{REDACTED, Redactor};
pub use log::{AuditLog, operator};
