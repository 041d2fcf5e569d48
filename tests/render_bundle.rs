//! A bundle install brings its own programs, so kubewiz writes the units that packages
//! would have brought: checked with systemd-analyze, whose only complaint may be that
//! the bundle's programs are not installed on this machine.

use std::fs;
use std::path::Path;
use std::process::Command;

use kubewiz::render::{Layout, Target, node};
use kubewiz::spec::{self, PackageSource};

/// systemd-analyze's complaints about `units` (file name, content) laid out together,
/// with drop-ins in `<unit>.d/`.
fn complaints(units: &[(&str, &str)]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let mut mains = Vec::new();
    for (name, content) in units {
        let path = dir.path().join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, content).unwrap();
        if !name.contains(".d/") {
            mains.push(path);
        }
    }
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .args(&mains)
        .current_dir(dir.path())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn bundle_installs_get_the_kubelet_and_containerd_units() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: systemd-analyze is not installed");
        return;
    }
    let mut spec =
        spec::load_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join("presets/kvm-lab.toml"))
            .unwrap()
            .spec;
    spec.packages.source = PackageSource::Bundle;
    spec.packages.bundle_dir = Some("/srv/bundle".into());
    let layout = Layout::new(&spec).unwrap();
    let files = node::files(&layout);
    let on = |host: &str, path: &str| {
        files
            .iter()
            .find(|f| f.target == Target::Host(host.into()) && f.path == path)
            .map(|f| f.content.as_str())
    };
    for host in ["kubemaster-1", "kubenode-5"] {
        assert!(on(host, node::BUNDLE_KUBELET_UNIT).is_some(), "{host}");
        assert!(
            on(host, node::APT_SOURCE_PATH).is_none(),
            "a bundle install has no package repository"
        );
    }
    assert!(
        on("etcd-1", node::BUNDLE_KUBELET_UNIT).is_none(),
        "etcd hosts run no kubelet"
    );
    let units = [
        (
            "kubelet.service",
            on("kubenode-1", node::BUNDLE_KUBELET_UNIT).unwrap(),
        ),
        (
            "kubelet.service.d/10-kubeadm.conf",
            on("kubenode-1", node::BUNDLE_KUBEADM_DROP_IN).unwrap(),
        ),
        (
            "containerd.service",
            on("kubenode-1", node::BUNDLE_CONTAINERD_UNIT).unwrap(),
        ),
    ];
    let said = complaints(&units);
    let expected = [
        "kubelet.service: Command /usr/local/bin/kubelet is not executable: No such file or directory",
        "containerd.service: Command /usr/local/bin/containerd is not executable: No such file or directory",
    ];
    assert_eq!(
        said, expected,
        "systemd-analyze found more than the absent bundle programs"
    );
    // The drop-in is read: a mistake in it is reported (negative control).
    let broken = units[1].1.replace(
        "EnvironmentFile=-/etc/default/kubelet",
        "EnvironmentFlie=-/etc/default/kubelet",
    );
    let said = complaints(&[
        units[0],
        ("kubelet.service.d/10-kubeadm.conf", &broken),
        units[2],
    ]);
    assert!(
        said.iter().any(|l| l.contains("EnvironmentFlie")),
        "{said:?}"
    );

    // The whole render puts them in the tree and the plan uploads them.
    let plan = bundle_plan(&spec);
    assert!(
        plan.contains("upload /etc/systemd/system/kubelet.service.d/10-kubeadm.conf (0644)"),
        "{plan}"
    );
    // Each node gets the programs its roles run: etcd's go to etcd hosts only, kubectl
    // to the control planes only.
    assert!(
        plan.contains(
            "upload every file of /srv/bundle/bin but etcd, etcdctl, etcdutl to /usr/local/bin (0755)"
        ),
        "{plan}"
    );
    assert!(
        plan.contains(
            "upload every file of /srv/bundle/bin but etcd, etcdctl, etcdutl, kubectl, helm to /usr/local/bin (0755)"
        ),
        "{plan}"
    );
    assert!(
        plan.contains("upload etcd, etcdctl from /srv/bundle/bin to /usr/local/bin (0755)"),
        "{plan}"
    );
}

/// The plan of `spec` (an install from a bundle) as `kubewiz plan` prints it.
fn bundle_plan(spec: &spec::ClusterSpec) -> String {
    let state = tempfile::tempdir().unwrap();
    let cluster = kubewiz::state::ClusterState::new(state.path(), spec.name.as_str());
    kubewiz::generate::generate(spec, &cluster, "test:///default")
        .unwrap()
        .plan
        .to_string()
}

#[test]
fn stacked_control_planes_get_etcdctl_from_the_bundle_for_backups() {
    let mut spec =
        spec::load_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join("presets/stacked-ha.toml"))
            .unwrap()
            .spec;
    spec.packages.source = PackageSource::Bundle;
    spec.packages.bundle_dir = Some("/srv/bundle".into());
    let plan = bundle_plan(&spec);
    // The control planes are etcd's members: etcdctl and etcdutl, not etcd itself
    // (kubeadm runs it as a static Pod); workers get neither.
    assert!(
        plan.contains("upload every file of /srv/bundle/bin but etcd to /usr/local/bin (0755)"),
        "{plan}"
    );
    assert!(
        plan.contains(
            "upload every file of /srv/bundle/bin but etcd, etcdctl, etcdutl, kubectl, helm to /usr/local/bin (0755)"
        ),
        "{plan}"
    );
}
