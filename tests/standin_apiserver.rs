//! The API server stand-in must take what a pod network's manifests create, the way the
//! real kubectl sends it (server-side apply, CustomResourceDefinitions, `kubectl wait`),
//! and refuse what the real server refuses, or the lab installs with a CNI would prove
//! nothing. It runs here on this machine, on the real etcd, with certificates made by
//! openssl; requests that kubectl cannot make wrong are sent with curl.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const ETCD: &str = "/opt/kubewiz-test/etcd/bin/etcd";
const KUBECTL: &str = "/opt/kubewiz-test/kubectl/bin/kubectl";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// etcd and the stand-in, stopped when dropped.
struct Server {
    dir: tempfile::TempDir,
    children: Vec<Child>,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn openssl<S: AsRef<std::ffi::OsStr> + std::fmt::Debug>(dir: &Path, args: &[S]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "openssl {args:?}: {out:?}");
}

/// A CA, the serving pair for 127.0.0.1 and an admin client pair (system:masters).
fn certificates(dir: &Path) {
    let req = |key: &str, out: &str, subject: &str| -> Vec<String> {
        [
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            key,
            "-out",
            out,
            "-subj",
            subject,
        ]
        .map(String::from)
        .to_vec()
    };
    let mut ca = req("ca.key", "ca.crt", "/CN=kubernetes");
    ca.extend(["-x509", "-days", "2"].map(String::from));
    openssl(dir, &ca);
    std::fs::write(dir.join("ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    for (name, subject, ext) in [
        ("server", "/CN=kube-apiserver", true),
        ("admin", "/O=system:masters/CN=kubernetes-admin", false),
    ] {
        let (key, csr, crt) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
        );
        openssl(dir, &req(&key, &csr, subject));
        let mut sign = vec![
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-out",
            &crt,
            "-days",
            "2",
            "-set_serial",
            "2",
        ];
        if ext {
            sign.extend(["-extfile", "ext"]);
        }
        openssl(dir, &sign);
    }
}

fn start() -> Server {
    start_with(&[])
}

