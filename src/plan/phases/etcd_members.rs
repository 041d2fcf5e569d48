//! Stacked etcd's membership, asked and changed with etcdctl on the first control
//! plane (its kubeadm-issued healthcheck client certificate): the quorum check before
//! a member is taken out, the member's removal, and the check that every control
//! plane is a started, healthy member. These are commands other phases put in their
//! steps; this file is no phase of its own.

use crate::render::etcd;
use crate::render::pki::K8S_PKI_DIR;
use crate::shell::quote;
use crate::spec::HostSpec;
use crate::spec::layout::Layout;

/// etcdctl with the first control plane's client certificate, against `endpoint`.
fn etcdctl(endpoint: &str) -> String {
    let pki = format!("{K8S_PKI_DIR}/etcd");
    format!(
        "ETCDCTL_API=3 etcdctl --endpoints={endpoint} --cacert={pki}/ca.crt --cert={pki}/healthcheck-client.crt --key={pki}/healthcheck-client.key --command-timeout=5s"
    )
}

const NEEDS_ETCDCTL: &str = "command -v etcdctl >/dev/null || { echo 'etcdctl is not installed on this host: install etcd-client, or put etcdctl in the bundle' >&2; exit 1; }";

/// Reads `etcdctl member list -w simple` (ID, status, name, peer URLs, client URLs,
/// learner) into the shell loop `body`, with each voting member's health in `$ok`
/// (1 or 0), then runs `after` with `$n` voting members, `$h` of them healthy.
/// `$name` and `$peer` name the member in `body`.
fn each_voting_member(first: &HostSpec, body: &str, after: &str) -> String {
    let ask = etcdctl(&etcd::client_url(first.address));
    format!(
        "{NEEDS_ETCDCTL}; list=$({ask} member list -w simple) || {{ echo 'etcd does not answer on {first}: its member list cannot be read' >&2; exit 1; }}; \
printf '%s\\n' \"$list\" | {{ n=0; h=0; \
while IFS=', ' read -r id status name peer client learner; do \
[ -n \"$id\" ] || continue; [ \"$learner\" = true ] && {{ echo \"learner $name ($peer): not voting\"; continue; }}; \
n=$((n+1)); ok=0; \
if [ -n \"$client\" ] && {health} endpoint health >/dev/null 2>&1; then ok=1; h=$((h+1)); fi; \
if [ $ok = 1 ]; then echo \"member ${{name:-unstarted}} ($peer): healthy\"; else echo \"member ${{name:-unstarted}} ($peer): unhealthy\"; fi; \
{body} \
done; {after}; }}",
        first = first.name,
        health = etcdctl("$client"),
    )
}

/// A check that `host`'s member can be taken out of stacked etcd without losing
/// quorum: afterwards a majority of the voting members left must be healthy. A host
/// that is no member any more passes (a removal that stopped after it).
pub fn quorum_check(layout: &Layout, host: &HostSpec) -> String {
    let first = layout.first_control_plane();
    let peer = quote(&etcd::peer_url(host.address));
    let name = &host.name;
    let decide = format!(
        "if [ \"${{found:-0}}\" = 0 ]; then echo '{name} is no member of etcd: nothing to take out'; exit 0; fi; \
left=$((n-1)); healthy=$((h-mine)); need=$((left/2+1)); \
if [ $left -lt 1 ]; then echo '{name} is the last member of etcd: it cannot be taken out' >&2; exit 1; fi; \
if [ $healthy -lt $need ]; then echo \"taking {name} out leaves $left members of which $healthy answer healthy; etcd needs $need for quorum: bring the unhealthy members back, or replace them one at a time, first\" >&2; exit 1; fi; \
echo \"taking {name} out leaves $left members, $healthy healthy ($need needed for quorum)\""
    );
    each_voting_member(
        first,
        &format!(
            "if [ \"$name\" = {name} ] || [ \"$peer\" = {peer} ]; then found=1; mine=$ok; fi;"
        ),
        &decide,
    )
}

/// `host`'s member removed from stacked etcd, found by its name or its peer URL;
/// nothing when it is no member (kubeadm reset on the host removed it already).
pub fn remove_member(layout: &Layout, host: &HostSpec) -> String {
    let first = layout.first_control_plane();
    let ask = etcdctl(&etcd::client_url(first.address));
    let peer = etcd::peer_url(host.address);
    let name = &host.name;
    format!(
        "{NEEDS_ETCDCTL}; id=$({ask} member list -w simple | awk -F', ' '$3 == \"{name}\" || $4 == \"{peer}\" {{ print $1; exit }}'); \
if [ -n \"$id\" ]; then {ask} member remove \"$id\"; else echo '{name} is no member of etcd'; fi"
    )
}

/// Every control plane of stacked etcd is a started voting member and answers
/// healthy, and there is no other member.
pub fn all_members_healthy(layout: &Layout) -> String {
    let first = layout.first_control_plane();
    let want = layout.control_planes.len();
    let expected: Vec<String> = layout
        .control_planes
        .iter()
        .map(|h| etcd::peer_url(h.address))
        .collect();
    let body = format!(
        "case \" {} \" in *\" $peer \"*) ;; *) echo \"member ${{name:-unstarted}} ($peer) is no control plane of the cluster\" >&2; bad=1;; esac; [ $ok = 1 ] || bad=1;",
        expected.join(" ")
    );
    let decide = format!(
        "if [ $n -ne {want} ] || [ \"${{bad:-0}}\" = 1 ]; then echo \"etcd has $n voting members, $h healthy; it should have the {want} control planes, all healthy\" >&2; exit 1; fi"
    );
    each_voting_member(first, &body, &decide)
}
