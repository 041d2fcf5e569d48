//! `kubewiz upgrade` of a cluster with external etcd whose new bundle carries another
//! etcd: before `kubeadm upgrade apply` (kubeadm leaves external etcd to the operator,
//! to be upgraded first), each member in turn gets the new etcd and etcdctl, is
//! restarted, and must answer healthy with the new version, and every member healthy,
//! before the next one's turn: quorum holds throughout.

use super::super::steps::Steps;
use super::super::{Action, BundlePick, HostSteps};
use super::etcd_members;
use super::{BUNDLE_TARGET, Builder, PhaseDef};
use crate::render::etcd;
use crate::spec::HostSpec;

pub const PHASE: PhaseDef =
    PhaseDef::on_hosts("upgrade-etcd", "Upgrade the external etcd members", steps).one_at_a_time();

fn steps(b: &Builder) -> Vec<HostSteps> {
    let Some(up) = b.upgrade else {
        return Vec::new();
    };
    let (Some(version), Some(bin)) = (&up.etcd, &up.bundle) else {
        return Vec::new();
    };
    b.for_hosts(PHASE.id, &b.layout.etcd, |s, h| {
        member(b, s, h, bin, version);
    })
}

fn member(b: &Builder, s: &mut Steps, h: &HostSpec, bin: &std::path::Path, version: &str) {
    s.push(
        "install",
        format!("replace etcd and etcdctl with the new bundle's (etcd {version})"),
        Action::UploadBundle {
            fingerprint: crate::plan::bundle_fingerprint(bin),
            from: bin.to_path_buf(),
            to: BUNDLE_TARGET.into(),
            pick: BundlePick::Only(vec!["etcd".into(), "etcdctl".into()]),
            mode: 0o755,
        },
        300,
    );
    s.run(
        "restart",
        "restart etcd with the new program",
        "systemctl restart etcd",
        120,
    )
    .unit = Some("etcd");
    let Some(access) = etcd_members::access(b.layout, "") else {
        return;
    };
    let mine = access.etcdctl(&etcd::client_url(h.address));
    s.wait(
        "version",
        format!("{} answers healthy, running etcd {version}", h.name),
        format!(
            "{mine} endpoint health && s=$({mine} endpoint status -w simple) && echo \"$s\" && case \"$s\" in *\", {version}, \"*) ;; *) echo 'etcd does not run {version} yet' >&2; exit 1;; esac"
        ),
        120,
    )
    .unit = Some("etcd");
    super::etcd::wait_healthy(b, s);
}
