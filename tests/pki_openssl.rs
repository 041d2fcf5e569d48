//! The PKI checked with the real openssl against kubeadm's rules
//! (reference/kubeadm.md §1): every leaf verifies against its CA, has kubeadm's CN, O,
//! key usages and SANs, matches its key, and has kubeadm's validity. Then reuse:
//! nothing is made twice, and only what must be issued again is.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use kubewiz::pki::{self, Pki};
use kubewiz::render::{File, Layout, Target};
use kubewiz::spec::{self, ClusterSpec};
use time::OffsetDateTime;

fn preset(path: &str) -> ClusterSpec {
    spec::load_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap()
        .spec
}

fn openssl(args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl is installed");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Writes the PKI files of every host into `root/<host>/<path>`.
fn write_files(root: &Path, files: &[File]) -> BTreeMap<(String, String), PathBuf> {
    let mut out = BTreeMap::new();
    for file in files {
        let host = match &file.target {
            Target::Host(h) => h.clone(),
            Target::Local => "local".to_string(),
        };
        let path = root.join(&host).join(file.path.trim_start_matches('/'));
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, &file.content).unwrap();
        out.insert((host, file.path.clone()), path);
    }
    out
}

/// kubeadm's rules, written out here independently of kubewiz's own table.
struct Rule {
    cn: &'static str,
    o: Option<&'static str>,
    eku: &'static str,
    ca: &'static str,
}

fn rule(path: &str) -> Option<Rule> {
    let r = |cn, o, eku, ca| Some(Rule { cn, o, eku, ca });
    match path {
        "/etc/kubernetes/pki/apiserver.crt" => r(
            "kube-apiserver",
            None,
            "TLS Web Server Authentication",
            "ca",
        ),
        "/etc/kubernetes/pki/apiserver-kubelet-client.crt" => r(
            "kube-apiserver-kubelet-client",
            Some("kubeadm:cluster-admins"),
            "TLS Web Client Authentication",
            "ca",
        ),
        "/etc/kubernetes/pki/front-proxy-client.crt" => r(
            "front-proxy-client",
            None,
            "TLS Web Client Authentication",
            "front-proxy-ca",
        ),
        "/etc/kubernetes/pki/apiserver-etcd-client.crt" => r(
            "kube-apiserver-etcd-client",
            None,
            "TLS Web Client Authentication",
            "etcd/ca",
        ),
        "/etc/kubernetes/pki/etcd/healthcheck-client.crt"
        | "/etc/etcd/pki/healthcheck-client.crt" => r(
            "kube-etcd-healthcheck-client",
            None,
            "TLS Web Client Authentication",
            "etcd/ca",
        ),
        // CN is the node name: checked by the caller.
        "/etc/kubernetes/pki/etcd/server.crt"
        | "/etc/kubernetes/pki/etcd/peer.crt"
        | "/etc/etcd/pki/server.crt"
        | "/etc/etcd/pki/peer.crt" => r(
            "",
            None,
            "TLS Web Server Authentication, TLS Web Client Authentication",
            "etcd/ca",
        ),
        _ => None,
    }
}

fn ca_path(
    host_files: &BTreeMap<(String, String), PathBuf>,
    host: &str,
    ca: &str,
    path: &str,
) -> PathBuf {
    let ca_file = if path.starts_with("/etc/etcd/pki/") {
        "/etc/etcd/pki/ca.crt".to_string()
    } else {
        format!("/etc/kubernetes/pki/{ca}.crt")
    };
    host_files[&(host.to_string(), ca_file)].clone()
}

fn text(cert: &Path) -> String {
    openssl(&[
        "x509",
        "-in",
        cert.to_str().unwrap(),
        "-noout",
        "-text",
        "-nameopt",
        "RFC2253",
    ])
}

fn subject(cert: &Path) -> String {
    openssl(&[
        "x509",
        "-in",
        cert.to_str().unwrap(),
        "-noout",
        "-subject",
        "-nameopt",
        "RFC2253",
    ])
}

fn line_after<'a>(text: &'a str, header: &str) -> &'a str {
    let mut lines = text.lines();
    lines
        .find(|l| l.trim_start().starts_with(header))
        .unwrap_or_else(|| panic!("no {header} in\n{text}"));
    lines.next().unwrap().trim()
}

