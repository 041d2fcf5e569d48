//! The presets shipped in presets/, compiled in: "new cluster" starts from one of them
//! so an operator can press Next through every screen on a machine with no hosts and
//! no files, and "load a preset" lists them.

use crate::spec::{self, ClusterSpec, Topology};

/// A preset compiled into the binary.
pub struct Builtin {
    pub file: &'static str,
    pub text: &'static str,
}

/// Every shipped preset, in the order the start screen lists them.
pub const BUILTIN: &[Builtin] = &[
    Builtin {
        file: "kvm-lab.toml",
        text: include_str!("../../presets/kvm-lab.toml"),
    },
    Builtin {
        file: "single-node.toml",
        text: include_str!("../../presets/single-node.toml"),
    },
    Builtin {
        file: "single-master.toml",
        text: include_str!("../../presets/single-master.toml"),
    },
    Builtin {
        file: "stacked-ha.toml",
        text: include_str!("../../presets/stacked-ha.toml"),
    },
    Builtin {
        file: "stacked-ha-kube-vip.toml",
        text: include_str!("../../presets/stacked-ha-kube-vip.toml"),
    },
    Builtin {
        file: "external-etcd.toml",
        text: include_str!("../../presets/external-etcd.toml"),
    },
];

impl Builtin {
    /// The preset as a spec; `None` only if a shipped preset were broken, which the
    /// tests rule out.
    pub fn spec(&self) -> Option<ClusterSpec> {
        spec::parse(self.text).ok()
    }

    /// The preset's leading comment, which says what it is, as one line.
    pub fn summary(&self) -> String {
        // `#:schema` (the line editors read the JSON Schema from) is not part of it.
        self.text
            .lines()
            .skip_while(|l| l.starts_with("#:"))
            .map_while(|l| l.strip_prefix('#'))
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The spec "new cluster" starts with: the KVM lab (external etcd, 13 hosts).
pub fn default_spec() -> ClusterSpec {
    BUILTIN[0].spec().unwrap_or_else(minimal)
}

/// The shipped layout for `topology`, used when the operator picks a topology before
/// touching any host.
pub fn for_topology(topology: Topology) -> ClusterSpec {
    let file = match topology {
        Topology::SingleNode => "single-node.toml",
        Topology::SingleMaster => "single-master.toml",
        Topology::StackedHa => "stacked-ha.toml",
        Topology::ExternalEtcd => "kvm-lab.toml",
    };
    BUILTIN
        .iter()
        .find(|b| b.file == file)
        .and_then(Builtin::spec)
        .unwrap_or_else(|| {
            let mut spec = minimal();
            spec.topology = topology;
            spec
        })
}

/// A one-host cluster built in code, the fallback should a preset not parse.
fn minimal() -> ClusterSpec {
    let text = "name = \"lab\"\ntopology = \"single-node\"\n[[hosts]]\nname = \"kubemaster-1\"\naddress = \"192.168.122.11\"\nroles = [\"control-plane\", \"worker\"]\n";
    spec::parse(text).unwrap_or_else(|_| unreachable!("the literal minimal preset parses"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_parses_and_is_valid() {
        for b in BUILTIN {
            let spec = b
                .spec()
                .unwrap_or_else(|| panic!("{} does not parse", b.file));
            let errors: Vec<_> = spec::validate::validate(&spec)
                .into_iter()
                .filter(|d| d.is_error())
                .collect();
            assert!(errors.is_empty(), "{}: {errors:?}", b.file);
        }
        assert!(
            spec::validate::validate(&minimal())
                .iter()
                .all(|d| !d.is_error())
        );
    }
}
