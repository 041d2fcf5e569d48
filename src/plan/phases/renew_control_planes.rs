//! `kubewiz certs renew`, second: the control planes, one at a time, so with more than
//! one the API keeps answering through the others. Each gets its renewed certificates
//! and kubeconfigs, then its static Pods restart the way kubeadm's documentation says:
//! each manifest moved out of the kubelet's sight until the Pod stopped, then put back
//! (etcd first when it is stacked, then the API server, the controller manager and the
//! scheduler); the host's turn ends when its API server is ready with the new
//! certificates.

use std::net::SocketAddr;

use super::super::steps::Steps;
use super::super::{Action, Blob, HostSteps};
use super::{ADMIN_CONF, Builder, PhaseDef};
use crate::files::Purpose;
use crate::spec::HostSpec;
use crate::spec::layout::API_SERVER_PORT;

pub const PHASE: PhaseDef = PhaseDef::on_hosts(
    "certs-control-planes",
    "Renew the control planes' certificates",
    steps,
)
.one_at_a_time();

/// Where kubeadm keeps the static Pods' manifests and the kubeconfigs.
const KUBERNETES_DIR: &str = "/etc/kubernetes";

/// How long the kubelet may take to stop a static Pod, and to start it again.
const STOP_SECS: u32 = 120;
const START_SECS: u32 = 180;

fn steps(b: &Builder) -> Vec<HostSteps> {
    let hosts: Vec<_> = b
        .layout
        .control_planes
        .iter()
        .copied()
        .filter(|h| b.renews(h.name.as_str()))
        .collect();
    b.for_hosts(PHASE.id, &hosts, |s, h| control_plane(b, s, h))
}

fn control_plane(b: &Builder, s: &mut Steps, host: &HostSpec) {
    b.uploads(s, Purpose::Pki);
    for (file, pair) in b.renewed_kubeconfigs(host.name.as_str()) {
        let path = format!("{KUBERNETES_DIR}/{file}");
        s.push(
            &format!("kubeconfig:{file}"),
            format!("renew the client certificate of {path}"),
            Action::RenewKubeconfig {
                path,
                cert: Blob::new(&pair.cert_pem),
                key: Blob::new(&pair.key_pem),
            },
            30,
        );
    }
    let mut pods = Vec::new();
    if b.layout.etcd.is_empty() {
        pods.push(("etcd", 2379));
    }
    pods.extend([
        ("kube-apiserver", API_SERVER_PORT),
        ("kube-controller-manager", 10257),
        ("kube-scheduler", 10259),
    ]);
    for (pod, port) in pods {
        s.run(
            &format!("restart:{pod}"),
            format!("restart the static Pod {pod} (its manifest out until it stops, then back)"),
            restart_static_pod(pod, port),
            u64::from(STOP_SECS + START_SECS + 30),
        )
        .unit = Some("kubelet");
    }
    let server = SocketAddr::new(host.address, API_SERVER_PORT);
    s.wait(
        "ready",
        "wait until this host's API server is ready with its new certificate",
        format!("kubectl --kubeconfig {ADMIN_CONF} --server https://{server} get --raw /readyz"),
        300,
    )
    .unit = Some("kubelet");
}

/// Moves the static Pod `pod`'s manifest out of the manifests directory, waits until
/// nothing listens on its `port` (the kubelet stopped it), puts the manifest back and
/// waits until it listens again. A manifest left outside by an interrupted run is put
/// back first, so running it again is safe.
fn restart_static_pod(pod: &str, port: u16) -> String {
    let manifest = format!("{KUBERNETES_DIR}/manifests/{pod}.yaml");
    let aside = format!("{KUBERNETES_DIR}/{pod}.yaml.kubewiz-restart");
    format!(
        "m={manifest}; a={aside}; \
listening() {{ {{ ss -Hltn 2>/dev/null || netstat -ltn 2>/dev/null; }} | awk '{{ print $4 }}' | grep -q ':{port}$'; }}; \
if [ -f \"$a\" ] && [ ! -f \"$m\" ]; then mv \"$a\" \"$m\"; fi; \
if [ ! -f \"$m\" ]; then echo \"no $m: nothing to restart\"; exit 0; fi; \
mv \"$m\" \"$a\"; n=0; \
while listening; do n=$((n+1)); if [ $n -ge {STOP_SECS} ]; then mv \"$a\" \"$m\"; echo \"{pod} still listens on :{port} {STOP_SECS} s after its manifest was moved out: the kubelet did not stop it\" >&2; exit 1; fi; sleep 1; done; \
mv \"$a\" \"$m\"; n=0; \
while ! listening; do n=$((n+1)); if [ $n -ge {START_SECS} ]; then echo \"{pod} does not listen on :{port} {START_SECS} s after its manifest was put back\" >&2; exit 1; fi; sleep 1; done; \
echo \"{pod} restarted\""
    )
}
