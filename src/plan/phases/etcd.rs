//! External etcd: the members get etcd (from the bundle or the package repository),
//! their unit and certificates, start, and wait until every member is healthy.

use super::super::steps::Steps;
use super::super::{Action, BundlePick, HostSteps, Restore};
use super::{BUNDLE_TARGET, Builder, PhaseDef, empty_dirs, stop_units};
use crate::files::Purpose;
use crate::render::etcd;
use crate::render::pki::ETCD_PKI_DIR;
use crate::shell::quote;
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
        "start etcd: with the others at once in a new cluster, or joining the running one as a new member",
        start_command(b, h),
        180,
    )
    .unit = Some("etcd");
    wait_healthy(b, s);
}

/// Starts etcd on member `h`. A member with data runs on (started when it is not).
/// One without data first asks the other members whether a cluster already runs: when
/// none answers, this is a new cluster and every member starts at once with the
/// rendered settings; when one does, `h` is a member added to a running cluster, and
/// under an etcd lock (so two new members join one after the other) it is added with
/// `etcdctl member add`, then started with the cluster as it is and `existing`.
fn start_command(b: &Builder, h: &HostSpec) -> String {
    let data = etcd::DATA_DIR;
    let start = "systemctl daemon-reload && systemctl enable etcd && systemctl restart etcd";
    let others: Vec<String> = b
        .layout
        .etcd
        .iter()
        .filter(|m| m.name != h.name)
        .map(|m| etcd::client_url(m.address))
        .collect();
    let names: Vec<String> = b
        .layout
        .etcd
        .iter()
        .map(|m| format!("{}={}", etcd::peer_url(m.address), m.name))
        .collect();
    let tls = format!(
        "--cacert={ETCD_PKI_DIR}/ca.crt --cert={ETCD_PKI_DIR}/healthcheck-client.crt --key={ETCD_PKI_DIR}/healthcheck-client.key"
    );
    let peer = etcd::peer_url(h.address);
    let name = &h.name;
    let join_env = etcd::JOIN_ENV_FILE;
    // Run under `etcdctl lock` with $RUNNING set; the cluster's members as
    // `name=peer`, unstarted ones named from the preset.
    let join = format!(
        "set -e; e=\"etcdctl --endpoints=$RUNNING {tls} --command-timeout=10s\"; \
if ! $e member list -w simple | awk -F', ' '$4 == \"{peer}\"' | grep -q .; then $e member add {name} --peer-urls={peer}; fi; \
initial=$($e member list -w simple | awk -F', ' -v names='{names}' 'BEGIN {{ n = split(names, kv, \" \"); for (i = 1; i <= n; i++) {{ split(kv[i], p, \"=\"); name[p[1]] = p[2] }} }} {{ m = $3; if (m == \"\") m = name[$4]; if (m == \"\") {{ print \"member \" $1 \" (\" $4 \") is unstarted and no etcd host of the preset: remove it with etcdctl member remove \" $1 > \"/dev/stderr\"; exit 1 }} out = out sep m \"=\" $4; sep = \",\" }} END {{ print out }}'); \
printf 'ETCD_INITIAL_CLUSTER=%s\\nETCD_INITIAL_CLUSTER_STATE=existing\\n' \"$initial\" > {join_env}; \
echo \"joining etcd as {name}: $initial\"; {start}",
        names = names.join(" "),
    );
    format!(
        "if [ -d {data}/member ]; then systemctl daemon-reload; systemctl enable etcd; systemctl is-active --quiet etcd || systemctl restart etcd; exit 0; fi; \
running=; for ep in {others}; do if ETCDCTL_API=3 etcdctl --endpoints=$ep {tls} --dial-timeout=2s --command-timeout=3s endpoint health >/dev/null 2>&1; then running=$ep; break; fi; done; \
if [ -z \"$running\" ]; then rm -f {join_env}; {start}; exit $?; fi; \
echo \"etcd runs at $running: {name} joins it as a new member\"; \
RUNNING=$running ETCDCTL_API=3 etcdctl --endpoints=$running {tls} lock kubewiz-etcd-join -- sh -c {join}",
        others = others.join(" "),
        join = quote(&join),
    )
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
pub(super) fn wait_healthy(b: &Builder, s: &mut Steps) {
    s.wait(
        "healthy",
        "wait until every etcd member is healthy",
        format!(
            "ETCDCTL_API=3 etcdctl --endpoints={} --cacert={ETCD_PKI_DIR}/ca.crt --cert={ETCD_PKI_DIR}/healthcheck-client.crt --key={ETCD_PKI_DIR}/healthcheck-client.key endpoint health",
            etcd::client_urls(&b.layout.etcd)
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
    s.run(
        "etcd",
        "stop and disable etcd",
        format!(
            "{}; rm -f {}",
            stop_units(&["etcd"]),
            etcd::JOIN_ENV_FILE
        ),
        120,
    );
    if b.reset.delete_data {
        s.run(
            "etcd-data",
            format!("delete etcd's data ({})", etcd::DATA_DIR),
            empty_dirs(&[etcd::DATA_DIR]),
            120,
        );
    }
}
