//! A whole install on real libvirt VMs with real systemd: `kubewiz apply --no-tui --yes`
//! of a single-master cluster on two VMs of the VM lab, from the air-gap bundle of
//! tests/lab/cluster.rs (the stand-ins for kubeadm, the kubelet, the control plane and
//! containerd's daemon; the real etcd 3.5 and kubectl). Unlike lab hosts, a VM sees only
//! what the install puts there, systemd runs the rendered units, and the endpoint is a
//! name that the libvirt network's DNS serves. Then both VMs reboot at once: what
//! prepare set up is back, the services come up under systemd, the nodes turn Ready as
//! the real kubectl on the KVM host sees them through the endpoint's name, and a second
//! apply changes no file.

#[path = "vm/mod.rs"]
mod vm;

#[path = "lab/mod.rs"]
mod lab;

#[path = "lab/cluster.rs"]
mod cluster;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use vm::{Reservations, VmLab, VmSpec};

#[test]
fn single_master_installs_on_vms_with_systemd() {
    let started = Instant::now();
    // The install puts the cluster's names into the KVM host's /etc/hosts (that is how
    // kubectl here reaches the endpoint); they go again whatever happens.
    // A block an interrupted earlier run left goes first: libvirt's dnsmasq serves the
    // KVM host's /etc/hosts to the VMs too, as it reads it when the network starts.
    drop(ForgetNames("vmsingle"));
    let _names = ForgetNames("vmsingle");
    let lab = VmLab::start(
        &[VmSpec::new("cp1", 2, 2048), VmSpec::new("node1", 1, 1536)],
        Reservations::Yes,
    );
    let bundle = cluster::bundle(lab.dir());
    let endpoint = format!("kubeapi.{}", vm::DOMAIN);
    let mut preset = format!(
        "name = \"vmsingle\"\ntopology = \"single-master\"\n\n[kubernetes]\nversion = \"1.34.2\"\ncni = \"none\"\n\n\
         [network]\nhosts_cidr = \"{}.0/24\"\n\n\
         [control_plane]\nendpoint = \"{endpoint}\"\n\n\
         [ssh]\nuser = \"root\"\nidentity_file = \"{}\"\nknown_hosts = \"{}\"\n\n\
         [packages]\nsource = \"bundle\"\nbundle_dir = \"{}\"\n\n\
         [kvm]\nlibvirt_network = \"{}\"\ndns_domain = \"{}\"\n",
        lab.subnet(),
        lab.key().display(),
        lab.known_hosts().display(),
        bundle.display(),
        lab.network,
        vm::DOMAIN
    );
    for (i, vm) in lab.vms.iter().enumerate() {
        let role = if i == 0 { "control-plane" } else { "worker" };
        preset += &format!(
            "\n[[hosts]]\nname = \"{}\"\naddress = \"{}\"\nroles = [\"{role}\"]\n",
            vm.domain, vm.address
        );
    }
    let preset_path = lab.dir().join("single-master.toml");
    fs::write(&preset_path, &preset).unwrap();
    let preset_arg = preset_path.display().to_string();
    let state = lab.dir().join("state");

    let (out, took) = cluster::kubewiz(
        &state,
        &["apply", "--preset", &preset_arg, "--no-tui", "--yes"],
    );
    eprintln!("apply took {took:.1?}");
    let report = cluster::text(&out);
    for vm in &lab.vms {
        eprintln!(
            "{}: clock {:+.2} s off the KVM host's after the install",
            vm.domain,
            lab.clock_offset(vm.address)
        );
    }

    // Real systemd runs what the install enabled, on every VM (checked first, so that
    // a run that fails late still shows what it brought up).
    for (i, vm) in lab.vms.iter().enumerate() {
        let state = lab.sh(
            i,
            "systemctl is-active containerd kubelet; systemctl is-enabled containerd kubelet; true",
        );
        assert_eq!(
            state.lines().collect::<Vec<_>>(),
            ["active", "active", "enabled", "enabled"],
            "{}: containerd and kubelet under systemd\n{report}",
            vm.domain
        );
    }
    // The VMs resolve the endpoint through the libvirt network's DNS.
    for (i, vm) in lab.vms.iter().enumerate() {
        let resolved = lab.sh(i, &format!("getent hosts {endpoint} | cut -d' ' -f1"));
        assert_eq!(
            resolved.trim(),
            lab.vms[0].address.to_string(),
            "{endpoint} inside {}\n{report}",
            vm.domain
        );
    }

    // A pod network's configuration, as a CNI's installer leaves it (this cluster
    // installs none): the kubelets report their nodes Ready.
    for i in 0..lab.vms.len() {
        lab.sh(
            i,
            "mkdir -p /etc/cni/net.d && echo '{\"cniVersion\":\"1.0.0\",\"name\":\"vm\",\"plugins\":[{\"type\":\"bridge\"}]}' > /etc/cni/net.d/10-vm.conflist",
        );
    }

    // Every VM rebooted at once (`virsh reboot`): what prepare set up is still in place
    // and the services come back under systemd.
    lab.reboot_all();
    for (i, vm) in lab.vms.iter().enumerate() {
        // systemd brings the services up after sshd answers (slowly under TCG): each
        // VM is given two minutes to show them active, then its state says why not.
        let expected = ["0", "br_netfilter overlay", "1 1", "active active"];
        let started = Instant::now();
        loop {
            let after = lab.sh(
                i,
                "swapon --show --noheadings | wc -l; \
                 lsmod | awk '$1 == \"br_netfilter\" || $1 == \"overlay\" {print $1}' | sort | tr '\\n' ' '; echo; \
                 sysctl -n net.bridge.bridge-nf-call-iptables net.ipv4.ip_forward | tr '\\n' ' '; echo; \
                 systemctl is-active containerd kubelet | tr '\\n' ' '; echo",
            );
            let lines: Vec<&str> = after.lines().map(str::trim).collect();
            if lines == expected {
                eprintln!(
                    "{}: swap off, modules, sysctls and services back {:.0?} after it answered",
                    vm.domain,
                    started.elapsed()
                );
                break;
            }
            if started.elapsed() > Duration::from_secs(120) {
                let why = lab.sh(
                    i,
                    "systemctl status --no-pager containerd kubelet 2>&1 | tail -30; true",
                );
                panic!(
                    "{} after a reboot: swap devices, modules, sysctls, services are {lines:?}, not {expected:?}\n{why}\n{report}",
                    vm.domain
                );
            }
            std::thread::sleep(Duration::from_secs(3));
        }
    }

    assert!(out.status.success(), "{report}");

    // The operator's kubeconfig, through the endpoint name, lists both nodes.
    let kubeconfig = state.join("vmsingle").join("admin.conf");
    assert!(
        kubeconfig.is_file(),
        "{} was not saved",
        kubeconfig.display()
    );
    // The kubelets start the control plane's static Pods again after the reboot: the
    // real kubectl here, through the endpoint's name, lists every node Ready within
    // three minutes (a pod network's configuration is in place, see above).
    let mut expected: Vec<String> = lab
        .vms
        .iter()
        .map(|v| format!("{} Ready", v.domain))
        .collect();
    expected.sort();
    let asked = Instant::now();
    loop {
        let out = cluster::kubectl_local(&kubeconfig, &["get", "nodes", "--no-headers"]);
        let mut listed: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
            .collect();
        listed.sort();
        if listed == expected {
            eprintln!(
                "every node Ready through {endpoint} {:.0?} after the VMs were back",
                asked.elapsed()
            );
            break;
        }
        assert!(
            asked.elapsed() < Duration::from_secs(180),
            "after the reboot, kubectl get nodes through {endpoint}: {}",
            cluster::text(&out)
        );
        std::thread::sleep(Duration::from_secs(3));
    }
    // Then `kubewiz apply` again changes nothing: no file it put there differs.
    let digest = |i: usize| {
        lab.sh(
            i,
            "cd / && find etc/kubernetes etc/containerd etc/sysctl.d etc/modules-load.d etc/systemd/system usr/local/bin var/lib/kubelet -xdev -type f -print0 2>/dev/null | sort -z | xargs -0 sha256sum",
        )
    };
    let before: Vec<String> = (0..lab.vms.len()).map(digest).collect();
    let (again, took) = cluster::kubewiz(
        &state,
        &["apply", "--preset", &preset_arg, "--no-tui", "--yes"],
    );
    eprintln!("the second apply took {took:.1?}");
    assert!(again.status.success(), "{}", cluster::text(&again));
    for (i, before) in before.iter().enumerate() {
        assert!(
            &digest(i) == before,
            "{}: a second apply changed files\n{}",
            lab.vms[i].domain,
            cluster::text(&again)
        );
    }
    eprintln!(
        "single_master_installs_on_vms_with_systemd: {:.0?}",
        started.elapsed()
    );
}

/// Takes cluster `.0`'s block out of /etc/hosts when dropped.
struct ForgetNames(&'static str);

impl Drop for ForgetNames {
    fn drop(&mut self) {
        let hosts = Path::new(kubewiz::kvm::hosts_file::DEFAULT_PATH);
        if let Err(e) = kubewiz::kvm::hosts_file::apply(hosts, self.0, None, false) {
            eprintln!("{e}");
        }
    }
}
