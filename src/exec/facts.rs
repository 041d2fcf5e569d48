//! What the runner learns about each host before changing anything: gathered once by
//! one POSIX shell script, parsed into types, and used by preflight and by later
//! phases (which package manager, whether an earlier install is this cluster's).

use std::collections::BTreeSet;

use crate::plan::OsFamily;

/// Prints one `key=value` line per fact; every command is read-only.
pub const SCRIPT: &str = r#"exec 2>/dev/null
export LC_ALL=C
# First, so that the time is read as the script starts, not after the other facts.
echo "time=$(date +%s.%N)"
. /etc/os-release
echo "os=${PRETTY_NAME:-${ID:-unknown}}"
echo "machine_id=$(cat /etc/machine-id)"
echo "hostname=$(hostname)"
echo "kernel=$(uname -r)"
echo "cgroup=$(stat -fc %T /sys/fs/cgroup)"
echo "swap_kb=$(awk 'NR > 1 { s += $3 } END { print s + 0 }' /proc/swaps)"
echo "cpus=$(nproc)"
echo "mem_kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)"
echo "apt=$(command -v apt-get >/dev/null && echo yes)"
echo "dnf=$(command -v dnf >/dev/null && echo yes)"
echo "helm=$(command -v helm >/dev/null && echo yes)"
echo "listening=$( { ss -Hltn || netstat -ltn; } | awk '{ print $4 }' | sed -n 's/.*:\([0-9][0-9]*\)$/\1/p' | sort -un | tr '\n' ' ')"
echo "kubelet_conf=$(test -f /etc/kubernetes/kubelet.conf && echo yes)"
echo "cluster_ca=$(sha256sum /etc/kubernetes/pki/ca.crt | cut -c1-64)"
echo "etcd_ca=$(sha256sum /etc/etcd/pki/ca.crt | cut -c1-64)"
echo "lb_cluster=$(sed -n '1s/^# Rendered by kubewiz for cluster \([^:]*\):.*/\1/p' /etc/haproxy/haproxy.cfg 2>/dev/null)"
"#;

/// A host's facts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    pub os: String,
    pub machine_id: String,
    pub hostname: String,
    pub kernel: String,
    /// True on the unified cgroup hierarchy (cgroup2fs).
    pub cgroup_v2: bool,
    pub swap_kb: u64,
    pub cpus: u32,
    pub mem_kb: u64,
    pub os_family: Option<OsFamily>,
    pub helm: bool,
    pub listening: BTreeSet<u16>,
    /// /etc/kubernetes/kubelet.conf exists: the host already joined a cluster.
    pub kubelet_conf: bool,
    /// sha256 of /etc/kubernetes/pki/ca.crt (an earlier install's CA), if any.
    pub cluster_ca: Option<String>,
    /// sha256 of /etc/etcd/pki/ca.crt, if any.
    pub etcd_ca: Option<String>,
    /// The cluster whose load balancer kubewiz made this host (its haproxy.cfg's first
    /// line), if any.
    pub lb_cluster: Option<String>,
    /// The host's clock minus the KVM host's, in seconds, measured around the script.
    pub clock_offset: f64,
    /// How far `clock_offset` may be from the truth, in seconds: half the round trip of
    /// the read it came from (0 when unknown).
    pub clock_uncertainty: f64,
}

/// Reads the host's clock alone, for [`clock_sample`].
pub const CLOCK_COMMAND: &str = "date +%s.%N";

/// The host's clock against the KVM host's from one [`CLOCK_COMMAND`] that was sent at
/// `sent` and had finished at `back` (KVM host clock, seconds since the epoch):
/// `(offset, uncertainty)`, the offset taken at the middle of the round trip and good
/// to half of it. None when the output is not a time.
pub fn clock_sample(output: &str, sent: f64, back: f64) -> Option<(f64, f64)> {
    let remote: f64 = output.lines().next()?.trim().parse().ok()?;
    let half = ((back - sent) / 2.0).max(0.0);
    Some((remote - (sent + half), half))
}

/// Parses the script's output; `local_time` is the KVM host's clock (seconds since the
/// epoch) at the middle of the command.
pub fn parse(output: &str, local_time: f64) -> Result<Facts, String> {
    let mut facts = Facts::default();
    let mut seen_time = false;
    for line in output.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        let number = |what: &str| {
            value
                .parse::<u64>()
                .map_err(|_| format!("the host reported {what} as {value:?}"))
        };
        match key {
            "os" => facts.os = value.to_owned(),
            "machine_id" => facts.machine_id = value.to_owned(),
            "hostname" => facts.hostname = value.to_owned(),
            "kernel" => facts.kernel = value.to_owned(),
            "cgroup" => facts.cgroup_v2 = value == "cgroup2fs",
            "swap_kb" => facts.swap_kb = number("swap")?,
            "cpus" => facts.cpus = number("the CPU count")? as u32,
            "mem_kb" => facts.mem_kb = number("memory")?,
            "apt" if value == "yes" => facts.os_family = Some(OsFamily::Apt),
            "dnf" if value == "yes" && facts.os_family.is_none() => {
                facts.os_family = Some(OsFamily::Dnf)
            }
            "helm" => facts.helm = value == "yes",
            "listening" => {
                facts.listening = value
                    .split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect()
            }
            "kubelet_conf" => facts.kubelet_conf = value == "yes",
            "cluster_ca" => facts.cluster_ca = (!value.is_empty()).then(|| value.to_owned()),
            "etcd_ca" => facts.etcd_ca = (!value.is_empty()).then(|| value.to_owned()),
            "lb_cluster" => facts.lb_cluster = (!value.is_empty()).then(|| value.to_owned()),
            "time" => {
                let remote: f64 = value
                    .parse()
                    .map_err(|_| format!("the host reported its time as {value:?}"))?;
                facts.clock_offset = remote - local_time;
                seen_time = true;
            }
            _ => {}
        }
    }
    if !seen_time || facts.hostname.is_empty() {
        return Err("the facts script gave no usable output: is /bin/sh a POSIX shell?".into());
    }
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_debian_host() {
        let out = "os=Debian GNU/Linux 12 (bookworm)\nmachine_id=abc\nhostname=kubenode-1\nkernel=6.1.0\ncgroup=cgroup2fs\nswap_kb=0\ncpus=2\nmem_kb=4025000\napt=yes\ndnf=\nhelm=\nlistening=22 68 \nkubelet_conf=\ncluster_ca=\netcd_ca=\ntime=1000.5\n";
        let facts = parse(out, 1000.0).unwrap();
        assert_eq!(facts.os_family, Some(OsFamily::Apt));
        assert!(facts.cgroup_v2);
        assert_eq!(facts.listening, BTreeSet::from([22, 68]));
        assert_eq!(facts.cluster_ca, None);
        assert!((facts.clock_offset - 0.5).abs() < 1e-9);
    }

    #[test]
    fn a_clock_sample_is_taken_at_the_middle_of_its_round_trip() {
        let (offset, uncertainty) = clock_sample("1000.75\n", 1000.0, 1001.0).unwrap();
        assert!((offset - 0.25).abs() < 1e-9, "{offset}");
        assert!((uncertainty - 0.5).abs() < 1e-9, "{uncertainty}");
        assert_eq!(clock_sample("dry run: not executed\n", 0.0, 1.0), None);
    }

    #[test]
    fn refuses_garbage() {
        assert!(parse("", 0.0).is_err());
        assert!(
            parse("hostname=a\ncpus=many\ntime=1", 0.0)
                .unwrap_err()
                .contains("CPU count")
        );
    }
}
