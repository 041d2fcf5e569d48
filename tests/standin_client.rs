//! The stand-in kubeadm's API client must meet a dropped connection the way client-go
//! does: a GET is tried again a second later, up to ten times, and a write is never
//! repeated. Otherwise a loaded haproxy in front of the API servers fails a stacked
//! install here that a real one would ride out, or hides one that would fail.

use std::path::Path;
use std::process::Command;

fn run(dir: &Path, drops: u32, methods: &[&str]) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("python3")
        // The stand-ins' module is imported from the source tree: no bytecode there.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .arg(root.join("tests/fixtures/api_client/drive.py"))
        .arg(root.join("tests/standins"))
        .arg(dir.join("cert.pem"))
        .arg(dir.join("key.pem"))
        .arg(drops.to_string())
        .args(methods)
        .output()
        .expect("python3 runs");
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "the driver failed:\n{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    said
}

fn certificate(dir: &Path) {
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args([
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=api",
        ])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_get_rides_out_dropped_connections_and_a_write_is_never_repeated() {
    let dir = tempfile::tempdir().unwrap();
    certificate(dir.path());

    let said = run(dir.path(), 2, &["GET"]);
    assert!(said.starts_with("GET: ok n1 after 3 requests"), "{said}");

    let said = run(dir.path(), 1, &["POST"]);
    assert!(
        said.starts_with("POST: error Post \"https://127.0.0.1:")
            && said.contains("/api/v1/nodes/n1?timeout=10s\": EOF after 1 requests"),
        "{said}"
    );

    // client-go gives up after its ten retries and says what the last try met.
    let said = run(dir.path(), 100, &["GET"]);
    assert!(said.contains(": EOF after 11 requests"), "{said}");
}
