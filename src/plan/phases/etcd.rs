//! External etcd: the members get etcd (from the bundle or the package repository),
//! their unit and certificates, start, and wait until every member is healthy.

use super::super::steps::Steps;
use super::super::{Action, BundlePick, HostSteps, Restore};
use super::{BUNDLE_TARGET, Builder, PhaseDef, empty_dirs, stop_units};
use crate::files::Purpose;
use crate::render::etcd;
use crate::render::pki::ETCD_PKI_DIR;
use crate::spec::{HostSpec, PackageSource};

pub const PHASE: PhaseDef = PhaseDef::on_hosts("etcd", "External etcd", steps).with_pki();

fn steps(b: &Builder) -> Vec<HostSteps> {
    b.for_hosts(PHASE.id, &b.layout.etcd, |s, h| member(b, s, h))
}

fn member(b: &Builder, s: &mut Steps, h: &HostSpec) {
    match &b.layout.spec.packages.bundle_dir {
        // The unit runs the bundle's etcd (render::etcd), as air-gapped hosts have no
        // package repository to install it from.
        Some(dir) if b.layout.spec.packages.source == PackageSource::Bundle => {
            let from = dir.join("bin");
            s.push(
                "install",
                "install etcd and etcdctl from the bundle",
                Action::UploadBundle {
                    fingerprint: crate::plan::bundle_fingerprint(&from),
                    from,
                    to: BUNDLE_TARGET.into(),
                    pick: BundlePick::Only(vec!["etcd".into(), "etcdctl".into()]),
                    mode: 0o755,
                },
                300,
            );
        }
        _ => {
            s.run(
                "install",
                "install etcd",
                "command -v etcd >/dev/null || { if command -v apt-get >/dev/null; then DEBIAN_FRONTEND=noninteractive apt-get install -y -q etcd-server etcd-client; else dnf install -y etcd; fi; }",
                600,
            );
        }
    }
    b.uploads(s, Purpose::Etcd);
    if let Some(restore) = b.restore {
        let initial_cluster: Vec<String> = b
            .layout
            .etcd
            .iter()
            .map(|m| format!("{}={}", m.name, etcd::peer_url(m.address)))
            .collect();
        restore_data(s, restore, h, &initial_cluster.join(","));
    }
    s.run(
        "start",
        "start etcd",
        "systemctl daemon-reload && systemctl enable etcd && systemctl restart etcd",
        120,
    )
    .unit = Some("etcd");
    wait_healthy(b, s);
}

/// Where a restore puts the snapshot on a host, private to root, until it is restored.
const RESTORE_SNAPSHOT: &str = "/var/lib/kubewiz/restore/snapshot.db";

/// On `kubewiz restore`, before etcd first starts on `h`: the backup's snapshot put on
/// the host and restored into etcd's data directory as member `h` of
/// `initial_cluster`, with the restore's new cluster token. A data directory restored
/// from this snapshot before is left as it is; one holding other data is refused
/// (restore onto hosts reset with their data deleted).
pub(super) fn restore_data(s: &mut Steps, restore: &Restore, h: &HostSpec, initial_cluster: &str) {
    s.push(
        "put-snapshot",
        "put the backup's etcd snapshot on the host",
        Action::PutFile {
            from: restore.snapshot.clone(),
            to: RESTORE_SNAPSHOT.into(),
            mode: 0o600,
            sha256: restore.sha256.clone(),
        },
        900,
    );
    let data = etcd::DATA_DIR;
    let marker = format!(
        "{data}/.kubewiz-restored-{}",
        &restore.sha256[..16.min(restore.sha256.len())]
    );
    let flags = format!(
        "--name {} --initial-cluster {initial_cluster} --initial-cluster-token {} --initial-advertise-peer-urls {} --data-dir {data}.restoring",
        h.name,
        restore.token,
        etcd::peer_url(h.address)
    );
    s.run(
        "restore",
        format!("restore etcd's data from the snapshot into {data}"),
        format!(
            "set -e; f={RESTORE_SNAPSHOT}; if [ -f {marker} ]; then echo 'etcd data restored from this snapshot before: kept'; rm -f $f; exit 0; fi; if [ -d {data}/member ]; then echo '{data} already holds etcd data: restore onto hosts reset with their data deleted (kubewiz reset --preset FILE)' >&2; exit 1; fi; if command -v etcdutl >/dev/null; then tool=etcdutl; elif command -v etcdctl >/dev/null; then tool='env ETCDCTL_API=3 etcdctl'; else echo 'neither etcdutl nor etcdctl is installed on this host: install etcd-client, or put etcdctl in the bundle' >&2; exit 1; fi; rm -rf {data}.restoring; $tool snapshot restore $f {flags}; mkdir -p {data}; chmod 0700 {data}; mv {data}.restoring/member {data}/member; rmdir {data}.restoring; touch {marker}; rm -f $f"
        ),
        600,
    )
    .unit = Some("etcd");
}

/// Waits until every member answers healthy with the healthcheck client.
fn wait_healthy(b: &Builder, s: &mut Steps) {
    let endpoints: Vec<String> = b
        .layout
        .etcd
        .iter()
        .map(|m| etcd::client_url(m.address))
        .collect();
    s.wait(
        "healthy",
        "wait until every etcd member is healthy",
        format!(
            "ETCDCTL_API=3 etcdctl --endpoints={} --cacert={ETCD_PKI_DIR}/ca.crt --cert={ETCD_PKI_DIR}/healthcheck-client.crt --key={ETCD_PKI_DIR}/healthcheck-client.key endpoint health",
            endpoints.join(",")
        ),
        180,
    )
    .unit = Some("etcd");
}

/// On `kubewiz certs renew`: the member's new certificates, etcd restarted with them,
/// and every member healthy again before the next member's turn.
pub(super) fn renew(b: &Builder, s: &mut Steps) {
    b.uploads(s, Purpose::Pki);
    s.run(
        "restart",
        "restart etcd with its new certificates",
        "systemctl restart etcd",
        120,
    )
    .unit = Some("etcd");
    wait_healthy(b, s);
}

/// Undoes the member on `kubewiz reset`: etcd stopped and disabled, its data deleted
/// when agreed.
pub(super) fn reset(b: &Builder, s: &mut Steps) {
    s.run("etcd", "stop and disable etcd", stop_units(&["etcd"]), 120);
    if b.reset.delete_data {
        s.run(
            "etcd-data",
            format!("delete etcd's data ({})", etcd::DATA_DIR),
            empty_dirs(&[etcd::DATA_DIR]),
            120,
        );
    }
}
