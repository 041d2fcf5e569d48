//! Checks on every host's facts before anything changes, with the cause and the fix.

use std::collections::BTreeMap;

use super::facts::Facts;
use crate::plan::{CaDigests, HostNeeds};

/// kubeadm's limits for a control plane.
const MIN_CPUS: u32 = 2;
const MIN_MEM_MB: u64 = 1700;
/// The largest clock difference etcd and TLS tolerate comfortably.
const MAX_CLOCK_OFFSET: f64 = 1.0;

/// One host's problem: `fatal` stops the run before anything changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub fatal: bool,
    pub message: String,
}

/// The problems of `host`, which needs what `needs` says, seen with every host's
/// facts. `ca` holds this cluster's CA digests, to tell a resumed install from another
/// cluster's.
pub fn check(
    needs: &HostNeeds,
    all: &BTreeMap<String, Facts>,
    host: &str,
    ca: &CaDigests,
) -> Vec<Problem> {
    let mut out = Vec::new();
    let Some(facts) = all.get(host) else {
        return vec![Problem {
            fatal: true,
            message: "no facts were gathered".into(),
        }];
    };
    let mut fatal = |message: String| {
        out.push(Problem {
            fatal: true,
            message,
        })
    };
    if let Some((other, _)) = all.iter().find(|(name, f)| {
        name.as_str() < host && !f.machine_id.is_empty() && f.machine_id == facts.machine_id
    }) {
        fatal(format!(
            "{host} has the same /etc/machine-id as {other} (cloned VMs share it, and Kubernetes tells nodes apart by it): on {host} run `rm /etc/machine-id && systemd-machine-id-setup`, then reboot"
        ));
    }
    // Off by more than the limit however the round trip of the read is split.
    if facts.clock_offset.abs() - facts.clock_uncertainty > MAX_CLOCK_OFFSET {
        let within = if facts.clock_uncertainty >= 0.05 {
            format!(" (±{:.1} s)", facts.clock_uncertainty)
        } else {
            String::new()
        };
        fatal(format!(
            "the clock is {:.1} s{within} off the KVM host's; etcd and TLS need synchronised clocks: enable NTP (`timedatectl set-ntp true`)",
            facts.clock_offset
        ));
    }
    let (is_cp, is_node, is_etcd) = (needs.control_plane, needs.node, needs.etcd);
    if is_cp && facts.cpus < MIN_CPUS {
        fatal(format!(
            "{} CPU(s); a control plane needs {MIN_CPUS} (kubeadm refuses fewer): give the VM more vCPUs",
            facts.cpus
        ));
    }
    if is_cp && facts.mem_kb / 1024 < MIN_MEM_MB {
        fatal(format!(
            "{} MB of memory; a control plane needs {MIN_MEM_MB} MB (kubeadm refuses less): give the VM more memory",
            facts.mem_kb / 1024
        ));
    }
    let ours = facts.cluster_ca.as_deref() == Some(ca.kubernetes.as_str())
        || facts.etcd_ca.as_deref() == Some(ca.etcd.as_str())
        || facts.lb_cluster.as_deref() == Some(ca.cluster.as_str());
    if (is_node && (facts.kubelet_conf || facts.cluster_ca.is_some())
        || is_etcd && facts.etcd_ca.is_some())
        && !ours
    {
        fatal(format!(
            "{host} already belongs to another cluster (its CA is not this cluster's): run `kubeadm reset` on it, or `kubewiz reset` with that cluster's preset"
        ));
    }
    if !ours {
        let busy: Vec<String> = needs
            .ports
            .iter()
            .filter(|p| facts.listening.contains(p))
            .map(|p| p.to_string())
            .collect();
        if !busy.is_empty() {
            fatal(format!(
                "port(s) {} are already in use; find the program with `ss -ltnp` and stop it",
                busy.join(", ")
            ));
        }
    }
    if needs.package_manager && facts.os_family.is_none() {
        fatal(format!(
            "neither apt-get nor dnf was found on {host} ({}); kubewiz installs packages with one of them",
            facts.os
        ));
    }
    if needs.helm && !facts.helm {
        fatal("cni = cilium is installed with helm, which is not on this host: install helm, or choose another CNI".into());
    }
    if let Some((other, _)) = all
        .iter()
        .find(|(name, f)| name.as_str() < host && f.hostname == facts.hostname)
    {
        out.push(Problem {
            fatal: false,
            message: format!(
                "its hostname {} is also {other}'s; kubewiz sets each host's name in prepare",
                facts.hostname
            ),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::OsFamily;
    use crate::spec::layout::Layout;

    fn spec() -> crate::spec::ClusterSpec {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("presets/stacked-ha.toml");
        crate::spec::load_file(&path).unwrap().spec
    }

    fn healthy(name: &str, id: &str) -> Facts {
        Facts {
            os: "Debian".into(),
            machine_id: id.into(),
            hostname: name.into(),
            cgroup_v2: true,
            cpus: 2,
            mem_kb: 4 << 20,
            os_family: Some(OsFamily::Apt),
            listening: [22].into(),
            ..Facts::default()
        }
    }

    fn all_healthy(spec: &crate::spec::ClusterSpec) -> BTreeMap<String, Facts> {
        spec.hosts
            .iter()
            .enumerate()
            .map(|(i, h)| {
                (
                    h.name.to_string(),
                    healthy(h.name.as_str(), &format!("id{i}")),
                )
            })
            .collect()
    }

    fn fatal(layout: &Layout, all: &BTreeMap<String, Facts>, host: &str) -> Vec<String> {
        let ca = CaDigests {
            kubernetes: "ours".into(),
            etcd: "ours-etcd".into(),
            cluster: "homelab".into(),
        };
        check(&HostNeeds::of(layout, host), all, host, &ca)
            .into_iter()
            .filter(|p| p.fatal)
            .map(|p| p.message)
            .collect()
    }

    #[test]
    fn healthy_hosts_pass() {
        let spec = spec();
        let layout = Layout::new(&spec).unwrap();
        let all = all_healthy(&spec);
        for host in &spec.hosts {
            assert!(
                fatal(&layout, &all, host.name.as_str()).is_empty(),
                "{}",
                host.name
            );
        }
    }

    #[test]
    fn cloned_vms_busy_ports_small_vms_and_foreign_clusters_are_stopped() {
        let spec = spec();
        let layout = Layout::new(&spec).unwrap();
        let mut all = all_healthy(&spec);
        all.get_mut("kubemaster-2").unwrap().machine_id = "id0".into();
        let m = fatal(&layout, &all, "kubemaster-2");
        assert!(
            m[0].contains("same /etc/machine-id as kubemaster-1")
                && m[0].contains("systemd-machine-id-setup"),
            "{m:?}"
        );
        assert!(
            fatal(&layout, &all, "kubemaster-1").is_empty(),
            "only the later host is blamed"
        );

        let mut all = all_healthy(&spec);
        all.get_mut("kubemaster-1")
            .unwrap()
            .listening
            .extend([6443, 2379]);
        assert_eq!(
            fatal(&layout, &all, "kubemaster-1"),
            ["port(s) 2379, 6443 are already in use; find the program with `ss -ltnp` and stop it"]
        );
        // haproxy on the control planes needs its frontend port too.
        all.get_mut("kubemaster-3").unwrap().listening.insert(8443);
        assert!(fatal(&layout, &all, "kubemaster-3")[0].contains("8443"));
        // Another cluster's haproxy holds it just the same; this cluster's own (an
        // apply on the installed cluster, on a load balancer with no CA) is fine.
        all.get_mut("kubemaster-3").unwrap().lb_cluster = Some("other".into());
        assert!(fatal(&layout, &all, "kubemaster-3")[0].contains("8443"));
        all.get_mut("kubemaster-3").unwrap().lb_cluster = Some("homelab".into());
        assert!(fatal(&layout, &all, "kubemaster-3").is_empty());

        let mut all = all_healthy(&spec);
        let cp = all.get_mut("kubemaster-1").unwrap();
        cp.cpus = 1;
        cp.mem_kb = 1024 * 1024;
        cp.clock_offset = -3.2;
        let m = fatal(&layout, &all, "kubemaster-1");
        assert_eq!(m.len(), 3, "{m:?}");
        assert!(m.iter().any(|s| s.contains("-3.2 s off")));
        // A read whose round trip was slow proves less: 1.5 s ahead, good to 0.8 s, may
        // be 0.7 s; 2.0 s good to 0.5 s is off by 1.5 s at least.
        let mut all = all_healthy(&spec);
        let cp = all.get_mut("kubemaster-1").unwrap();
        cp.clock_offset = 1.5;
        cp.clock_uncertainty = 0.8;
        assert!(fatal(&layout, &all, "kubemaster-1").is_empty());
        let cp = all.get_mut("kubemaster-1").unwrap();
        cp.clock_offset = 2.0;
        cp.clock_uncertainty = 0.5;
        assert_eq!(
            fatal(&layout, &all, "kubemaster-1"),
            [
                "the clock is 2.0 s (±0.5 s) off the KVM host's; etcd and TLS need synchronised clocks: enable NTP (`timedatectl set-ntp true`)"
            ]
        );

        let mut all = all_healthy(&spec);
        let worker = all.get_mut("kubenode-1").unwrap();
        worker.kubelet_conf = true;
        worker.cluster_ca = Some("theirs".into());
        assert!(
            fatal(&layout, &all, "kubenode-1")[0].contains("already belongs to another cluster")
        );
        // This cluster's own earlier install (a resumed run) is fine, ports and all.
        let worker = all.get_mut("kubenode-1").unwrap();
        worker.cluster_ca = Some("ours".into());
        worker.listening.insert(10250);
        assert!(fatal(&layout, &all, "kubenode-1").is_empty());

        let mut all = all_healthy(&spec);
        all.get_mut("kubenode-2").unwrap().os_family = None;
        assert!(fatal(&layout, &all, "kubenode-2")[0].contains("neither apt-get nor dnf"));
    }
}
