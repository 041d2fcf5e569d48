//! Checking every certificate of an installed cluster, for `kubewiz certs check` and
//! the wizard's manage view: kept in the state directory and placed on the hosts, each
//! with its expiry, its signer and whether the host's copy is the kept one. Nothing is
//! changed: the kept PKI is only read, hosts only read over SSH.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use crate::exec::certs::read_hosts;
use crate::exec::kubeconfig::client_cert;
use crate::exec::ssh::Ssh;
use crate::files::Target;
use crate::pki::profiles::{self, Authority, LeafId};
use crate::pki::{self, Pki, RENEW_BEFORE_DAYS};
use crate::spec::ClusterSpec;
use crate::spec::layout::Layout;
use crate::state::ClusterState;

/// How long a host may take to accept the connection, and to answer every read.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const HOST_TIMEOUT: Duration = Duration::from_secs(30);

/// The kubelet's current client certificate and key.
const KUBELET_CLIENT: &str = "/var/lib/kubelet/pki/kubelet-client-current.pem";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Ok,
    Warning,
    Error,
}

impl Severity {
    pub fn word(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One certificate, where it was read, and what to say of it.
pub struct Finding {
    pub severity: Severity,
    pub place: String,
    pub path: String,
    pub text: String,
    /// It expires within the renewal window or has expired: `certs renew` helps.
    pub due: bool,
}

/// A certificate to look at: where, its PEM as read (None: missing), the kept copy
/// it should equal (None: nothing kept to compare with).
struct Seen<'a> {
    place: &'a str,
    path: &'a str,
    pem: Option<&'a [u8]>,
    kept: Option<&'a [u8]>,
}

/// What was found of every certificate of the cluster.
pub struct Report {
    pub findings: Vec<Finding>,
}

impl Report {
    /// The worst of the findings (ok when there is none).
    pub fn worst(&self) -> Severity {
        self.findings
            .iter()
            .map(|f| f.severity)
            .max()
            .unwrap_or(Severity::Ok)
    }

    /// One line per certificate, in columns: severity, where, path, what.
    pub fn lines(&self) -> Vec<String> {
        let place_width = self
            .findings
            .iter()
            .map(|f| f.place.len())
            .max()
            .unwrap_or(0);
        let path_width = self
            .findings
            .iter()
            .map(|f| f.path.len())
            .max()
            .unwrap_or(0);
        self.findings
            .iter()
            .map(|f| {
                format!(
                    "{:<7}  {:<place_width$}  {:<path_width$}  {}",
                    f.severity.word(),
                    f.place,
                    f.path,
                    f.text
                )
            })
            .collect()
    }

    /// "N certificates: A ok, B warnings, C errors".
    pub fn summary(&self) -> String {
        let count = |s: Severity| self.findings.iter().filter(|f| f.severity == s).count();
        format!(
            "{} certificates: {} ok, {} warnings, {} errors",
            self.findings.len(),
            count(Severity::Ok),
            count(Severity::Warning),
            count(Severity::Error)
        )
    }

