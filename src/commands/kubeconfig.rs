//! `kubewiz kubeconfig NAME [--merge] [--out FILE]`: the cluster's admin kubeconfig
//! from the state directory, merged into the operator's kubeconfig as a context named
//! after the cluster, or written alone to a file.
//!
//! A merge never overwrites anyone else's entries: the cluster and user entries get
//! names no other entry has, a context of the same name that points at another
//! cluster is refused, the file is backed up first and written atomically (0600).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_yaml_ng::{Mapping, Value};

use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::spec::DnsLabel;
use crate::state::{self, ClusterState};

/// What `apply` and the wizard's Done screen say once a cluster is installed.
pub fn offer(name: &str, admin: &Path) -> String {
    format!(
        "kubewiz: the admin kubeconfig is {}; `kubewiz kubeconfig {name}` adds it to ~/.kube/config as context {name}",
        admin.display()
    )
}

/// The command.
pub fn run(state_dir: Option<&Path>, name: &str, merge: bool, out: Option<&Path>) -> ExitCode {
    if let Err(e) = name.parse::<DnsLabel>() {
        eprintln!("kubewiz kubeconfig: the cluster name {e}");
        return ExitCode::from(EXIT_USAGE);
    }
    let state_dir = state_dir.map_or_else(state::default_dir, Path::to_path_buf);
    let admin = ClusterState::new(&state_dir, name).dir().join("admin.conf");
    let result = read_admin(&admin, name).and_then(|ours| match (merge, out) {
        (false, Some(out)) => write_alone(&ours, out),
        (_, out) => {
            let target = out.map_or_else(default_target, |o| Ok(o.to_path_buf()))?;
            merge_into(&ours, &target)
        }
    });
    match result {
        Ok(message) => {
            println!("{message}");
            ExitCode::from(EXIT_OK)
        }
        Err(e) => {
            eprintln!("kubewiz kubeconfig: {e}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// The admin kubeconfig's one cluster and one user, to be named after the cluster.
pub struct Admin {
    pub name: String,
    pub cluster: Value,
    pub user: Value,
}

fn read_admin(path: &Path, name: &str) -> Result<Admin, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read {}: {e}; the admin kubeconfig is saved there by the last phase of an install (kubewiz apply), or give --state-dir",
            path.display()
        )
    })?;
    parse_admin(&text, name).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads the one cluster and user of an admin kubeconfig as kubewiz writes it.
pub fn parse_admin(text: &str, name: &str) -> Result<Admin, String> {
    let doc: Value = serde_yaml_ng::from_str(text).map_err(|e| format!("not a kubeconfig: {e}"))?;
    let only = |list: &str, field: &str| -> Result<Value, String> {
        match doc
            .get(list)
            .and_then(Value::as_sequence)
            .map(Vec::as_slice)
        {
            Some([entry]) => entry
                .get(field)
                .cloned()
                .ok_or_else(|| format!("its {list} entry has no `{field}`")),
            _ => Err(format!("expected exactly one entry in `{list}`")),
        }
    };
    Ok(Admin {
        name: name.to_owned(),
        cluster: only("clusters", "cluster")?,
        user: only("users", "user")?,
    })
}

/// `$KUBECONFIG`'s first file, else `~/.kube/config`.
fn default_target() -> Result<PathBuf, String> {
    if let Some(first) = std::env::var_os("KUBECONFIG")
        .and_then(|v| std::env::split_paths(&v).find(|p| !p.as_os_str().is_empty()))
    {
        return Ok(first);
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".kube/config"))
        .ok_or_else(|| "neither KUBECONFIG nor HOME is set; give the file with --out".into())
}

fn write_alone(ours: &Admin, out: &Path) -> Result<String, String> {
    if out.exists() {
        return Err(format!(
            "{} exists; merge into it with --merge --out {0}, or give a new file",
            out.display()
        ));
    }
    let merged = merge(empty(), ours)?;
    write(out, &merged)?;
    Ok(format!(
        "kubewiz: wrote cluster {}'s admin kubeconfig to {} (context {0})",
        ours.name,
        out.display()
    ))
}

