//! A whole install on real libvirt VMs with real systemd: `kubewiz apply --no-tui --yes`
//! of a single-master cluster on two VMs of the VM lab, from the air-gap bundle of
//! tests/lab/cluster.rs (the stand-ins for kubeadm, the kubelet and the control plane;
//! the real containerd, etcd 3.5 and kubectl, and image archives for every image kubeadm
//! lists). Unlike lab hosts, a VM sees only what the install puts there, systemd runs
//! the rendered units, and the endpoint is a name that the libvirt network's DNS serves.
//!
//! The worker loses its power in the middle of its prepare phase (`virsh destroy`): it
//! fails with the cause, the control plane finishes the phase, and once the worker is
//! started again `kubewiz resume` completes the install. Then both VMs reboot at once:
//! what prepare set up is back, the services come up under systemd, the nodes turn Ready
//! as the real kubectl on the KVM host sees them through the endpoint's name, and a
//! second apply changes no file.

#[path = "vm/mod.rs"]
mod vm;

#[path = "lab/mod.rs"]
mod lab;

#[path = "lab/cluster.rs"]
mod cluster;

#[path = "vm/install.rs"]
mod install;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use install::{ForgetNames, Install};
use vm::{Reservations, VmLab, VmSpec};

#[test]
fn single_master_installs_on_vms_with_systemd_through_a_power_loss() {
    let started = Instant::now();
    let _names = ForgetNames::now_and_after("vmsingle");
    let mut lab = VmLab::start(
        &[VmSpec::new("cp1", 2, 2048), VmSpec::new("node1", 1, 1536)],
        Reservations::Yes,
    );
    let bundle = install::bundle(&lab);
    let setup = Install::new(
        &lab,
        "vmsingle",
        "single-master",
        &["control-plane", "worker"],
        // ECDSA keys, as in vm_stacked: RSA's prime search in openssl under TCG takes
        // tens of seconds for each key the stand-in kubeadm makes.
        ["encryption_algorithm = \"ECDSA-P256\"\n", ""],
        &bundle,
    );
    let (cp, worker) = (lab.vms[0].domain.clone(), lab.vms[1].domain.clone());

    // The worker's power goes while it receives the bundle, in its prepare phase.
    let cut_at = format!("[{worker}] prepare/{worker}/bundle");
    let started_apply = Instant::now();
    let mut child = cluster::spawn_apply(&setup.state, setup.preset_arg(), Stdio::piped());
    let mut stdout = String::new();
    let mut cut = false;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if !cut && line == cut_at {
            lab.power_off(1);
            cut = true;
        }
        stdout.push_str(&line);
        stdout.push('\n');
    }
    let out = child.wait_with_output().unwrap();
    let first = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    eprintln!(
        "the apply cut by the power loss took {:.1?}",
        started_apply.elapsed()
    );
    assert!(cut, "the bundle step never started on {worker}:\n{first}");
    assert_eq!(out.status.code(), Some(1), "{first}");
    // The worker fails alone, with the cause; the control plane finishes the phase and
    // the run stops before the next one.
    assert!(
        first.contains(&format!("{worker} failed at prepare/{worker}/")),
        "{first}"
    );
    for line in first
        .lines()
        .filter(|l| l.contains(&worker) && l.contains("fail"))
    {
        eprintln!("after the power loss: {line}");
    }
    assert!(
        first.contains(&format!("[{cp}] prepare/{cp}/kubelet: ok")),
        "the control plane did not finish the phase:\n{first}"
    );
    assert!(!first.contains("[pki]"), "the run went on:\n{first}");

    // Power back: the worker boots from what its disk kept, and the run resumes from
    // where it stopped.
    lab.power_on(1);
    lab.set_clocks();
    let (out, took) = cluster::kubewiz(&setup.state, &["resume", "vmsingle"]);
    eprintln!("resume took {took:.1?}");
    let report = cluster::text(&out);
    assert!(
        report.contains(&format!("[{cp}] prepare/{cp}/bundle: skipped")),
        "the resume redid the control plane's finished steps:\n{report}"
    );
    for vm in &lab.vms {
        eprintln!(
            "{}: clock {:+.2} s off the KVM host's after the install",
            vm.domain,
            lab.clock_offset(vm.address)
        );
    }

    // Real systemd runs what the install enabled, the real containerd among it, on every
    // VM (checked first, so that a run that fails late still shows what it brought up);
    // the VMs resolve the endpoint through the libvirt network's DNS.
    let units = ["containerd", "kubelet"];
    install::check_units(&lab, &units, &report);
    install::check_real_containerd(&lab);
    install::check_resolves(&lab, &setup.endpoint, lab.vms[0].address, &report);
    install::write_cni_config(&lab);

    // Every VM rebooted at once (`virsh reboot`): what prepare set up is still in place
    // and the services come back under systemd.
    lab.reboot_all();
    for i in 0..lab.vms.len() {
        install::wait_back(&lab, i, &units, &report);
    }
    assert!(out.status.success(), "{report}");

    // The kubelets start the control plane's static Pods again after the reboot: the
    // real kubectl here, through the endpoint's name, lists every node Ready within
    // three minutes. Then `kubewiz apply` again changes nothing.
    setup.wait_nodes_ready(&lab, Duration::from_secs(180));
    setup.apply_again_changes_nothing(&lab);
    eprintln!(
        "single_master_installs_on_vms_with_systemd_through_a_power_loss: {:.0?}",
        started.elapsed()
    );
}