fn check_cluster(preset_path: &str) {
    let spec = preset(preset_path);
    let layout = Layout::new(&spec).unwrap();
    let state = tempfile::tempdir().unwrap();
    let (pki, notices) = pki::load_or_create(state.path(), &layout).unwrap();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(
        notices[0].0.starts_with("made the cluster PKI in"),
        "{notices:?}"
    );
    let files = kubewiz::render::pki::files(&layout, &pki);
    let root = tempfile::tempdir().unwrap();
    let written = write_files(root.path(), &files);
    let mut leaves_checked = 0;

    for file in &files {
        let Target::Host(host) = &file.target else {
            continue;
        };
        let path = &written[&(host.clone(), file.path.clone())];
        // Modes: keys, sa.pub and kubeconfigs 0600, certificates 0644.
        if file.path.ends_with(".key") || file.path.ends_with("sa.pub") {
            assert_eq!(file.mode, 0o600, "{host}:{}", file.path);
        }
        if file.path.ends_with(".crt") {
            assert_eq!(file.mode, 0o644, "{host}:{}", file.path);
        }
        // Every key matches its certificate.
        if let Some(stem) = file.path.strip_suffix(".key")
            && let Some(cert) = written.get(&(host.clone(), format!("{stem}.crt")))
        {
            let from_key = openssl(&["pkey", "-in", path.to_str().unwrap(), "-pubout"]);
            let from_cert = openssl(&["x509", "-in", cert.to_str().unwrap(), "-noout", "-pubkey"]);
            assert_eq!(
                from_key, from_cert,
                "{host}:{} does not match its certificate",
                file.path
            );
        }
        let Some(rule) = rule(&file.path) else {
            continue;
        };
        leaves_checked += 1;
        let ca = ca_path(&written, host, rule.ca, &file.path);
        let verified = openssl(&[
            "verify",
            "-CAfile",
            ca.to_str().unwrap(),
            "-purpose",
            if rule.eku.starts_with("TLS Web Server") {
                "sslserver"
            } else {
                "sslclient"
            },
            path.to_str().unwrap(),
        ]);
        assert!(verified.trim().ends_with(": OK"), "{verified}");
        let subject = subject(path);
        let cn = if rule.cn.is_empty() {
            host.as_str()
        } else {
            rule.cn
        };
        let want = match rule.o {
            Some(o) => format!("subject=CN={cn},O={o}"),
            None => format!("subject=CN={cn}"),
        };
        assert_eq!(subject.trim(), want, "{host}:{}", file.path);
        let text = text(path);
        assert_eq!(
            line_after(&text, "X509v3 Key Usage"),
            "Digital Signature, Key Encipherment",
            "{host}:{}",
            file.path
        );
        assert_eq!(
            line_after(&text, "X509v3 Extended Key Usage"),
            rule.eku,
            "{host}:{}",
            file.path
        );
        assert!(!text.contains("CA:TRUE"), "{host}:{} is a CA", file.path);
        check_validity(path, 365);
        check_sans(&layout, host, &file.path, &text);
    }
    assert!(
        leaves_checked >= layout.control_planes.len() * 3,
        "{leaves_checked}"
    );

    // CAs: self-signed, CA:TRUE, keyCertSign, DNS SAN = CN, ten years.
    for (host, path) in written.keys().filter(|(_, p)| p.ends_with("ca.crt")) {
        let file = &written[&(host.clone(), path.clone())];
        let text = text(file);
        assert!(text.contains("CA:TRUE"), "{host}:{path}");
        assert_eq!(
            line_after(&text, "X509v3 Key Usage"),
            "Digital Signature, Key Encipherment, Certificate Sign"
        );
        let cn = subject(file)
            .trim()
            .trim_start_matches("subject=CN=")
            .to_string();
        assert!(
            ["kubernetes", "front-proxy-ca", "etcd-ca"].contains(&cn.as_str()),
            "{cn}"
        );
        assert_eq!(
            line_after(&text, "X509v3 Subject Alternative Name"),
            format!("DNS:{cn}")
        );
        check_validity(file, 3650);
        let verified = openssl(&[
            "verify",
            "-CAfile",
            file.to_str().unwrap(),
            file.to_str().unwrap(),
        ]);
        assert!(verified.trim().ends_with(": OK"));
    }

    check_ca_hash(&pki, &written, layout.first_control_plane().name.as_str());
    check_admin_conf(&layout, &files);
    check_state_modes(state.path());
}

