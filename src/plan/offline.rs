//! An install from a bundle (`packages.source = "bundle"`) is for hosts without the
//! internet: its plan is checked before it runs, so nothing on the hosts changes when
//! it would reach outside the cluster or miss a file of the bundle. The URL check reads
//! every step's command, so a step that starts fetching something is caught whatever
//! phase it is in.

use std::collections::BTreeSet;

use super::{Action, Plan, phases};
use crate::spec::PackageSource;

/// Why `plan` may not run: the steps of an install from a bundle that name a URL
/// outside the cluster (its hosts, endpoint and VIP), and the files its bundle lacks.
/// Ok for an online install, whatever it fetches.
pub fn check(plan: &Plan) -> Result<(), String> {
    let spec = &plan.spec;
    if spec.packages.source != PackageSource::Bundle {
        return Ok(());
    }
    let own = cluster_hosts(plan);
    let mut problems = Vec::new();
    for (_, _, step) in plan.steps() {
        for url in step_text(&step.action).into_iter().flat_map(urls) {
            if !url_host(url).is_some_and(|h| own.contains(&h)) {
                problems.push(format!(
                    "step {} would fetch {url}, outside the cluster",
                    step.id
                ));
            }
        }
    }
    if plan.phases.iter().any(|p| p.id == phases::cni::PHASE.id) {
        problems.extend(phases::cni::bundle_problems(spec));
    }
    if plan
        .phases
        .iter()
        .any(|p| p.id == phases::prepare::PHASE.id)
    {
        problems.extend(super::images::bundle_problems(spec));
    }
    if problems.is_empty() {
        return Ok(());
    }
    // One line: the engine that refuses it hands its clients one line.
    Err(format!(
        "cluster {} installs from a bundle (packages.source = \"bundle\"), for hosts without the internet, and its plan cannot run so (nothing was changed): {}",
        spec.name,
        problems.join("; ")
    ))
}

/// What a step runs or asks for, where a URL could hide.
fn step_text(action: &Action) -> Option<&str> {
    match action {
        Action::Run { command } => Some(command),
        Action::Wait { check } => Some(check),
        Action::CheckApi { url, .. } => Some(url),
        _ => None,
    }
}

/// The cluster's own names, lower case: its hosts' names and addresses, the
/// endpoint, the VIP, and this host's loopback names.
fn cluster_hosts(plan: &Plan) -> BTreeSet<String> {
    let spec = &plan.spec;
    let mut own: BTreeSet<String> = ["localhost", "127.0.0.1", "::1"]
        .into_iter()
        .map(String::from)
        .collect();
    for host in &spec.hosts {
        own.insert(host.name.to_string());
        own.insert(host.address.to_string());
        if let Some(domain) = spec.kvm.as_ref().and_then(|k| k.dns_domain.as_ref()) {
            own.insert(format!("{}.{domain}", host.name));
        }
    }
    own.extend(spec.endpoint_host().map(|e| e.to_string()));
    own.extend(spec.control_plane.vip.map(|v| v.to_string()));
    own.into_iter().map(|h| h.to_ascii_lowercase()).collect()
}

/// The `http://` and `https://` URLs in `text`, each up to the first blank, quote or
/// shell metacharacter.
fn urls(text: &str) -> Vec<&str> {
    let lower = text.to_ascii_lowercase();
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = ["http://", "https://"]
        .iter()
        .filter_map(|scheme| lower[from..].find(scheme).map(|i| from + i))
        .min()
    {
        let end = text[at..]
            .find(|c: char| c.is_whitespace() || "'\"`;|&<>(){}\\".contains(c))
            .map_or(text.len(), |i| at + i);
        found.push(&text[at..end]);
        from = end;
    }
    found
}

/// The host a URL names, lower case, without user, port or brackets.
fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split_once(']')?.0,
        None => host_port.split(':').next()?,
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Step, build, test_local};
    use crate::spec::layout::Layout;

    fn bundle_spec(cni: crate::spec::Cni, dir: &std::path::Path) -> crate::spec::ClusterSpec {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("presets/kvm-lab.toml");
        let mut spec = crate::spec::load_file(&path).unwrap().spec;
        spec.kubernetes.cni = cni;
        spec.packages.source = PackageSource::Bundle;
        spec.packages.bundle_dir = Some(dir.to_path_buf());
        spec
    }

    fn plan_of(spec: &crate::spec::ClusterSpec) -> Plan {
        let layout = Layout::new(spec).unwrap();
        let files = crate::render::render(spec, &test_pki(&layout)).unwrap();
        build(&layout, &files, &test_local())
    }

    fn test_pki(layout: &Layout) -> crate::pki::Pki {
        let dir = tempfile::tempdir().unwrap();
        crate::pki::load_or_create(dir.path(), layout).unwrap().0
    }

    #[test]
    fn urls_and_their_hosts_are_found_in_commands() {
        let text = "curl -fsSL 'https://Example.org/a?b=1' | sh; kubectl --server https://[fd00::10]:6443 get x && wget http://user@mirror:8080/p";
        assert_eq!(
            urls(text),
            [
                "https://Example.org/a?b=1",
                "https://[fd00::10]:6443",
                "http://user@mirror:8080/p"
            ]
        );
        let hosts: Vec<_> = urls(text).into_iter().filter_map(url_host).collect();
        assert_eq!(hosts, ["example.org", "fd00::10", "mirror"]);
        assert!(urls("no url here, just http: and https").is_empty());
    }

    #[test]
    fn a_bundle_plan_that_fetches_from_outside_the_cluster_is_refused_naming_the_step() {
        let dir = tempfile::tempdir().unwrap();
        let spec = bundle_spec(crate::spec::Cni::None, dir.path());
        let mut plan = plan_of(&spec);
        assert_eq!(
            check(&plan),
            Ok(()),
            "the cluster's own endpoint is no fetch"
        );
        // A step that starts fetching something, in any phase, is caught.
        let phase = &mut plan.phases[2];
        let host = &mut phase.hosts[0];
        let mut step: Step = host.steps[0].clone();
        step.id = format!("{}/{}/fetch", phase.id, host.host);
        step.action = Action::Run {
            command: "curl -fsSL https://get.example.org/install.sh | sh".into(),
        };
        host.steps.push(step.clone());
        let refused = check(&plan).unwrap_err();
        assert!(
            refused.contains(&format!(
                "step {} would fetch https://get.example.org/install.sh, outside the cluster",
                step.id
            )),
            "{refused}"
        );
        // An online install may fetch.
        let mut online = plan.clone();
        let mut spec = (*online.spec).clone();
        spec.packages.source = PackageSource::Online;
        online.spec = std::sync::Arc::new(spec);
        assert_eq!(check(&online), Ok(()));
    }

    #[test]
    fn each_cni_from_a_bundle_fetches_nothing_and_names_what_the_bundle_lacks() {
        use crate::spec::Cni;
        let dir = tempfile::tempdir().unwrap();
        for cni in [Cni::Flannel, Cni::Calico, Cni::Cilium] {
            let spec = bundle_spec(cni, dir.path());
            let refused = check(&plan_of(&spec)).unwrap_err();
            assert!(!refused.contains("would fetch"), "{cni:?}: {refused}");
            for need in crate::render::cni::bundle_needs(&spec) {
                assert!(
                    refused.contains(&format!("has no {}", need.file_name())),
                    "{cni:?}: {refused}"
                );
                let path = dir.path().join(&need.bundle_path);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, "upstream").unwrap();
            }
            assert_eq!(check(&plan_of(&spec)), Ok(()), "{cni:?}");
        }
    }
}
