//! Options: cluster name, Kubernetes version, CNI, image registry (with the known
//! mirrors), key algorithm, package source, proxy, SSH access and whether runs are
//! announced to the system log.

use std::path::PathBuf;

use ratatui::Frame;
use ratatui::crossterm::event::KeyEvent;
use ratatui::layout::Rect;

use super::Screen;
use crate::spec::{ClusterSpec, Cni, EncryptionAlgorithm, PackageSource};
use crate::tui::diags::errors_of;
use crate::tui::field::{self, optional};
use crate::tui::flow::{Outcome, View};
use crate::tui::form::{FieldDef, Form, choice, no_note};
use crate::tui::keys::Binding;

const CNI: &[&str] = &["calico", "flannel", "cilium", "none"];
const ALGORITHMS: &[&str] = &["RSA-2048", "RSA-3072", "RSA-4096", "ECDSA-P256"];
const SOURCES: &[&str] = &["online", "bundle"];
/// Registries known to carry kubeadm's images under the same names.
pub const MIRRORS: &[&str] = &[
    "registry.k8s.io",
    "registry.aliyuncs.com/google_containers",
    "k8s.m.daocloud.io",
];

fn text_or_empty(p: &Option<PathBuf>) -> String {
    p.as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

const FIELDS: &[FieldDef] = &[
    FieldDef {
        label: "cluster name",
        path: "name",
        get: |s| s.name.to_string(),
        set: |t, s| {
            s.name = field::parse(t)?;
            Ok(())
        },
        choices: &[],
        note: |_| Some("names the state directory".into()),
    },
    FieldDef {
        label: "Kubernetes",
        path: "kubernetes.version",
        get: |s| s.kubernetes.version.to_string(),
        set: |t, s| {
            s.kubernetes.version = field::parse(t)?;
            Ok(())
        },
        choices: &[],
        note: |s| {
            Some(format!(
                "packages from {}",
                s.kubernetes.version.minor_line()
            ))
        },
    },
    FieldDef {
        label: "CNI",
        path: "kubernetes.cni",
        get: |s| {
            serde_json::to_value(s.kubernetes.cni)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        },
        set: |t, s| {
            s.kubernetes.cni = choice::<Cni>(t, CNI)?;
            Ok(())
        },
        choices: CNI,
        note: |s| (s.kubernetes.cni == Cni::None).then(|| "you install one yourself".into()),
    },
    FieldDef {
        label: "image registry",
        path: "kubernetes.image_repository",
        get: |s| s.kubernetes.image_repository.to_string(),
        set: |t, s| {
            s.kubernetes.image_repository = field::parse(t)?;
            Ok(())
        },
        choices: MIRRORS,
        note: |s| {
            s.kubernetes
                .image_repository
                .is_default()
                .then(|| "the upstream registry".into())
        },
    },
    FieldDef {
        label: "key algorithm",
        path: "kubernetes.encryption_algorithm",
        get: |s| s.kubernetes.encryption_algorithm.as_str().into(),
        set: |t, s| {
            s.kubernetes.encryption_algorithm = choice::<EncryptionAlgorithm>(t, ALGORITHMS)?;
            Ok(())
        },
        choices: ALGORITHMS,
        note: no_note,
    },
    FieldDef {
        label: "packages from",
        path: "packages.source",
        get: |s| match s.packages.source {
            PackageSource::Online => "online".into(),
            PackageSource::Bundle => "bundle".into(),
        },
        set: |t, s| {
            s.packages.source = choice::<PackageSource>(t, SOURCES)?;
            Ok(())
        },
        choices: SOURCES,
        note: |s| {
            Some(match s.packages.source {
                PackageSource::Online => "pkgs.k8s.io or the mirror".into(),
                PackageSource::Bundle => "binaries from bundle dir".into(),
            })
        },
    },
    FieldDef {
        label: "package mirror",
        path: "packages.repository_mirror",
        get: |s| {
            s.packages
                .repository_mirror
                .as_ref()
                .map(|u| u.to_string())
                .unwrap_or_default()
        },
        set: |t, s| {
            s.packages.repository_mirror = optional(t, |t| {
                url::Url::parse(t).map_err(|e| format!("\"{t}\" is not a URL ({e}); give one like https://mirror.lab.example/kubernetes"))
            })?;
            Ok(())
        },
        choices: &[],
        note: no_note,
    },
    FieldDef {
        label: "bundle dir",
        path: "packages.bundle_dir",
        get: |s| text_or_empty(&s.packages.bundle_dir),
        set: |t, s| {
            s.packages.bundle_dir = optional(t, |t| Ok(PathBuf::from(t)))?;
            Ok(())
        },
        choices: &[],
        note: no_note,
    },
    FieldDef {
        label: "HTTP proxy",
        path: "proxy.http",
        get: |s| {
            s.proxy
                .http
                .as_ref()
                .map(|u| u.to_string())
                .unwrap_or_default()
        },
        set: |t, s| {
            s.proxy.http = optional(t, field::parse)?;
            Ok(())
        },
        choices: &[],
        note: no_note,
    },
    FieldDef {
        label: "HTTPS proxy",
        path: "proxy.https",
        get: |s| {
            s.proxy
                .https
                .as_ref()
                .map(|u| u.to_string())
                .unwrap_or_default()
        },
        set: |t, s| {
            s.proxy.https = optional(t, field::parse)?;
            Ok(())
        },
        choices: &[],
        note: no_note,
    },
    FieldDef {
        label: "no_proxy extra",
        path: "proxy.no_proxy",
        get: |s| s.proxy.no_proxy.join(","),
        set: |t, s| {
            s.proxy.no_proxy = t
                .split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(str::to_owned)
                .collect();
            Ok(())
        },
        choices: &[],
        note: |_| Some("hosts, VIP, CIDRs added".into()),
    },
    FieldDef {
        label: "SSH user",
        path: "ssh.user",
        get: |s| s.ssh.user.clone(),
        set: |t, s| {
            s.ssh.user = t.trim().to_owned();
            Ok(())
        },
        choices: &[],
        note: no_note,
    },
    FieldDef {
        label: "SSH port",
        path: "ssh.port",
        get: |s| s.ssh.port.to_string(),
        set: |t, s| {
            s.ssh.port = field::port(t)?;
            Ok(())
        },
        choices: &[],
        note: no_note,
    },
    FieldDef {
        label: "SSH key",
        path: "ssh.identity_file",
        get: |s| s.ssh.identity_file.display().to_string(),
        set: |t, s| {
            s.ssh.identity_file = PathBuf::from(t.trim());
            Ok(())
        },
        choices: &[],
        note: |_| Some("path only; never read".into()),
    },
    FieldDef {
        label: "known_hosts",
        path: "ssh.known_hosts",
        get: |s| s.ssh.known_hosts.display().to_string(),
        set: |t, s| {
            s.ssh.known_hosts = PathBuf::from(t.trim());
            Ok(())
        },
        choices: &[],
        note: no_note,
    },
    FieldDef {
        label: "system log",
        path: "audit.syslog",
        get: |s| if s.audit.syslog { "yes" } else { "no" }.into(),
        set: |t, s| {
            s.audit.syslog = match t.trim() {
                "yes" => true,
                "no" => false,
                other => return Err(format!("\"{other}\" is not one of no, yes")),
            };
            Ok(())
        },
        choices: &["no", "yes"],
        note: |s| {
            let note = if s.audit.syslog {
                "each run's start and head too"
            } else {
                "as with --syslog"
            };
            Some(note.to_owned())
        },
    },
];

/// The options form.
pub struct Options {
    form: Form,
}

impl Options {
    /// The form filled from `spec`.
    pub fn new(spec: &ClusterSpec) -> Self {
        Options {
            form: Form::new(FIELDS, spec),
        }
    }
}

fn owns(path: &str) -> bool {
    path == "name"
        || [
            "kubernetes.version",
            "kubernetes.cni",
            "kubernetes.image_repository",
            "kubernetes.encryption_algorithm",
        ]
        .contains(&path)
        || path.starts_with("packages.")
        || path.starts_with("proxy.")
        || path.starts_with("ssh.")
}

impl Screen for Options {
    fn title(&self) -> &'static str {
        "Options"
    }

    fn help(&self) -> &'static str {
        "Versions, sources and access.\n\
         c cycles through the known values of a field (CNI, registry mirrors, key algorithm, \
         package source); Enter lets you type any value.\n\
         Nothing secret is asked for: the SSH key is a path, and a proxy URL must not carry a \
         password (presets are meant to be shared)."
    }

    fn bindings(&self) -> &'static [Binding] {
        self.form.bindings()
    }

    fn editing(&self) -> bool {
        self.form.editing()
    }

    fn handle(&mut self, key: &KeyEvent, spec: &mut ClusterSpec) -> Outcome {
        self.form.handle(key, spec)
    }

    fn draw(&self, frame: &mut Frame, area: Rect, view: &View) {
        self.form.draw(frame, area, view, "Options", Vec::new());
    }

    fn problems(&self, view: &View) -> Vec<String> {
        let mut out = self.form.parse_errors();
        out.extend(errors_of(view.diags, owns));
        out
    }
}
