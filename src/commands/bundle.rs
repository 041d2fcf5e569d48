//! `kubewiz bundle check --preset FILE`: what an air-gap bundle holds against what the
//! preset needs (programs with the versions they report, the pod network's files,
//! images by reference), read on the KVM host; exit 1 when something is missing or
//! kubeadm is another version than the preset's.

use std::path::Path;
use std::process::ExitCode;

use super::prepare::load_valid;
use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::exec::bundle::{kubeadm_images, program_version};
use crate::images::{self, BUNDLE_IMAGES};
use crate::plan::images as plan_images;
use crate::render::cni;
use crate::spec::layout::Layout;
use crate::spec::{ClusterSpec, PackageSource};

pub fn check(preset: &Path) -> ExitCode {
    let (spec, _) = match load_valid(preset) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let Some(dir) = spec
        .packages
        .bundle_dir
        .as_deref()
        .filter(|_| spec.packages.source == PackageSource::Bundle)
    else {
        eprintln!(
            "kubewiz: {} installs from the package repositories (packages.source = \"online\"): there is no bundle to check; set packages.source = \"bundle\" and packages.bundle_dir",
            preset.display()
        );
        return ExitCode::from(EXIT_USAGE);
    };
    let layout = match Layout::new(&spec) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("kubewiz: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let mut report = Report::default();
    println!(
        "bundle {} for cluster {} (Kubernetes {}, pod network {})",
        dir.display(),
        spec.name,
        spec.kubernetes.version.tag(),
        format!("{:?}", spec.kubernetes.cni).to_lowercase()
    );
    programs(&spec, &layout, dir, &mut report);
    pod_network(&spec, dir, &mut report);
    images_of(&spec, &layout, dir, &mut report);
    if report.problems == 0 {
        println!("\nthe bundle has everything the preset needs");
        ExitCode::from(EXIT_OK)
    } else {
        println!(
            "\n{} problem{}: the install would stop on {}",
            report.problems,
            if report.problems == 1 { "" } else { "s" },
            if report.problems == 1 { "it" } else { "them" }
        );
        ExitCode::from(EXIT_FAILED)
    }
}

#[derive(Default)]
struct Report {
    problems: usize,
}

impl Report {
    /// One line: the state, `what` padded to `width`, the note.
    fn line(&mut self, state: &str, what: &str, width: usize, note: &str) {
        if matches!(state, "missing" | "wrong" | "broken") {
            self.problems += 1;
        }
        let note = if note.is_empty() {
            String::new()
        } else {
            format!("  {note}")
        };
        println!("  {state:<8} {what:<width$}{note}");
    }
}

/// bin/: each program the preset's hosts get, with the version it reports here.
fn programs(spec: &ClusterSpec, layout: &Layout, dir: &Path, r: &mut Report) {
    println!("\nprograms (bin/)");
    let external = !layout.etcd.is_empty();
    let images = plan_images::bundle_images_dir(spec).is_some();
    let wanted: [(&str, bool, &str); 10] = [
        ("kubeadm", true, "every node"),
        ("kubelet", true, "every node"),
        ("containerd", true, "every node"),
        (
            "runc",
            true,
            "every node: containerd runs containers with it",
        ),
        ("ctr", images, "every node: imports images/"),
        ("kubectl", true, "control planes"),
        ("etcd", external, "external etcd hosts"),
        ("etcdctl", true, "etcd members: kubewiz backup"),
        (
            "etcdutl",
            false,
            "stacked control planes: kubewiz backup and restore",
        ),
        ("helm", false, "control planes: cni = \"cilium\""),
    ];
    let tag = spec.kubernetes.version.tag();
    for (name, required, for_whom) in wanted {
        let path = dir.join("bin").join(name);
        if !path.is_file() {
            let state = if required && (name != "etcdctl" || external) {
                "missing"
            } else {
                "absent"
            };
            r.line(state, name, 10, &format!("(for {for_whom})"));
            continue;
        }
        match program_version(&path) {
            Ok(version) if name == "kubeadm" && version != tag => r.line(
                "wrong",
                name,
                10,
                &format!("{version}, the preset installs {tag}: put kubeadm {tag} in bin/"),
            ),
            Ok(version) if name == "kubectl" && !within_one_minor(&version, spec) => r.line(
                "warn",
                name,
                10,
                &format!(
                    "{version} (kubectl is supported within one minor of the cluster's v{}.{})",
                    spec.kubernetes.version.major, spec.kubernetes.version.minor
                ),
            ),
            Ok(version) => r.line("ok", name, 10, &version),
            Err(e) => r.line(
                "ok",
                name,
                10,
                &format!("(its version cannot be read here: {e})"),
            ),
        }
    }
}

/// Whether `kubectl version --client`'s line names a version within one minor of the
/// cluster's (kubectl's supported skew); true when it names none.
fn within_one_minor(line: &str, spec: &ClusterSpec) -> bool {
    let Some(v) = line.split_whitespace().find_map(|w| w.strip_prefix('v')) else {
        return true;
    };
    let mut parts = v.split('.').map(|p| p.parse::<u64>().ok());
    let (Some(Some(major)), Some(Some(minor))) = (parts.next(), parts.next()) else {
        return true;
    };
    let want = &spec.kubernetes.version;
    u64::from(want.major) == major && u64::from(want.minor).abs_diff(minor) <= 1
}

/// manifests/ and charts/: the files the preset's pod network is installed from.
fn pod_network(spec: &ClusterSpec, dir: &Path, r: &mut Report) {
    let needs = cni::bundle_needs(spec);
    println!(
        "\npod network ({})",
        format!("{:?}", spec.kubernetes.cni).to_lowercase()
    );
    if needs.is_empty() {
        println!("  (none: cni = \"none\")");
    }
    for need in needs {
        let state = if dir.join(&need.bundle_path).is_file() {
            "ok"
        } else {
            "missing"
        };
        let note = if state == "ok" {
            String::new()
        } else {
            format!("{} ({})", need.what, need.url)
        };
        r.line(state, &need.bundle_path, 0, &note);
    }
}

/// images/: each image the nodes run, the archive holding it, and what else the
/// archives hold.
fn images_of(spec: &ClusterSpec, layout: &Layout, dir: &Path, r: &mut Report) {
    println!("\nimages ({BUNDLE_IMAGES}/)");
    let images_dir = plan_images::bundle_images_dir(spec);
    let archives = match &images_dir {
        None => {
            println!(
                "  (no {BUNDLE_IMAGES}/ in {}: the nodes pull every image from {}, which they must reach)",
                dir.display(),
                spec.kubernetes.image_repository
            );
            Vec::new()
        }
        Some(images_dir) => match images::archives(images_dir) {
            Ok(a) => a,
            Err(e) => {
                r.line("broken", &images_dir.display().to_string(), 0, &e);
                return;
            }
        },
    };
    let kubeadm = match kubeadm_images(spec) {
        Ok(list) => list,
        Err(e) => {
            r.line(
                "unknown",
                "kubeadm's images",
                0,
                &format!("({e}; each node checks containerd's images after the import)"),
            );
            Vec::new()
        }
    };
    let needed = plan_images::needed(layout, &kubeadm);
    let extra: Vec<(&String, &String)> = archives
        .iter()
        .flat_map(|a| a.refs.iter().map(move |i| (i, &a.file)))
        .filter(|(i, _)| !needed.iter().any(|(n, _)| n == *i))
        .collect();
    let width = needed
        .iter()
        .map(|(i, _)| i)
        .chain(extra.iter().map(|(i, _)| *i))
        .map(|i| i.len() + 2)
        .max()
        .unwrap_or(0);
    for (image, on) in &needed {
        match archives.iter().find(|a| a.refs.contains(image)) {
            Some(a) => r.line("ok", image, width, &format!("{}  ({on})", a.file)),
            None if images_dir.is_some() => r.line("missing", image, width, &format!("({on})")),
            None => r.line("pulled", image, width, &format!("({on})")),
        }
    }
    for (image, file) in extra {
        r.line(
            "extra",
            image,
            width,
            &format!(
                "{file}  (not needed; imported on {})",
                images::RunsOn::of(image).describe()
            ),
        );
    }
}