/// The apiserver certificate carries every name clients use; etcd members their own.
fn check_sans(layout: &Layout, host: &str, path: &str, text: &str) {
    let has = |e: String| {
        let sans = line_after(text, "X509v3 Subject Alternative Name");
        assert!(
            sans.split(", ").any(|s| s == e),
            "{host}:{path}: {e} missing from {sans}"
        );
    };
    let address = layout.host(host).unwrap().address;
    match path {
        "/etc/kubernetes/pki/apiserver.crt" => {
            for name in ["kubernetes", "kubernetes.default", "kubernetes.default.svc"] {
                has(format!("DNS:{name}"));
            }
            has(format!(
                "DNS:kubernetes.default.svc.{}",
                layout.spec.kubernetes.dns_domain
            ));
            has(format!("DNS:{host}"));
            has(format!("IP Address:{address}"));
            has(format!("IP Address:{}", layout.first_service_ip()));
            if let Some(vip) = layout.vip {
                has(format!("IP Address:{vip}"));
            }
            match &layout.endpoint {
                spec::EndpointHost::Name(n) => has(format!("DNS:{n}")),
                spec::EndpointHost::Ip(ip) => has(format!("IP Address:{ip}")),
            }
        }
        p if p.ends_with("/server.crt") || p.ends_with("/peer.crt") => {
            has(format!("DNS:{host}"));
            has("DNS:localhost".into());
            has(format!("IP Address:{address}"));
            has("IP Address:127.0.0.1".into());
        }
        _ => assert!(
            !text.contains("Subject Alternative Name"),
            "{host}:{path} has SANs"
        ),
    }
}

/// notBefore about five minutes ago, notAfter `days` later.
fn check_validity(cert: &Path, days: i64) {
    let out = openssl(&["x509", "-in", cert.to_str().unwrap(), "-noout", "-dates"]);
    let parse = |key: &str| {
        let v = out.lines().find_map(|l| l.strip_prefix(key)).unwrap();
        let epoch = Command::new("date")
            .args(["-u", "-d", v, "+%s"])
            .output()
            .unwrap();
        String::from_utf8(epoch.stdout)
            .unwrap()
            .trim()
            .parse::<i64>()
            .unwrap()
    };
    let (start, end) = (parse("notBefore="), parse("notAfter="));
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let backdated = now - start;
    assert!(
        (240..=600).contains(&backdated),
        "{}: notBefore is {backdated}s ago",
        cert.display()
    );
    let span = end - start;
    assert!(
        (span - (days * 86400 + 300)).abs() < 120,
        "{}: valid for {span}s",
        cert.display()
    );
}

/// The join hash equals what kubeadm's documented openssl pipeline computes.
fn check_ca_hash(pki: &Pki, written: &BTreeMap<(String, String), PathBuf>, first: &str) {
    let ca = &written[&(first.to_string(), "/etc/kubernetes/pki/ca.crt".to_string())];
    let pubkey = openssl(&["x509", "-pubkey", "-noout", "-in", ca.to_str().unwrap()]);
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("ca.pub");
    fs::write(&pem, pubkey).unwrap();
    let der = dir.path().join("ca.der");
    openssl(&[
        "pkey",
        "-pubin",
        "-in",
        pem.to_str().unwrap(),
        "-outform",
        "der",
        "-out",
        der.to_str().unwrap(),
    ]);
    let digest = openssl(&["dgst", "-sha256", "-hex", der.to_str().unwrap()]);
    let hex = digest.trim().rsplit(' ').next().unwrap();
    assert_eq!(pki.ca_cert_hash(), format!("sha256:{hex}"));
}

