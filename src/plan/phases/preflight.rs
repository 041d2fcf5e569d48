//! Checks on every host's facts before anything changes (`exec::preflight` evaluates
//! them): cloned machine-ids, clocks, another cluster's CA, CPUs and memory, busy
//! ports, a package manager.

use super::super::{Action, CaDigests, HostNeeds, HostSteps, Preflight};
use super::{Builder, PhaseDef};
use crate::digest::sha256_hex;
use crate::files::Purpose;
use crate::render::pki::{ETCD_PKI_DIR, K8S_PKI_DIR};

pub const PHASE: PhaseDef = PhaseDef::on_hosts("preflight", "Preflight checks", steps);

fn steps(b: &Builder) -> Vec<HostSteps> {
    let ca = ca_digests(b);
    b.every_host(PHASE.id, |s, h| {
        let needs = HostNeeds::of(b.layout, h.name.as_str());
        s.push(
            "checks",
            "preflight checks",
            Action::Preflight(Preflight {
                checks: descriptions(&needs),
                needs,
                ca: ca.clone(),
            }),
            10,
        );
    })
}

/// The digests of this cluster's CA certificates as the hosts receive them (what the
/// facts script reads back from an earlier install).
fn ca_digests(b: &Builder) -> CaDigests {
    let digest = |paths: &[String]| {
        b.files
            .iter()
            .find(|f| f.purpose == Purpose::Pki && paths.contains(&f.path))
            .map(|f| sha256_hex(f.content.as_bytes()))
            .unwrap_or_default()
    };
    CaDigests {
        kubernetes: digest(&[format!("{K8S_PKI_DIR}/ca.crt")]),
        etcd: digest(&[
            format!("{ETCD_PKI_DIR}/ca.crt"),
            format!("{K8S_PKI_DIR}/etcd/ca.crt"),
        ]),
        cluster: b.layout.spec.name.to_string(),
    }
}

/// The checks for one host as the plan shows them: exactly what `exec::preflight`
/// checks for it.
fn descriptions(needs: &HostNeeds) -> Vec<String> {
    let mut checks = vec![
        "machine-id unique across hosts".to_string(),
        "clock within 1 s of the KVM host".to_string(),
        "no other cluster's CA already installed".to_string(),
        "hostname unique across hosts (a warning: prepare sets it)".to_string(),
    ];
    if needs.control_plane {
        checks.push("2 or more CPUs".into());
        checks.push("1700 MB or more memory".into());
    }
    if needs.helm {
        checks.push("helm is installed (cni = cilium)".into());
    }
    if !needs.ports.is_empty() {
        let ports: Vec<String> = needs.ports.iter().map(u16::to_string).collect();
        checks.push(format!("ports {} free", ports.join(", ")));
    }
    if needs.package_manager {
        checks.push("apt-get or dnf present".into());
    }
    checks
}
