//! kubewiz's own diagnostics: `tracing` events written to a daily file in the state
//! directory (`kubewiz-diagnostics.log.<date>`), at the level of `--log-level` or
//! `KUBEWIZ_LOG`. Nothing of it goes to the screen (the wizard owns it) or into the
//! audit log (that is the record of the run, not of kubewiz).

use std::path::{Path, PathBuf};

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// The diagnostics file's name before its date.
pub const FILE: &str = "kubewiz-diagnostics.log";

/// The level asked for in this process, for the processes it starts (the engine).
static LEVEL: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The level diagnostics were started at in this process, if any.
pub fn level() -> Option<&'static str> {
    LEVEL.get().map(String::as_str)
}

/// Keeps the writer running; drop it last so the final lines reach the file.
pub struct Diagnostics {
    _guard: WorkerGuard,
    pub file: PathBuf,
}

/// Starts diagnostics when `level` (or `KUBEWIZ_LOG`) asks for them; `Ok(None)` when
/// nothing asked. `dir` is made (0700) when missing.
pub fn init(dir: &Path, level: Option<&str>) -> Result<Option<Diagnostics>, String> {
    let wanted = level
        .map(str::to_owned)
        .or_else(|| std::env::var("KUBEWIZ_LOG").ok())
        .filter(|l| !l.trim().is_empty());
    let Some(wanted) = wanted else {
        return Ok(None);
    };
    let filter = EnvFilter::try_new(&wanted).map_err(|e| {
        format!("the log level {wanted:?} is not one of error, warn, info, debug, trace (or a tracing filter): {e}")
    })?;
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| {
                format!(
                    "cannot make {} for the diagnostics file: {e}; give another --state-dir",
                    dir.display()
                )
            })?;
    }
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix(FILE)
        .max_log_files(7)
        .build(dir)
        .map_err(|e| {
            format!(
                "cannot open the diagnostics file in {}: {e}; give another --state-dir",
                dir.display()
            )
        })?;
    let (writer, guard) = tracing_appender::non_blocking(appender);
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init()
        .map_err(|e| format!("cannot start diagnostics: {e}"))?;
    let _ = LEVEL.set(wanted);
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "kubewiz started");
    Ok(Some(Diagnostics {
        _guard: guard,
        file: dir.join(FILE),
    }))
}
