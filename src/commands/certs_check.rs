//! `kubewiz certs check`: every certificate of the cluster, kept in the state directory
//! and placed on the hosts, with its expiry, its signer and whether the host's copy is
//! the kept one (`day2::certs_check`). Nothing is changed. Exit 1 on any warning or
//! error, so cron mails the operator.

use std::path::Path;
use std::process::ExitCode;

use super::prepare;
use super::{EXIT_FAILED, EXIT_OK};
use crate::day2::certs_check::{self, Severity};

pub fn run(state_dir: Option<&Path>, preset: &Path) -> ExitCode {
    let (spec, _, cluster) = match prepare::load_cluster(state_dir, preset) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let report = match certs_check::check(&spec, &cluster) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kubewiz: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    for line in report.lines() {
        println!("{line}");
    }
    println!("{}", report.summary());
    if report.due() {
        println!(
            "renew with: kubewiz certs renew --preset {}",
            preset.display()
        );
    }
    if report.worst() > Severity::Ok {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::from(EXIT_OK)
    }
}
