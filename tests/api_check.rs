//! The operator's kubeconfig, checked from the KVM host against a real TLS server that
//! demands client certificates (openssl s_server), as the API server does.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use kubewiz::exec::api_check;
use kubewiz::pki;
use kubewiz::render::{self, Layout, Target};
use kubewiz::spec::{self, EndpointHost};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn the_operator_kubeconfig_reaches_an_api_that_demands_client_certificates() {
    let mut spec =
        spec::load_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join("presets/single-node.toml"))
            .unwrap()
            .spec;
    let port = free_port();
    spec.control_plane.endpoint = Some(EndpointHost::Ip("127.0.0.1".parse().unwrap()));
    spec.control_plane.port = port;
    let layout = Layout::new(&spec).unwrap();
    let state = tempfile::tempdir().unwrap();
    let (pki, _) = pki::load_or_create(state.path(), &layout).unwrap();
    let files = render::render(&spec, &pki).unwrap();
    let work = tempfile::tempdir().unwrap();
    for name in ["apiserver.crt", "apiserver.key", "ca.crt"] {
        let file = files
            .iter()
            .find(|f| {
                f.target == Target::Host("kube-solo".into())
                    && f.path == format!("/etc/kubernetes/pki/{name}")
            })
            .unwrap();
        std::fs::write(work.path().join(name), &file.content).unwrap();
    }
    let kubeconfig = &files
        .iter()
        .find(|f| f.target == Target::Local && f.path == "admin.conf")
        .unwrap()
        .content;
    let url = format!("{}/readyz", layout.api_url());
    let scratch = work.path().join("scratch");

    // Nothing listens yet: a clear reason, no credentials left behind.
    let refused = api_check::probe(&url, kubeconfig, &scratch)
        .await
        .unwrap_err();
    assert!(
        refused.contains("Failed to connect") || refused.contains("Couldn't connect"),
        "{refused}"
    );
    assert!(!scratch.exists(), "the credentials were left on disk");

    let _server = Server(
        Command::new("openssl")
            .args(["s_server", "-quiet", "-www", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-Verify", "1", "-verify_return_error"])
            .arg("-cert")
            .arg(work.path().join("apiserver.crt"))
            .arg("-key")
            .arg(work.path().join("apiserver.key"))
            .arg("-CAfile")
            .arg(work.path().join("ca.crt"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut answer = Err(String::new());
    for _ in 0..50 {
        answer = api_check::probe(&url, kubeconfig, &scratch).await;
        if answer.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let body = answer.unwrap();
    assert!(body.contains("s_server"), "{body}");
    assert!(!scratch.exists(), "the credentials were left on disk");

    // Without the client certificate the same server refuses: the check is real.
    let anonymous = Command::new("curl")
        .args([
            "--silent",
            "--show-error",
            "--fail",
            "--max-time",
            "5",
            "--cacert",
        ])
        .arg(work.path().join("ca.crt"))
        .arg(&url)
        .output()
        .unwrap();
    assert!(!anonymous.status.success());
}
