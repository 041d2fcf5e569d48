//! `kubeadm init` on the first control plane (refused when the cluster's endpoint
//! already answers with its CA: that would be a second cluster), then the API server
//! ready and the bootstrap token in place for the joins.

use super::super::steps::Steps;
use super::super::HostSteps;
use super::{ADMIN_CONF, Builder, PhaseDef};
use crate::files::Purpose;
use crate::render::pki::K8S_PKI_DIR;
use crate::render::{etcd, kubeadm, lb};
use crate::spec::layout::LbLayout;

pub const PHASE: PhaseDef = PhaseDef::on_hosts("first-control-plane", "First control plane", steps).with_pki();

fn steps(b: &Builder) -> Vec<HostSteps> {
    let first = b.layout.first_control_plane();
    let mut s = Steps::new(PHASE.id, first.name.as_str());
    b.uploads(&mut s, Purpose::Kubeadm);
    // A restore with stacked etcd: the first control plane's etcd starts from the
    // snapshot as a one-member cluster, which the others join; kubeadm is told that
    // the data directory it finds full is meant to be.
    let mut ignore = "";
    if let Some(restore) = b.restore
        && b.layout.etcd.is_empty()
    {
        let member = format!("{}={}", first.name, etcd::peer_url(first.address));
        super::etcd::restore_data(&mut s, restore, first, &member);
        ignore = " --ignore-preflight-errors=DirAvailable--var-lib-etcd";
    }
    // Never a second cluster: when the endpoint already answers with this cluster's CA,
    // a control plane runs it, and this host (one that was not the first, listed first
    // now) must join instead.
    let url = b.layout.api_url();
    s.run(
        "init",
        "kubeadm init",
        format!(
            "test -f {ADMIN_CONF} -a -f /etc/kubernetes/manifests/kube-apiserver.yaml || {{ if KUBECONFIG=/dev/null kubectl --server={url} --certificate-authority={K8S_PKI_DIR}/ca.crt --request-timeout=5s get --raw /readyz >/dev/null 2>&1; then echo 'the cluster already answers at {url}, so kubeadm init here would start a second one: the first control plane of the preset must be one that runs the cluster' >&2; exit 1; fi; kubeadm init --config {} --skip-token-print{ignore}; }}",
            kubeadm::INIT_CONFIG
        ),
        900,
    )
    .unit = Some("kubelet");
    s.wait(
        "ready",
        "wait until the API server is ready",
        format!("kubectl --kubeconfig {ADMIN_CONF} get --raw /readyz"),
        300,
    )
    .unit = Some("kubelet");
    super::join::etcd_servers(b, &mut s, first);
    if !b.layout.etcd.is_empty() {
        // kubeadm join and upgrade read the cluster's configuration from there: a new
        // control plane or an upgrade then keeps the etcd hosts as they are now.
        s.run(
            "upload-config",
            "store the cluster's configuration, with its etcd hosts, in the kubeadm-config ConfigMap",
            format!(
                "echo 'etcd hosts: {}'; kubeadm init phase upload-config kubeadm --config {} --kubeconfig {ADMIN_CONF}",
                etcd::client_urls(&b.layout.etcd),
                kubeadm::INIT_CONFIG
            ),
            120,
        );
    }
    if let LbLayout::KubeVip { .. } = b.layout.lb {
        s.run(
            "kube-vip-admin",
            "switch kube-vip from super-admin.conf to admin.conf",
            format!(
                "sed -i 's#{}#{}#' {}",
                lb::SUPER_ADMIN_CONF,
                lb::ADMIN_CONF,
                lb::KUBE_VIP_MANIFEST
            ),
            30,
        );
    }
    // A check that runs on every apply, never skipped as done before: the token lives
    // 24 h and is gone when hosts are added later, so it is made again then.
    s.wait(
        "token",
        "make sure the bootstrap token exists (it lives 24 h)",
        // The token is read from the uploaded configuration so it never appears in a
        // command line, the plan or the log.
        format!(
            "t=$(awk '$1 == \"token:\" || $2 == \"token:\" {{ print $NF; exit }}' {init} | tr -d \"\\\"'\"); \
kubeadm token list --kubeconfig {ADMIN_CONF} | awk '{{print $1}}' | grep -qx \"$t\" || kubeadm token create --kubeconfig {ADMIN_CONF} \"$t\"",
            init = kubeadm::INIT_CONFIG
        ),
        60,
    );
    vec![s.done()]
}
