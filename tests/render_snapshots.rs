//! Snapshots of generated text files whose random parts (the bootstrap token, the CA
//! hash) are masked, so a change in what kubewiz writes shows up as a reviewed diff.

use std::path::Path;

use kubewiz::render::{self, Layout, Target};
use kubewiz::spec;

fn rendered(preset: &str) -> Vec<render::File> {
    let spec = spec::load_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join(preset))
        .unwrap()
        .spec;
    let layout = Layout::new(&spec).unwrap();
    let state = tempfile::tempdir().unwrap();
    let (pki, _) = kubewiz::pki::load_or_create(state.path(), &layout).unwrap();
    render::render(&spec, &pki).unwrap()
}

fn file<'a>(files: &'a [render::File], host: &str, path: &str) -> &'a str {
    &files
        .iter()
        .find(|f| f.target == Target::Host(host.into()) && f.path == path)
        .unwrap_or_else(|| panic!("{host}:{path} not rendered"))
        .content
}

fn masked(name: &str, content: &str) {
    insta::with_settings!({filters => vec![
        (r"token: [a-z0-9]{6}\.[a-z0-9]{16}", "token: <bootstrap token>"),
        (r"sha256:[0-9a-f]{64}", "sha256:<CA public key hash>"),
    ]}, {
        insta::assert_snapshot!(name, content);
    });
}

#[test]
fn kubeadm_configuration_of_kvm_lab() {
    let files = rendered("presets/kvm-lab.toml");
    masked(
        "kvm_lab_kubeadm_init",
        file(&files, "kubemaster-1", render::kubeadm::INIT_CONFIG),
    );
    masked(
        "kvm_lab_kubeadm_join_control_plane",
        file(&files, "kubemaster-2", render::kubeadm::JOIN_CONFIG),
    );
    masked(
        "kvm_lab_kubeadm_join_worker",
        file(&files, "kubenode-1", render::kubeadm::JOIN_CONFIG),
    );
}

#[test]
fn kubeadm_configuration_of_single_node() {
    let files = rendered("presets/single-node.toml");
    masked(
        "single_node_kubeadm_init",
        file(&files, "kube-solo", render::kubeadm::INIT_CONFIG),
    );
}

#[test]
fn external_etcd_member_files() {
    let files = rendered("presets/kvm-lab.toml");
    masked(
        "kvm_lab_etcd_unit",
        file(&files, "etcd-2", render::etcd::UNIT),
    );
    masked(
        "kvm_lab_etcd_env",
        file(&files, "etcd-2", render::etcd::ENV_FILE),
    );
}
