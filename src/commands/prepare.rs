//! What render, plan and apply share: a valid spec, its PKI, its files and its plan.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{EXIT_FAILED, validate};
use crate::generate::{generate, preview_libvirt};
use crate::pki::Pki;
use crate::plan::Plan;
use crate::render::File;
use crate::spec::layout::Layout;
use crate::spec::{self, ClusterSpec, LoadError, Severity};
use crate::state::{self, ClusterState};

/// Everything generated for one preset.
pub struct Prepared {
    pub spec: ClusterSpec,
    pub files: Vec<File>,
    pub plan: Plan,
    pub state: ClusterState,
    /// The preset text as loaded, saved with an applied run for `kubewiz resume`.
    pub preset_text: String,
    /// The workers this preset adds to the installed cluster (none for a cluster not
    /// installed yet).
    pub added: Vec<String>,
}

/// Loads and validates `preset` (problems go to stderr in `validate`'s format); for a
/// cluster that is installed, refuses a preset that changes more than adding workers
/// before anything is made (`launch::check_growth`); then loads or makes the cluster's
/// PKI (what was made is said on stderr), renders every file and builds the plan, its
/// libvirt network preview read on [`crate::kvm::connect_uri`]. On failure the exit
/// code to return.
pub fn prepare(state_dir: Option<&Path>, preset: &Path) -> Result<Prepared, ExitCode> {
    let (spec, text) = load_valid(preset)?;
    let state_dir = state_dir.map_or_else(state::default_dir, Path::to_path_buf);
    let cluster_state = ClusterState::new(&state_dir, spec.name.as_str());
    let added = crate::launch::check_growth(&spec, &cluster_state).map_err(|e| fail(&e))?;
    let mut generated =
        generate(&spec, &cluster_state, &crate::kvm::connect_uri()).map_err(|e| fail(&e))?;
    preview_libvirt(&spec, &mut generated.plan);
    for notice in &generated.notices {
        eprintln!("kubewiz: {notice}");
    }
    Ok(Prepared {
        spec,
        files: generated.files,
        plan: generated.plan,
        state: cluster_state,
        preset_text: text,
        added,
    })
}

/// Refuses, with the exit code for a usage error, a run that changes the hosts and asks
/// first (`what` does) when there is no terminal to ask on and neither `--yes` nor
/// `--dry-run` was given.
pub fn can_ask(what: &str, yes: bool, dry_run: bool) -> Result<(), ExitCode> {
    if dry_run || yes || std::io::stdin().is_terminal() {
        return Ok(());
    }
    eprintln!(
        "kubewiz: {what} asks first; without a terminal to ask on (cron, a timer), give --yes"
    );
    Err(ExitCode::from(super::EXIT_USAGE))
}

/// [`load_valid`], and the state directory of the preset's cluster in `state_dir`
/// (the default one when None).
pub fn load_cluster(
    state_dir: Option<&Path>,
    preset: &Path,
) -> Result<(ClusterSpec, String, ClusterState), ExitCode> {
    let (spec, text) = load_valid(preset)?;
    let dir = state_dir.map_or_else(state::default_dir, Path::to_path_buf);
    let cluster = ClusterState::new(&dir, spec.name.as_str());
    Ok((spec, text, cluster))
}

/// Loads and validates `preset` (problems go to stderr in `validate`'s format): the
/// spec and the preset's text, or the exit code to return.
pub fn load_valid(preset: &Path) -> Result<(ClusterSpec, String), ExitCode> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let name = preset.display().to_string();
    let loaded = match spec::load_file(preset) {
        Ok(loaded) => loaded,
        Err(LoadError::Invalid { text, diagnostics }) => {
            report(&validate::report_lines(&name, &text, &diagnostics));
            return Err(ExitCode::from(EXIT_FAILED));
        }
        Err(e @ LoadError::Read { .. }) => {
            eprintln!("kubewiz: {e}");
            return Err(ExitCode::from(EXIT_FAILED));
        }
    };
    let mut diagnostics = spec::validate::validate(&loaded.spec);
    diagnostics.extend(spec::validate::check_local(&loaded.spec, home.as_deref()));
    let lines = validate::report_lines(&name, &loaded.text, &diagnostics);
    report(&lines);
    if lines.iter().any(|(s, _)| *s == Severity::Error) {
        eprintln!("kubewiz: {name} is not valid; nothing was generated");
        return Err(ExitCode::from(EXIT_FAILED));
    }
    Ok((loaded.spec, loaded.text))
}

/// The layout of a valid `spec`, or the exit code after saying why not.
pub fn layout(spec: &ClusterSpec) -> Result<Layout<'_>, ExitCode> {
    Layout::new(spec).map_err(|e| fail(&e))
}

/// The cluster's kept PKI in `cluster`, only read (nothing is made or issued), or the
/// exit code after saying why not.
pub fn read_kept(cluster: &ClusterState, layout: &Layout) -> Result<Pki, ExitCode> {
    crate::day2::kept_pki(cluster, layout).map_err(|e| fail(&e))
}

fn report(lines: &[(Severity, String)]) {
    for (_, line) in lines {
        eprintln!("{line}");
    }
}

/// A day-2 operation that cannot be made, said: exit 2 when what was asked is wrong,
/// else 1.
pub fn refused(refused: crate::day2::Refused) -> ExitCode {
    eprintln!("kubewiz: {}", refused.message);
    ExitCode::from(if refused.usage {
        super::EXIT_USAGE
    } else {
        EXIT_FAILED
    })
}

fn fail(message: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("kubewiz: {message}");
    ExitCode::from(EXIT_FAILED)
}
