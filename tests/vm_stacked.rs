//! A stacked-etcd HA install on three control plane VMs of the VM lab, with real
//! systemd, the real containerd and etcd, and haproxy and keepalived holding the VIP on
//! the libvirt bridge (real VRRP between real VMs); stand-ins only for kubeadm, the
//! kubelet and the control plane's programs (tests/vm/install.rs has the bundle).
//!
//! After the install every VM reboots at once: the services come back under systemd,
//! exactly one VM holds the VIP, etcd has three healthy members, the real kubectl on
//! the KVM host lists every node Ready through the endpoint's name (served by the
//! libvirt network's DNS, pointing at the VIP), and a second apply changes no file.

#[path = "vm/mod.rs"]
mod vm;

#[path = "lab/mod.rs"]
mod lab;

#[path = "lab/cluster.rs"]
mod cluster;

#[path = "vm/install.rs"]
mod install;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use install::{ForgetNames, Install};
use vm::{Reservations, VmLab, VmSpec};

/// Waits up to a minute for exactly one VM to hold `vip`; that VM's name.
fn sole_holder(lab: &VmLab, vip: Ipv4Addr) -> String {
    let started = Instant::now();
    loop {
        let holders = install::holders(lab, vip);
        if let [one] = holders.as_slice() {
            return one.clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the VIP {vip} is held by {holders:?}, not by exactly one VM"
        );
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// etcd's members as the real etcdctl on the first control plane lists them, and
/// whether every member's endpoint is healthy.
fn etcd_health(lab: &VmLab) -> String {
    lab.sh(
        0,
        "cd /etc/kubernetes/pki && ETCDCTL_API=3 etcdctl --endpoints=https://127.0.0.1:2379 \
         --cacert=etcd/ca.crt --cert=apiserver-etcd-client.crt --key=apiserver-etcd-client.key \
         endpoint health --cluster 2>&1",
    )
}

fn assert_etcd_healthy(lab: &VmLab, when: &str) {
    let health = etcd_health(lab);
    let healthy = health.lines().filter(|l| l.contains("is healthy")).count();
    assert_eq!(healthy, 3, "etcd {when}:\n{health}");
}

#[test]
fn stacked_ha_installs_on_three_vms_and_keeps_one_vip_holder_through_a_reboot() {
    let started = Instant::now();
    let _names = ForgetNames::now_and_after("vmstacked");
    let lab = VmLab::start(
        &[
            VmSpec::new("cp1", 2, 2048),
            VmSpec::new("cp2", 2, 2048),
            VmSpec::new("cp3", 2, 2048),
        ],
        Reservations::Yes,
    );
    let vip = lab.free_address(50);
    let bundle = install::bundle(&lab);
    let setup = Install::new(
        &lab,
        "vmstacked",
        "stacked-ha",
        &["control-plane"; 3],
        [
            // ECDSA keys: the stand-in kubeadm makes its keys with openssl inside the
            // VMs, where RSA's prime search under TCG took 40 s for one kubeconfig, and
            // every TLS handshake with an API server (haproxy's and keepalived's checks,
            // the kubelets) signs with its key. (RSA is the lab hosts' default.)
            "encryption_algorithm = \"ECDSA-P256\"\n",
            &format!("port = 8443\nvip = \"{vip}\"\nload_balancer = \"haproxy-keepalived\"\n"),
        ],
        &bundle,
    );

    let (out, took) = setup.apply(&lab);
    eprintln!("apply took {took:.1?}\n{}", setup.timing());
    let report = cluster::text(&out);
    for (i, vm) in lab.vms.iter().enumerate() {
        eprintln!(
            "{}: load {}",
            vm.domain,
            lab.sh(i, "cat /proc/loadavg").trim()
        );
    }
    let units = ["containerd", "kubelet", "haproxy", "keepalived"];
    install::check_units(&lab, &units, &report);
    assert!(out.status.success(), "{report}");
    install::check_real_containerd(&lab);
    install::check_resolves(&lab, &setup.endpoint, vip, &report);
    let holder = sole_holder(&lab, vip);
    eprintln!("after the install {holder} holds the VIP {vip}");
    assert_etcd_healthy(&lab, "after the install");
    install::write_cni_config(&lab);

    // Every VM rebooted at once: the services come back under systemd and keepalived
    // elects one holder of the VIP among the three.
    lab.reboot_all();
    for i in 0..lab.vms.len() {
        install::wait_back(&lab, i, &units, &report);
    }
    let holder = sole_holder(&lab, vip);
    eprintln!("after the reboot {holder} holds the VIP {vip}");
    setup.wait_nodes_ready(&lab, Duration::from_secs(240));
    assert_etcd_healthy(&lab, "after the reboot");
    setup.apply_again_changes_nothing(&lab);
    assert_eq!(
        install::holders(&lab, vip),
        [holder],
        "the second apply moved the VIP"
    );
    eprintln!(
        "stacked_ha_installs_on_three_vms_and_keeps_one_vip_holder_through_a_reboot: {:.0?}",
        started.elapsed()
    );
}