/// The stand-in with `extra` arguments after the usual ones.
fn start_with(extra: &[&str]) -> Server {
    for tool in [ETCD, KUBECTL] {
        assert!(
            Path::new(tool).is_file(),
            "{tool} is missing: scripts/test.sh installs it"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let d = d.as_path();
    certificates(d);
    let (client, peer, port) = (free_port(), free_port(), free_port());
    let etcd = Command::new(ETCD)
        .arg(format!("--data-dir={}", d.join("etcd").display()))
        .arg(format!("--listen-client-urls=http://127.0.0.1:{client}"))
        .arg(format!("--advertise-client-urls=http://127.0.0.1:{client}"))
        .arg(format!("--listen-peer-urls=http://127.0.0.1:{peer}"))
        .arg(format!(
            "--initial-advertise-peer-urls=http://127.0.0.1:{peer}"
        ))
        .arg(format!("--initial-cluster=default=http://127.0.0.1:{peer}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Server {
        dir,
        children: vec![etcd],
        port,
    };
    let apiserver =
        Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/standins/kube-apiserver"))
            .current_dir(d)
            .args([
                &format!("--etcd-servers=http://127.0.0.1:{client}"),
                "--service-account-issuer=https://kubernetes.default.svc",
                "--service-account-signing-key-file=server.key",
                "--tls-cert-file=server.crt",
                "--tls-private-key-file=server.key",
                "--client-ca-file=ca.crt",
                "--bind-address=127.0.0.1",
                &format!("--secure-port={port}"),
            ])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
    server.children.push(apiserver);
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{certificate-authority: {d}/ca.crt, server: \"https://127.0.0.1:{port}\"}}\n\
users:\n- name: a\n  user: {{client-certificate: {d}/admin.crt, client-key: {d}/admin.key}}\n\
contexts:\n- name: x\n  context: {{cluster: c, user: a}}\ncurrent-context: x\n",
        d = d.display()
    );
    std::fs::write(d.join("kubeconfig"), kubeconfig).unwrap();
    let started = Instant::now();
    while !server
        .kubectl(&["get", "--raw", "/readyz"])
        .status
        .success()
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the stand-in did not answer"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    server
}

impl Server {
    fn kubectl(&self, args: &[&str]) -> Output {
        Command::new(KUBECTL)
            .arg("--kubeconfig")
            .arg(self.dir.path().join("kubeconfig"))
            .args(["--request-timeout", "10s"])
            .args(args)
            .output()
            .unwrap()
    }

    /// `kubectl apply --server-side --force-conflicts -f file`, as the CNI phase runs it.
    fn apply(&self, file: &Path) -> Output {
        self.kubectl(&[
            "apply",
            "--server-side",
            "--force-conflicts",
            "-f",
            file.to_str().unwrap(),
        ])
    }

    /// A PATCH of `path` with `content_type` and `body`: the status code and the
    /// Status's reason and message.
    fn patch(&self, path: &str, content_type: &str, body: &str) -> (u16, String) {
        let d = self.dir.path();
        let out = Command::new("curl")
            .args(["-s", "-w", "\n%{http_code}", "-X", "PATCH"])
            .arg("--cacert")
            .arg(d.join("ca.crt"))
            .arg("--cert")
            .arg(d.join("admin.crt"))
            .arg("--key")
            .arg(d.join("admin.key"))
            .args([
                "-H",
                &format!("Content-Type: {content_type}"),
                "--data-binary",
                body,
            ])
            .arg(format!("https://127.0.0.1:{}{path}", self.port))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (json, code) = text.rsplit_once('\n').unwrap();
        let status: serde_json::Value = serde_json::from_str(json).unwrap();
        (
            code.parse().unwrap(),
            format!(
                "{}: {}",
                status["reason"].as_str().unwrap_or(""),
                status["message"]
            ),
        )
    }
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cni")
        .join(name)
}

#[test]
fn pod_network_manifests_apply_server_side_and_what_the_real_server_refuses_is_refused() {
    let server = start();
    for file in [
        "kube-flannel.yml",
        "calico-operator-crds.yaml",
        "calico-tigera-operator.yaml",
    ] {
        let out = server.apply(&fixture(file));
        assert!(out.status.success(), "{file}: {}", text(&out));
        assert!(text(&out).contains("serverside-applied"), "{}", text(&out));
    }
    // Applied again, everything stays.
    let out = server.apply(&fixture("kube-flannel.yml"));
    assert!(out.status.success(), "{}", text(&out));

    // The CRD is Established at once, so kubectl wait needs no watch.
    let out = server.kubectl(&[
        "wait",
        "--for=condition=established",
        "--timeout=10s",
        "crd/installations.operator.tigera.io",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let installation = server.dir.path().join("installation.yaml");
    std::fs::write(
        &installation,
        "apiVersion: operator.tigera.io/v1\nkind: Installation\nmetadata:\n  name: default\nspec:\n  calicoNetwork:\n    ipPools:\n    - cidr: 10.244.0.0/16\n",
    )
    .unwrap();
    let out = server.apply(&installation);
    assert!(out.status.success(), "{}", text(&out));
    let out = server.kubectl(&["get", "installations", "-o", "name"]);
    assert_eq!(
        text(&out).trim(),
        "installation.operator.tigera.io/default",
        "{}",
        text(&out)
    );
    let out = server.kubectl(&[
        "-n",
        "kube-flannel",
        "rollout",
        "restart",
        "daemonset/kube-flannel-ds",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let out = server.kubectl(&["get", "deployments,daemonsets", "-A", "-o", "name"]);
    assert_eq!(
        text(&out).trim(),
        "deployment.apps/tigera-operator\ndaemonset.apps/kube-flannel-ds",
        "{}",
        text(&out)
    );

    // A kind no CRD defines is not served (kubectl says so differently here: it looks
    // for the kind's schema in OpenAPI v2, which the stand-in does not serve); a CRD
    // named other than <plural>.<group> is invalid.
    let unknown = server.dir.path().join("unknown.yaml");
    std::fs::write(
        &unknown,
        "apiVersion: example.org/v1\nkind: Widget\nmetadata:\n  name: w\n",
    )
    .unwrap();
    assert!(!server.apply(&unknown).status.success());
    let bad = std::fs::read_to_string(fixture("calico-operator-crds.yaml"))
        .unwrap()
        .replacen(
            "name: installations.operator.tigera.io",
            "name: wrong.operator.tigera.io",
            1,
        );
    std::fs::write(&unknown, bad).unwrap();
    let out = server.apply(&unknown);
    assert!(
        text(&out).contains("metadata.name: Invalid value: \"wrong.operator.tigera.io\": must be spec.names.plural+\".\"+spec.group"),
        "{}",
        text(&out)
    );

    // What kubectl never sends, refused as the real server refuses it.
    let apply = "application/apply-patch+yaml";
    let cm = "/api/v1/namespaces/kube-flannel/configmaps/kube-flannel-cfg";
    let cases = [
        (
            format!("{cm}?fieldManager=t"),
            apply,
            r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"kube-flannel-cfg"}}"#,
            400,
            "does not match the kind on the URL (ConfigMap)",
        ),
        (
            format!("{cm}?fieldManager=t"),
            apply,
            r#"{"apiVersion":"apps/v1","kind":"ConfigMap","metadata":{"name":"kube-flannel-cfg"}}"#,
            400,
            "Incorrect version specified in apply patch",
        ),
        (
            format!("{cm}?fieldManager=t"),
            apply,
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{}}"#,
            400,
            "the name of the object () does not match the name on the URL (kube-flannel-cfg)",
        ),
        (
            format!("{cm}?fieldManager=t"),
            apply,
            "data: [unclosed",
            400,
            "error decoding YAML",
        ),
        (
            cm.to_owned(),
            apply,
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"kube-flannel-cfg"}}"#,
            422,
            "fieldManager: Required value",
        ),
        (
            format!("{cm}?fieldManager=t"),
            "text/plain",
            "data: {}",
            415,
            "UnsupportedMediaType",
        ),
    ];
    for (path, content_type, body, code, says) in cases {
        let (got, message) = server.patch(&path, content_type, body);
        assert_eq!(got, code, "{body}: {message}");
        assert!(message.contains(says), "{body}: {message}");
    }
    // None of them changed the ConfigMap.
    let out = server.kubectl(&[
        "get",
        "configmap",
        "-n",
        "kube-flannel",
        "kube-flannel-cfg",
        "-o",
        "jsonpath={.data.net-conf\\.json}",
    ]);
    assert!(text(&out).contains("10.244.0.0/16"), "{}", text(&out));
}

/// A stopping API server behind a load balancer: on SIGTERM /readyz fails at once (so
/// haproxy's checks take it out of rotation) while requests are still served for
/// --shutdown-delay-duration; then it stops listening and exits 0, as the real one does.
#[test]
fn a_stopping_server_fails_readyz_but_serves_through_its_shutdown_delay() {
    let mut server = start_with(&["--shutdown-delay-duration=3s"]);
    let pid = server.children[1].id().to_string();
    let kill = Command::new("kill").args(["-TERM", &pid]).output().unwrap();
    assert!(kill.status.success(), "{kill:?}");
    let stopped = Instant::now();
    let ready = server.kubectl(&["get", "--raw", "/readyz"]);
    assert!(!ready.status.success(), "{}", text(&ready));
    assert!(
        text(&ready).contains("[-]shutdown failed"),
        "{}",
        text(&ready)
    );
    let read = server.kubectl(&["get", "--raw", "/api/v1/namespaces/kube-system"]);
    assert!(read.status.success(), "{}", text(&read));
    assert!(
        stopped.elapsed() < Duration::from_secs(3),
        "the checks took longer than the delay: {:?}",
        stopped.elapsed()
    );
    let status = loop {
        if let Some(status) = server.children[1].try_wait().unwrap() {
            break status;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(30),
            "the stand-in did not exit after its shutdown delay"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "exit status {status:?}");
    assert!(
        stopped.elapsed() >= Duration::from_secs(3),
        "it exited before its shutdown delay: {:?}",
        stopped.elapsed()
    );
    let after = server.kubectl(&["get", "--raw", "/readyz"]);
    assert!(text(&after).contains("was refused"), "{}", text(&after));
}

/// A shutdown delay that is no Go duration is refused the way pflag refuses it.
#[test]
fn a_shutdown_delay_that_is_no_duration_is_refused() {
    let out =
        Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/standins/kube-apiserver"))
            .args([
                "--shutdown-delay-duration=12",
                "--etcd-servers=http://127.0.0.1:1",
            ])
            .output()
            .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        text(&out).contains("invalid argument \"12\" for \"--shutdown-delay-duration\" flag"),
        "{}",
        text(&out)
    );
}