fn merge_into(ours: &Admin, target: &Path) -> Result<String, String> {
    let existing = match std::fs::read_to_string(target) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(format!("cannot read {}: {e}", target.display())),
    };
    let doc = match &existing {
        Some(text) if !text.trim().is_empty() => serde_yaml_ng::from_str(text).map_err(|e| {
            format!(
                "{} is not a kubeconfig kubewiz can read ({e}); it was left as it is",
                target.display()
            )
        })?,
        _ => empty(),
    };
    let merged = merge(doc, ours).map_err(|e| format!("{}: {e}", target.display()))?;
    let mut message = String::new();
    if let Some(text) = &existing {
        let backup = backup_path(target);
        state::write_atomic(&backup, text.as_bytes(), 0o600).map_err(|e| {
            format!(
                "cannot back up to {}: {e}; nothing changed",
                backup.display()
            )
        })?;
        message = format!(" (the previous file is kept as {})", backup.display());
    }
    write(target, &merged)?;
    Ok(format!(
        "kubewiz: context {} is in {}{message}; kubectl config use-context {0}",
        ours.name,
        target.display()
    ))
}

fn write(path: &Path, doc: &Value) -> Result<(), String> {
    let text = serde_yaml_ng::to_string(doc).map_err(|e| format!("cannot write YAML: {e}"))?;
    state::write_atomic(path, text.as_bytes(), 0o600)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn backup_path(target: &Path) -> PathBuf {
    let t = time::OffsetDateTime::now_utc();
    let stamp = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".kubewiz-backup-{stamp}"));
    target.with_file_name(name)
}

fn empty() -> Value {
    let mut doc = Mapping::new();
    doc.insert("apiVersion".into(), "v1".into());
    doc.insert("kind".into(), "Config".into());
    doc.insert("clusters".into(), Value::Sequence(Vec::new()));
    doc.insert("users".into(), Value::Sequence(Vec::new()));
    doc.insert("contexts".into(), Value::Sequence(Vec::new()));
    doc.insert("current-context".into(), "".into());
    Value::Mapping(doc)
}

/// Adds `ours` to `doc` as context `ours.name`; the pure part of a merge.
///
/// A context of that name that already points at this cluster (same server and CA)
/// is updated in place, so a second merge changes nothing else.
pub fn merge(mut doc: Value, ours: &Admin) -> Result<Value, String> {
    let Value::Mapping(map) = &mut doc else {
        return Err("the file is not a YAML mapping".into());
    };
    for list in ["clusters", "users", "contexts"] {
        let entry = map.entry(list.into()).or_insert(Value::Null);
        if entry.is_null() {
            *entry = Value::Sequence(Vec::new());
        }
        if !entry.is_sequence() {
            return Err(format!("`{list}` is not a list"));
        }
    }
    let names = |map: &Mapping, list: &str| -> Vec<String> {
        map.get(list)
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
            .filter_map(|e| e.get("name").and_then(Value::as_str).map(str::to_owned))
            .collect()
    };
    let find = |map: &Mapping, list: &str, name: &str| -> Option<usize> {
        map.get(list)?
            .as_sequence()?
            .iter()
            .position(|e| e.get("name").and_then(Value::as_str) == Some(name))
    };
    let name = ours.name.as_str();
    if let Some(at) = find(map, "contexts", name) {
        let context = &map["contexts"][at]["context"];
        let cluster_name = context.get("cluster").and_then(Value::as_str).unwrap_or("");
        let user_name = context.get("user").and_then(Value::as_str).unwrap_or("");
        let theirs = find(map, "clusters", cluster_name).map(|i| &map["clusters"][i]["cluster"]);
        let same = theirs.is_some_and(|c| {
            c.get("server") == ours.cluster.get("server")
                && c.get("certificate-authority-data")
                    == ours.cluster.get("certificate-authority-data")
        });
        if !same {
            let server = theirs
                .and_then(|c| c.get("server"))
                .and_then(Value::as_str)
                .unwrap_or("an unknown server");
            return Err(format!(
                "a context named {name} already exists and points at {server} (cluster entry \"{cluster_name}\"), not at cluster {name}; rename it (kubectl config rename-context {name} OTHER), or write this kubeconfig elsewhere with --out FILE"
            ));
        }
        let (user_name, cluster_name) = (user_name.to_owned(), cluster_name.to_owned());
        let user_at = find(map, "users", &user_name);
        let cluster_at = find(map, "clusters", &cluster_name);
        if let Some(i) = cluster_at {
            map["clusters"][i]["cluster"] = ours.cluster.clone();
        }
        match user_at {
            Some(i) => map["users"][i]["user"] = ours.user.clone(),
            None => {
                let user = free(&names(map, "users"), &format!("{name}-admin"));
                push(map, "users", &user, "user", ours.user.clone());
                map["contexts"][at]["context"]["user"] = user.into();
            }
        }
        return Ok(doc);
    }
    let cluster = free(&names(map, "clusters"), name);
    let user = free(&names(map, "users"), &format!("{name}-admin"));
    push(map, "clusters", &cluster, "cluster", ours.cluster.clone());
    push(map, "users", &user, "user", ours.user.clone());
    let mut context = Mapping::new();
    context.insert("cluster".into(), cluster.into());
    context.insert("user".into(), user.into());
    push(map, "contexts", name, "context", Value::Mapping(context));
    let current = map.get("current-context").and_then(Value::as_str);
    if current.is_none_or(str::is_empty) {
        map.insert("current-context".into(), name.into());
    }
    Ok(doc)
}

