//! Which host receives which part of the PKI, at kubeadm's paths.
//!
//! Control planes get the three CAs with their keys (so kubeadm stays in its normal,
//! non-external-CA mode), the service-account pair and their own leaves; with external
//! etcd they get the etcd CA certificate and the shared apiserver-etcd-client instead
//! of the etcd member certificates. External etcd members get their server and peer
//! certificates under /etc/etcd/pki. Workers get nothing: they join with the bootstrap
//! token and pin the CA by its hash, and kubeadm refuses to join a worker that already
//! has /etc/kubernetes/pki/ca.crt.

use crate::files::{File, MODE_PRIVATE, MODE_PUBLIC, Purpose};
use crate::pki::profiles::{
    APISERVER, APISERVER_ETCD_CLIENT, APISERVER_KUBELET_CLIENT, Authority, ETCD_HEALTHCHECK_CLIENT,
    ETCD_PEER, ETCD_SERVER, FRONT_PROXY_CLIENT, LeafId,
};
use crate::pki::{CertKey, Pki};
use crate::spec::layout::Layout;

/// kubeadm's certificatesDir.
pub const K8S_PKI_DIR: &str = "/etc/kubernetes/pki";
/// Where an external etcd member keeps its certificates.
pub const ETCD_PKI_DIR: &str = "/etc/etcd/pki";

/// A certificate at `dir/stem.crt` (0644) and, with `with_key`, its key (0600).
fn pair(out: &mut Vec<File>, host: &str, dir: &str, stem: &str, pair: &CertKey, with_key: bool) {
    out.push(File::host(
        Purpose::Pki,
        host,
        format!("{dir}/{stem}.crt"),
        MODE_PUBLIC,
        pair.cert_pem.clone(),
    ));
    if with_key {
        out.push(File::host(
            Purpose::Pki,
            host,
            format!("{dir}/{stem}.key"),
            MODE_PRIVATE,
            pair.key_pem.clone(),
        ));
    }
}

/// Every PKI file for every host, and the operator's kubeconfig.
pub fn files(layout: &Layout, pki: &Pki) -> Vec<File> {
    let mut out = Vec::new();
    let external = !layout.etcd.is_empty();
    for cp in &layout.control_planes {
        let host = cp.name.as_str();
        let mut put = |stem: &str, certificate: &CertKey, with_key: bool| {
            pair(&mut out, host, K8S_PKI_DIR, stem, certificate, with_key)
        };
        put("ca", pki.authority(Authority::Kubernetes), true);
        put("front-proxy-ca", pki.authority(Authority::FrontProxy), true);
        put("etcd/ca", pki.authority(Authority::Etcd), !external);
        for name in [APISERVER, APISERVER_KUBELET_CLIENT, FRONT_PROXY_CLIENT] {
            put(name, pki.leaf(&LeafId::of_host(host, name)), true);
        }
        if external {
            put(
                APISERVER_ETCD_CLIENT,
                pki.leaf(&LeafId::cluster(APISERVER_ETCD_CLIENT)),
                true,
            );
        } else {
            for name in [
                ETCD_SERVER,
                ETCD_PEER,
                ETCD_HEALTHCHECK_CLIENT,
                APISERVER_ETCD_CLIENT,
            ] {
                put(name, pki.leaf(&LeafId::of_host(host, name)), true);
            }
        }
        let sa = &pki.service_account;
        out.push(File::host(
            Purpose::Pki,
            host,
            format!("{K8S_PKI_DIR}/sa.key"),
            MODE_PRIVATE,
            sa.key_pem.clone(),
        ));
        // kubeadm writes sa.pub with its key writer: 0600.
        out.push(File::host(
            Purpose::Pki,
            host,
            format!("{K8S_PKI_DIR}/sa.pub"),
            MODE_PRIVATE,
            sa.pub_pem.clone(),
        ));
    }
    for member in &layout.etcd {
        let host = member.name.as_str();
        let mut put = |stem: &str, certificate: &CertKey, with_key: bool| {
            pair(&mut out, host, ETCD_PKI_DIR, stem, certificate, with_key)
        };
        put("ca", pki.authority(Authority::Etcd), false);
        put(
            "server",
            pki.leaf(&LeafId::of_host(host, ETCD_SERVER)),
            true,
        );
        put("peer", pki.leaf(&LeafId::of_host(host, ETCD_PEER)), true);
        put(
            "healthcheck-client",
            pki.leaf(&LeafId::cluster(ETCD_HEALTHCHECK_CLIENT)),
            true,
        );
    }
    out.push(File::local(
        "admin.conf",
        MODE_PRIVATE,
        pki.admin_kubeconfig(layout),
    ));
    out
}