/// local/admin.conf: the operator's own user in kubeadm's admin group, at the endpoint.
fn check_admin_conf(layout: &Layout, files: &[File]) {
    let conf = files
        .iter()
        .find(|f| f.target == Target::Local && f.path == "admin.conf")
        .unwrap();
    assert_eq!(conf.mode, 0o600);
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&conf.content).unwrap();
    let server = doc["clusters"][0]["cluster"]["server"].as_str().unwrap();
    assert_eq!(server, layout.api_url());
    use base64::Engine;
    let cert = base64::engine::general_purpose::STANDARD
        .decode(
            doc["users"][0]["user"]["client-certificate-data"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("admin.crt");
    fs::write(&path, cert).unwrap();
    assert_eq!(
        subject(&path).trim(),
        "subject=CN=kubewiz-admin,O=kubeadm:cluster-admins"
    );
    assert_eq!(
        doc["current-context"].as_str().unwrap(),
        format!("kubewiz-admin@{}", layout.spec.name)
    );
}

/// In the state directory too: keys 0600, directories 0700.
fn check_state_modes(dir: &Path) {
    for entry in walk(dir) {
        let mode = fs::metadata(&entry).unwrap().permissions().mode() & 0o777;
        let name = entry.to_string_lossy();
        if entry.is_dir() {
            assert_eq!(mode, 0o700, "{name}");
        } else if name.ends_with(".key")
            || name.ends_with("sa.pub")
            || name.ends_with("bootstrap-token")
        {
            assert_eq!(mode, 0o600, "{name}");
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}

#[test]
fn kvm_lab_external_etcd() {
    check_cluster("presets/kvm-lab.toml");
}

#[test]
fn stacked_ha() {
    check_cluster("presets/stacked-ha.toml");
}

#[test]
fn single_node_and_single_master() {
    check_cluster("presets/single-node.toml");
    check_cluster("presets/single-master.toml");
}

#[test]
fn ecdsa_keys_when_asked() {
    check_cluster("tests/corpus/good/every-section.toml");
    let spec = preset("tests/corpus/good/every-section.toml");
    let layout = Layout::new(&spec).unwrap();
    let state = tempfile::tempdir().unwrap();
    let (pki, _) = pki::load_or_create(state.path(), &layout).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k");
    fs::write(&key, &pki.authority(pki::Authority::Kubernetes).key_pem).unwrap();
    assert!(
        openssl(&["pkey", "-in", key.to_str().unwrap(), "-noout", "-text"])
            .contains("ASN1 OID: prime256v1")
    );
    fs::write(&key, &pki.service_account.pub_pem).unwrap();
    assert!(
        pki.service_account
            .pub_pem
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
    openssl(&["pkey", "-pubin", "-in", key.to_str().unwrap(), "-noout"]);
}

#[test]
fn an_existing_pki_is_reused_and_only_what_must_change_is_issued_again() {
    let spec = preset("presets/stacked-ha.toml");
    let layout = Layout::new(&spec).unwrap();
    let state = tempfile::tempdir().unwrap();
    let (first, _) = pki::load_or_create(state.path(), &layout).unwrap();

    // Unchanged: the same bytes, nothing said.
    let (again, notices) = pki::load_or_create(state.path(), &layout).unwrap();
    assert!(notices.is_empty(), "{notices:?}");
    assert_eq!(again.leaves, first.leaves);
    assert_eq!(again.authorities, first.authorities);
    assert_eq!(again.bootstrap_token, first.bootstrap_token);

    // One leaf gone: that leaf alone is issued, and the operator told.
    fs::remove_file(state.path().join("hosts/kubemaster-2/apiserver.crt")).unwrap();
    fs::remove_file(state.path().join("hosts/kubemaster-2/apiserver.key")).unwrap();
    let (after, notices) = pki::load_or_create(state.path(), &layout).unwrap();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(
        notices[0].0,
        "issued kubemaster-2/apiserver: it was missing"
    );
    let changed: Vec<_> = after
        .leaves
        .iter()
        .filter(|(id, pair)| first.leaves[*id] != **pair)
        .map(|(id, _)| id.to_string())
        .collect();
    assert_eq!(changed, ["kubemaster-2/apiserver"]);

    // A new VIP: every apiserver certificate is issued again, saying why.
    let mut moved = spec.clone();
    moved.control_plane.vip = Some("192.168.122.9".parse().unwrap());
    let moved_layout = Layout::new(&moved).unwrap();
    let (_, notices) = pki::load_or_create(state.path(), &moved_layout).unwrap();
    let said: Vec<&str> = notices.iter().map(|n| n.0.as_str()).collect();
    assert_eq!(said.len(), 3, "{said:?}");
    for n in &said {
        assert!(
            n.starts_with("issued kubemaster-")
                && n.ends_with("/apiserver again: its SANs lack 192.168.122.9"),
            "{n}"
        );
    }

    // 340 days later every leaf expires within 30 days: all are issued again, the CAs kept.
    let later = OffsetDateTime::now_utc() + time::Duration::days(340);
    let (renewed, notices) = pki::load_or_create_at(state.path(), &moved_layout, later).unwrap();
    assert_eq!(notices.len(), renewed.leaves.len(), "{notices:?}");
    assert!(
        notices.iter().all(|n| n.0.contains("again: it expires in")),
        "{notices:?}"
    );
    assert_eq!(renewed.authorities, first.authorities);

    // A certificate without its key is refused, not replaced.
    fs::remove_file(state.path().join("ca.key")).unwrap();
    let err = pki::load_or_create(state.path(), &moved_layout)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("ca.crt exists without its key"), "{err}");
}
