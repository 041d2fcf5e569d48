//! `kubewiz certs renew`: the leaf certificates issued again from the kept CAs, saved
//! in the state directory, then placed by a plan (`plan::certs`) that the runner runs
//! like an install: line output, an audit log of kind `certs-renew`, a journal. A
//! renewal that did not finish is continued by running `certs renew` again.

use std::path::Path;
use std::process::ExitCode;

use super::apply::confirm;
use super::prepare;
use super::{EXIT_FAILED, EXIT_OK};
use crate::audit::RunKind;
use crate::day2::certs::{self, Choice};
use crate::launch;

/// What `kubewiz certs renew` was asked to do.
pub struct RenewArgs<'a> {
    pub preset: &'a Path,
    pub names: &'a [String],
    pub yes: bool,
    pub dry_run: bool,
    pub syslog: bool,
}

pub fn run(state_dir: Option<&Path>, args: RenewArgs<'_>) -> ExitCode {
    if let Err(code) = prepare::can_ask("certs renew changes the hosts and", args.yes, args.dry_run)
    {
        return code;
    }
    let (spec, preset_text, cluster) = match prepare::load_cluster(state_dir, args.preset) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let layout = match prepare::layout(&spec) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let pki_dir = cluster.pki_dir();
    // Only read: what needs renewing is renewed below, and a dry run saves nothing.
    let mut pki = match prepare::read_kept(&cluster, &layout) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let _lock = match super::here::lock(&cluster, RunKind::CertsRenew, args.dry_run) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let choice = match certs::choose(&cluster, &layout, args.names) {
        Ok(c) => c,
        Err(refused) => return prepare::refused(refused),
    };
    let question = match &choice {
        // A dry run shows the continuation too, saving nothing.
        Choice::Continue(kept) => {
            eprintln!(
                "kubewiz: continuing the unfinished renewal of {} certificate(s) listed in {}",
                kept.len(),
                pki_dir.join("renewal").display()
            );
            if !args.names.is_empty() {
                eprintln!(
                    "kubewiz: the names given are not used until it finishes: {}",
                    args.names.join(" ")
                );
            }
            "Continue it?".to_owned()
        }
        Choice::Renew(profiles) => format!(
            "Renew {} certificate(s) of cluster {} from its kept CAs and restart what reads them, one host at a time?",
            profiles.len(),
            spec.name
        ),
    };
    if !args.dry_run && !args.yes && !confirm(&question) {
        eprintln!("kubewiz: nothing was done");
        return ExitCode::from(EXIT_FAILED);
    }
    let renewed = match certs::issue(choice, &mut pki, &layout, &cluster, !args.dry_run) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kubewiz: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let plan = match certs::plan(
        &layout,
        &pki,
        &cluster,
        &renewed,
        &crate::kvm::connect_uri(),
    ) {
        Ok((plan, _)) => plan,
        Err(e) => {
            eprintln!("kubewiz: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let options = launch::day2_options(
        RunKind::CertsRenew,
        &spec,
        &pki,
        &cluster,
        &preset_text,
        args.dry_run,
    );
    let code = super::here::run_plan(plan, &spec, options, args.dry_run, args.syslog);
    if args.dry_run || code != ExitCode::from(EXIT_OK) {
        if !args.dry_run {
            eprintln!(
                "kubewiz: the renewal did not finish; the renewed certificates are kept, and `kubewiz certs renew --preset {}` continues it",
                args.preset.display()
            );
        }
        return code;
    }
    if let Err(e) = certs::finish(&cluster) {
        eprintln!("kubewiz: the renewal finished, but its record could not be removed: {e}");
        return ExitCode::from(EXIT_FAILED);
    }
    eprintln!(
        "kubewiz: renewed {} certificate(s) of cluster {}",
        renewed.len(),
        spec.name
    );
    code
}