fn push(map: &mut Mapping, list: &str, name: &str, field: &str, value: Value) {
    let mut entry = Mapping::new();
    entry.insert("name".into(), name.into());
    entry.insert(field.into(), value);
    if let Some(Value::Sequence(items)) = map.get_mut(list) {
        items.push(Value::Mapping(entry));
    }
}

/// `want`, or `want-2`, `want-3`... whichever no entry has yet.
fn free(taken: &[String], want: &str) -> String {
    (1..)
        .map(|n| {
            if n == 1 {
                want.to_owned()
            } else {
                format!("{want}-{n}")
            }
        })
        .find(|c| !taken.iter().any(|t| t == c))
        .expect("some numbered name is free")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admin(server: &str) -> Admin {
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: lab\n  cluster:\n    certificate-authority-data: Q0E=\n    server: {server}\nusers:\n- name: kubernetes-admin\n  user:\n    client-certificate-data: Q0VSVA==\n    client-key-data: S0VZ\ncontexts:\n- name: kubernetes-admin@lab\n  context:\n    cluster: lab\n    user: kubernetes-admin\ncurrent-context: kubernetes-admin@lab\n"
        );
        parse_admin(&text, "lab").unwrap()
    }

    fn names(doc: &Value, list: &str) -> Vec<String> {
        doc[list]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn taken_names_get_a_number_and_the_current_context_stays() {
        let existing: Value = serde_yaml_ng::from_str(
            "clusters:\n- name: lab\n  cluster: {server: https://other:6443}\nusers:\n- name: lab-admin\n  user: {token: x}\ncontexts:\n- name: other\n  context: {cluster: lab, user: lab-admin}\ncurrent-context: other\n",
        )
        .unwrap();
        let doc = merge(existing, &admin("https://10.0.0.1:6443")).unwrap();
        assert_eq!(names(&doc, "clusters"), ["lab", "lab-2"]);
        assert_eq!(names(&doc, "users"), ["lab-admin", "lab-admin-2"]);
        assert_eq!(names(&doc, "contexts"), ["other", "lab"]);
        assert_eq!(doc["contexts"][1]["context"]["cluster"], "lab-2");
        assert_eq!(doc["current-context"], "other");
        assert_eq!(
            doc["clusters"][0]["cluster"]["server"],
            "https://other:6443"
        );
    }

    #[test]
    fn a_second_merge_changes_nothing_and_a_foreign_context_is_refused() {
        let once = merge(empty(), &admin("https://10.0.0.1:6443")).unwrap();
        assert_eq!(once["current-context"], "lab");
        let twice = merge(once.clone(), &admin("https://10.0.0.1:6443")).unwrap();
        assert_eq!(once, twice);
        let err = merge(once, &admin("https://10.9.9.9:6443")).unwrap_err();
        assert!(
            err.contains("already exists") && err.contains("https://10.0.0.1:6443"),
            "{err}"
        );
    }
}
