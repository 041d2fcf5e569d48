//! `kubewiz backup`: an etcd snapshot taken on one host (external etcd's first member
//! that answers over SSH, or the first such control plane of stacked etcd) from the
//! first member that answers healthy, checked with `snapshot status`, copied to the KVM host and deleted from
//! the host (it holds every Secret of the cluster).

use super::super::steps::Steps;
use super::super::{Action, HostSteps};
use super::{Builder, PhaseDef};
use crate::render::etcd;
use crate::render::pki::{ETCD_PKI_DIR, K8S_PKI_DIR};
use crate::spec::HostSpec;
use crate::spec::layout::Layout;

pub const PHASE: PhaseDef = PhaseDef::on_hosts("backup-etcd", "Take an etcd snapshot", steps);

/// Where the snapshot is made on the host, private to root, until it is copied.
const SNAPSHOT_ON_HOST: &str = "/var/lib/kubewiz/backup/snapshot.db";

/// The hosts a backup can take its snapshot on, in the order they are tried: the etcd
/// members, or with stacked etcd the control planes.
pub fn snapshot_hosts<'a>(layout: &Layout<'a>) -> Vec<&'a HostSpec> {
    if layout.etcd.is_empty() {
        layout.control_planes.clone()
    } else {
        layout.etcd.clone()
    }
}

fn steps(b: &Builder) -> Vec<HostSteps> {
    let Some(super::BackupTo { on, sources, .. }) = b.backup else {
        return Vec::new();
    };
    let mut s = Steps::new(PHASE.id, on);
    s.push(
        "ssh",
        "connect over SSH and check the host key",
        Action::Connect,
        30,
    );
    let (members, pki) = if b.layout.etcd.is_empty() {
        (&b.layout.control_planes, format!("{K8S_PKI_DIR}/etcd"))
    } else {
        (&b.layout.etcd, ETCD_PKI_DIR.to_owned())
    };
    let endpoints: Vec<String> = members
        .iter()
        .map(|m| etcd::client_url(m.address))
        .collect();
    let tls = format!(
        "--cacert={pki}/ca.crt --cert={pki}/healthcheck-client.crt --key={pki}/healthcheck-client.key"
    );
    let file = SNAPSHOT_ON_HOST;
    s.run(
        "snapshot",
        "save a snapshot from the first healthy member",
        format!(
            "set -e; command -v etcdctl >/dev/null || {{ echo 'etcdctl is not installed on this host: install etcd-client, or put etcdctl in the bundle' >&2; exit 1; }}; \
umask 077; mkdir -p $(dirname {file}); rm -f {file} {file}.part; \
for ep in {}; do \
if ETCDCTL_API=3 etcdctl --endpoints=$ep {tls} --command-timeout=10s endpoint health; then \
ETCDCTL_API=3 etcdctl --endpoints=$ep {tls} snapshot save {file} && break; fi; \
echo \"no snapshot from $ep; trying the next member\" >&2; done; \
test -s {file} || {{ echo 'no member gave a snapshot' >&2; exit 1; }}",
            endpoints.join(" ")
        ),
        600,
    )
    .unit = Some("etcd");
    s.run(
        "status",
        "check the snapshot (hash, revision, keys)",
        format!(
            "if command -v etcdutl >/dev/null; then etcdutl snapshot status {file} -w table; else ETCDCTL_API=3 etcdctl snapshot status {file} -w table; fi"
        ),
        120,
    );
    s.push(
        "fetch",
        "copy the snapshot to the KVM host",
        Action::Fetch {
            path: file.into(),
            to: sources.snapshot.clone(),
            mode: 0o600,
        },
        900,
    );
    s.run(
        "clean",
        "delete the snapshot from the host",
        format!("rm -f {file}"),
        60,
    );
    vec![s.done()]
}