    /// Whether a certificate is within the renewal window or expired.
    pub fn due(&self) -> bool {
        self.findings.iter().any(|f| f.due)
    }
}

/// Every certificate of the installed cluster `spec` of `cluster`: the kept ones, and
/// what the hosts hold, read over SSH (10 s to connect, 30 s for all of a host's
/// reads; a host that does not answer is an error of its own). Blocks.
pub fn check(spec: &ClusterSpec, cluster: &ClusterState) -> Result<Report, String> {
    let layout = Layout::new(spec).map_err(|e| e.to_string())?;
    let pki_dir = cluster.pki_dir();
    let kept = super::kept_pki(cluster, &layout)?;
    let kubeconfigs = pki::renew::kept_kubeconfigs(&pki_dir, &layout).map_err(|e| e.to_string())?;
    let now = OffsetDateTime::now_utc();
    let mut findings = Vec::new();

    // The state directory: the CAs, every leaf, the kubeconfig clients of a renewal.
    let state_place = "state";
    let mut kept_files: Vec<(String, String)> = Authority::ALL
        .iter()
        .map(|a| {
            (
                format!("pki/{}.crt", a.stem()),
                kept.authority(*a).cert_pem.clone(),
            )
        })
        .collect();
    kept_files.extend(
        kept.leaves
            .iter()
            .map(|(id, pair)| (format!("pki/{}.crt", id.stem()), pair.cert_pem.clone())),
    );
    kept_files.extend(
        kubeconfigs
            .iter()
            .map(|(id, pair)| (format!("pki/{}.crt", id.stem()), pair.cert_pem.clone())),
    );
    for (path, pem) in &kept_files {
        let seen = Seen {
            place: state_place,
            path,
            pem: Some(pem.as_bytes()),
            kept: None,
        };
        findings.push(judge(&seen, &kept, now));
    }

    // The hosts: what kubewiz placed, and the control planes' kubeconfigs.
    let mut wanted: BTreeMap<String, Vec<(String, Option<String>, bool)>> = BTreeMap::new();
    for file in crate::render::pki::files(&layout, &kept) {
        if let Target::Host(host) = &file.target
            && file.path.ends_with(".crt")
        {
            wanted.entry(host.clone()).or_default().push((
                file.path.clone(),
                Some(file.content.clone()),
                false,
            ));
        }
    }
    for cp in &layout.control_planes {
        for (name, _, _) in profiles::KUBECONFIGS {
            let id = LeafId::of_host(cp.name.as_str(), name);
            let kept_cert = kubeconfigs.get(&id).map(|p| p.cert_pem.clone());
            wanted.entry(cp.name.to_string()).or_default().push((
                format!("/etc/kubernetes/{name}"),
                kept_cert,
                true,
            ));
        }
    }
    // Hosts with a kubelet: its client certificate (it rotates it itself; shown for its
    // expiry), and on workers the CA `kubeadm join` wrote.
    let kubernetes_ca = kept.authority(Authority::Kubernetes).cert_pem.clone();
    for host in layout.control_planes.iter().chain(&layout.workers) {
        let files = wanted.entry(host.name.to_string()).or_default();
        if !layout.control_planes.iter().any(|cp| cp.name == host.name) {
            files.push((
                "/etc/kubernetes/pki/ca.crt".into(),
                Some(kubernetes_ca.clone()),
                false,
            ));
        }
        files.push((KUBELET_CLIENT.into(), None, true));
    }
    let paths: BTreeMap<String, Vec<String>> = wanted
        .iter()
        .map(|(h, files)| (h.clone(), files.iter().map(|f| f.0.clone()).collect()))
        .collect();
    let transport = Arc::new(Ssh::new(false).with_connect_timeout(CONNECT_TIMEOUT));
    let read = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start: {e}"))?
        .block_on(read_hosts(transport, spec, paths, HOST_TIMEOUT));
    for (host, files) in &wanted {
        let contents = match read.get(host) {
            Some(Ok(contents)) => contents,
            Some(Err(why)) => {
                findings.push(Finding {
                    severity: Severity::Error,
                    place: host.clone(),
                    path: "-".into(),
                    text: format!(
                        "the host does not answer: {why}; its certificates were not checked"
                    ),
                    due: false,
                });
                continue;
            }
            None => continue,
        };
        for (path, kept_pem, optional) in files {
            let raw = contents.get(path).cloned().flatten();
            let pem = if *optional {
                match &raw {
                    // kubeadm writes super-admin.conf on the first control plane only;
                    // a kubelet that has not joined has no client certificate yet.
                    None => continue,
                    Some(pem) if path == KUBELET_CLIENT => Some(pem.clone()),
                    Some(conf) => match client_cert(conf) {
                        Some(pem) => Some(pem),
                        None => continue,
                    },
                }
            } else {
                raw
            };
            let seen = Seen {
                place: host,
                path,
                pem: pem.as_deref(),
                kept: kept_pem.as_deref().map(str::as_bytes),
            };
            findings.push(judge(&seen, &kept, now));
        }
    }

    Ok(Report { findings })
}

/// What to say of one certificate.
fn judge(seen: &Seen<'_>, kept: &Pki, now: OffsetDateTime) -> Finding {
    let finding = |severity, text: String| Finding {
        severity,
        place: seen.place.to_owned(),
        path: seen.path.to_owned(),
        text,
        due: false,
    };
    let Some(pem) = seen.pem else {
        return finding(
            Severity::Error,
            "missing; `kubewiz apply --phase pki` or `kubewiz certs renew` puts it back".into(),
        );
    };
    let info = match pki::describe(pem) {
        Ok(info) => info,
        Err(e) => return finding(Severity::Error, format!("unreadable: {e}")),
    };
    let signer = Authority::ALL
        .iter()
        .find(|a| pki::signed_by(pem, kept.authority(**a).cert_pem.as_bytes()));
    let days = info.days_left(now);
    let date = info
        .not_after
        .format(&time::macros::format_description!("[year]-[month]-[day]"))
        .unwrap_or_default();
    let mut severity = Severity::Ok;
    let mut notes = Vec::new();
    if days < 0 {
        severity = Severity::Error;
        notes.push("EXPIRED".to_owned());
    } else if days < RENEW_BEFORE_DAYS {
        severity = Severity::Warning;
        notes.push(format!("expires within {RENEW_BEFORE_DAYS} days"));
    }
    let signed = match signer {
        Some(a) => format!("signer {}", a.common_name()),
        None => {
            severity = Severity::Error;
            format!("signer {} (NOT a kept CA)", info.issuer_cn)
        }
    };
    if let Some(kept_pem) = seen.kept {
        if same_cert(pem, kept_pem) {
            notes.push("same as kept".into());
        } else {
            severity = severity.max(Severity::Warning);
            notes.push("DIFFERS from the kept copy".into());
        }
    }
    let mut found = finding(
        severity,
        format!(
            "{} serial {} expires {date} ({days} days) {signed}{}",
            info.subject_cn,
            info.serial,
            notes.iter().map(|n| format!("; {n}")).collect::<String>()
        ),
    );
    found.due = days < RENEW_BEFORE_DAYS;
    found
}

/// Whether two PEM texts hold the same certificate (line endings and spacing aside).
fn same_cert(a: &[u8], b: &[u8]) -> bool {
    match (pki::describe(a), pki::describe(b)) {
        (Ok(x), Ok(y)) => {
            x == y && {
                let strip = |t: &[u8]| -> Vec<u8> {
                    t.iter()
                        .copied()
                        .filter(|c| !c.is_ascii_whitespace())
                        .collect()
                };
                strip(a) == strip(b)
            }
        }
        _ => false,
    }
}
