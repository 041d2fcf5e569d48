//! etcd's membership, asked and changed with etcdctl from one host with a client
//! certificate (`Access`): stacked etcd from the first control plane (kubeadm's
//! healthcheck client), external etcd from one of its members. The quorum check
//! before a member is taken out, the member's removal, and the check that the members
//! are the hosts the preset names, all healthy. These are commands other phases put
//! in their steps; this file is no phase of its own.

use crate::render::etcd;
use crate::render::pki::{ETCD_PKI_DIR, K8S_PKI_DIR};
use crate::shell::quote;
use crate::spec::HostSpec;
use crate::spec::layout::Layout;

/// Where etcdctl runs against etcd: the host, and the directory of its CA and
/// healthcheck client certificate.
pub struct Access<'a> {
    pub on: &'a HostSpec,
    pki: String,
}

/// How the cluster of `layout` reaches its etcd without `except` (a member being taken
/// out): stacked, from the first other control plane; external, from the first other
/// member. None when there is no other member.
pub fn access<'a>(layout: &Layout<'a>, except: &str) -> Option<Access<'a>> {
    if layout.etcd.is_empty() {
        return super::acting_control_plane(layout, except).map(|on| Access {
            on,
            pki: format!("{K8S_PKI_DIR}/etcd"),
        });
    }
    layout
        .etcd
        .iter()
        .copied()
        .find(|h| h.name.as_str() != except)
        .map(|on| Access {
            on,
            pki: ETCD_PKI_DIR.to_owned(),
        })
}

/// The etcd members of `layout`: the control planes of stacked etcd, or the etcd hosts.
pub fn members<'a>(layout: &Layout<'a>) -> Vec<&'a HostSpec> {
    if layout.etcd.is_empty() {
        layout.control_planes.clone()
    } else {
        layout.etcd.clone()
    }
}

/// `host` when it runs an etcd member of `layout`'s cluster.
pub fn member<'a>(layout: &Layout<'a>, host: &str) -> Option<&'a HostSpec> {
    members(layout)
        .into_iter()
        .find(|h| h.name.as_str() == host)
}

impl Access<'_> {
    /// etcdctl with this access's client certificate, against `endpoint`.
    pub fn etcdctl(&self, endpoint: &str) -> String {
        let pki = &self.pki;
        format!(
            "ETCDCTL_API=3 etcdctl --endpoints={endpoint} --cacert={pki}/ca.crt --cert={pki}/healthcheck-client.crt --key={pki}/healthcheck-client.key --command-timeout=5s"
        )
    }

    /// etcdctl against this host's own member.
    fn local(&self) -> String {
        self.etcdctl(&etcd::client_url(self.on.address))
    }

    /// Reads `etcdctl member list -w simple` (ID, status, name, peer URLs, client URLs,
    /// learner) into the shell loop `body`, with each voting member's health in `$ok`
    /// (1 or 0), then runs `after` with `$n` voting members, `$h` of them healthy.
    /// `$name` and `$peer` name the member in `body`.
    fn each_voting_member(&self, body: &str, after: &str) -> String {
        format!(
            "{NEEDS_ETCDCTL}; list=$({ask} member list -w simple) || {{ echo 'etcd does not answer on {on}: its member list cannot be read' >&2; exit 1; }}; \
printf '%s\\n' \"$list\" | {{ n=0; h=0; \
while IFS=', ' read -r id status name peer client learner; do \
[ -n \"$id\" ] || continue; [ \"$learner\" = true ] && {{ echo \"learner $name ($peer): not voting\"; continue; }}; \
n=$((n+1)); ok=0; \
if [ -n \"$client\" ] && {health} endpoint health >/dev/null 2>&1; then ok=1; h=$((h+1)); fi; \
if [ $ok = 1 ]; then echo \"member ${{name:-unstarted}} ($peer): healthy\"; else echo \"member ${{name:-unstarted}} ($peer): unhealthy\"; fi; \
{body} \
done; {after}; }}",
            ask = self.local(),
            on = self.on.name,
            health = self.etcdctl("$client"),
        )
    }

    /// A check that `host`'s member can be taken out without losing quorum:
    /// afterwards a majority of the voting members left must be healthy. A host that
    /// is no member any more passes (a removal that stopped after it).
    pub fn quorum_check(&self, host: &HostSpec) -> String {
        let peer = quote(&etcd::peer_url(host.address));
        let name = &host.name;
        let decide = format!(
            "if [ \"${{found:-0}}\" = 0 ]; then echo '{name} is no member of etcd: nothing to take out'; exit 0; fi; \
left=$((n-1)); healthy=$((h-mine)); need=$((left/2+1)); \
if [ $left -lt 1 ]; then echo '{name} is the last member of etcd: it cannot be taken out' >&2; exit 1; fi; \
if [ $healthy -lt $need ]; then echo \"taking {name} out leaves $left members of which $healthy answer healthy; etcd needs $need for quorum: bring the unhealthy members back, or replace them one at a time, first\" >&2; exit 1; fi; \
echo \"taking {name} out leaves $left members, $healthy healthy ($need needed for quorum)\""
        );
        self.each_voting_member(
            &format!(
                "if [ \"$name\" = {name} ] || [ \"$peer\" = {peer} ]; then found=1; mine=$ok; fi;"
            ),
            &decide,
        )
    }

    /// `host`'s member removed, found by its name or its peer URL; nothing when it is
    /// no member (kubeadm reset on the host removed it already).
    pub fn remove_member(&self, host: &HostSpec) -> String {
        let ask = self.local();
        let peer = etcd::peer_url(host.address);
        let name = &host.name;
        format!(
            "{NEEDS_ETCDCTL}; id=$({ask} member list -w simple | awk -F', ' '$3 == \"{name}\" || $4 == \"{peer}\" {{ print $1; exit }}'); \
if [ -n \"$id\" ]; then {ask} member remove \"$id\"; else echo '{name} is no member of etcd'; fi"
        )
    }

    /// The voting members are exactly `members`, started and healthy.
    pub fn all_members_healthy(&self, members: &[&HostSpec]) -> String {
        let want = members.len();
        let expected: Vec<String> = members.iter().map(|h| etcd::peer_url(h.address)).collect();
        let body = format!(
            "case \" {} \" in *\" $peer \"*) ;; *) echo \"member ${{name:-unstarted}} ($peer) is no etcd host of the preset\" >&2; bad=1;; esac; [ $ok = 1 ] || bad=1;",
            expected.join(" ")
        );
        let decide = format!(
            "if [ $n -ne {want} ] || [ \"${{bad:-0}}\" = 1 ]; then echo \"etcd has $n voting members, $h healthy; it should have the preset's {want}, all healthy\" >&2; exit 1; fi"
        );
        self.each_voting_member(&body, &decide)
    }
}

const NEEDS_ETCDCTL: &str = "command -v etcdctl >/dev/null || { echo 'etcdctl is not installed on this host: install etcd-client, or put etcdctl in the bundle' >&2; exit 1; }";
