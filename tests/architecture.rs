//! The module layering ARCHITECTURE.md writes down, checked against the code: a
//! top-level module uses only modules of lower layers, and no two modules anywhere in
//! src/ (siblings under one parent, such as `tui::app` and `tui::screens`) use each
//! other, directly or round a longer loop. What counts is the code outside unit tests:
//! `use crate::...`, `use super::...` and paths such as `crate::state::write_atomic`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The layers of ARCHITECTURE.md's table: `| N | `module` | ... |`.
fn layers(text: &str) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 4 {
            continue;
        }
        let (Ok(layer), Some(module)) = (
            cells[1].parse::<u32>(),
            cells[2].strip_prefix('`').and_then(|c| c.strip_suffix('`')),
        ) else {
            continue;
        };
        out.insert(module.to_owned(), layer);
    }
    out
}

/// Every .rs file under `dir`, with its module path (`tui/screens/mod.rs` is
/// `["tui", "screens"]`); main.rs and lib.rs are the crate itself.
fn sources(dir: &Path, prefix: &[String], out: &mut Vec<(Vec<String>, String)>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            let mut inner = prefix.to_vec();
            inner.push(name);
            sources(&path, &inner, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let mut module = prefix.to_vec();
            if name != "mod" && !(prefix.is_empty() && (name == "main" || name == "lib")) {
                module.push(name);
            }
            if module.is_empty() {
                continue;
            }
            out.push((module, fs::read_to_string(&path).unwrap()));
        }
    }
}

/// The code without unit tests (a `#[cfg(test)] mod` to the end of the file, the
/// project's layout), comments, and the contents of strings and characters.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod ") {
        Some(at) => &text[..at],
        None => text,
    };
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '"'
            || (c == 'r' && matches!(next, Some('"' | '#')) && raw_start(&chars[i..]))
        {
            // A string: plain with escapes, or raw with its hashes.
            let hashes = if c == 'r' {
                let n = chars[i + 1..].iter().take_while(|&&h| h == '#').count();
                i += 1 + n;
                Some(n)
            } else {
                None
            };
            i += 1;
            while i < chars.len() {
                match hashes {
                    None if chars[i] == '\\' => i += 1,
                    None if chars[i] == '"' => break,
                    Some(n)
                        if chars[i] == '"'
                            && chars[i + 1..].iter().take(n).filter(|&&h| h == '#').count()
                                == n =>
                    {
                        i += n;
                        break;
                    }
                    _ => {}
                }
                i += 1;
            }
            out.push_str("\"\"");
        } else if c == '\'' && next == Some('\\') {
            i += 2;
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            i += 2;
        } else {
            out.push(c);
        }
        i += 1;
    }
    out
}

/// Whether `r` starts a raw string (`r"` or `r#...#"`), not a name ending in r.
fn raw_start(chars: &[char]) -> bool {
    let hashes = chars[1..].iter().take_while(|&&h| h == '#').count();
    chars.get(1 + hashes) == Some(&'"')
}

/// The paths a source mentions, expanded from use trees: each a list of segments
/// starting with `crate`, `super` or `self`.
fn paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let tokens = tokenize(code);
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i] == "use" {
            let end = tokens[i..]
                .iter()
                .position(|t| t == ";")
                .map_or(tokens.len(), |p| i + p);
            expand(&tokens[i + 1..end], &[], &mut out);
            i = end;
        } else if matches!(tokens[i].as_str(), "crate" | "super" | "self")
            && tokens.get(i + 1).is_some_and(|t| t == "::")
        {
            let mut path = vec![tokens[i].clone()];
            let mut j = i + 1;
            while tokens.get(j).is_some_and(|t| t == "::")
                && tokens
                    .get(j + 1)
                    .is_some_and(|t| t.chars().all(|c| c.is_alphanumeric() || c == '_'))
            {
                path.push(tokens[j + 1].clone());
                j += 2;
            }
            out.push(path);
            i = j;
        } else {
            i += 1;
        }
    }
    out.retain(|p| {
        matches!(
            p.first().map(String::as_str),
            Some("crate" | "super" | "self")
        )
    });
    out
}

fn tokenize(code: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut word = String::new();
    let mut chars = code.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_alphanumeric() || c == '_' {
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            tokens.push(std::mem::take(&mut word));
        }
        if c == ':' && chars.peek() == Some(&':') {
            chars.next();
            tokens.push("::".into());
        } else if "{},;*".contains(c) {
            tokens.push(c.to_string());
        }
    }
    tokens
}

/// Expands one use tree (`crate::a::{b, c::{d, e}}`) into its paths.
fn expand(tokens: &[String], prefix: &[String], out: &mut Vec<Vec<String>>) {
    let mut i = 0;
    let mut path = prefix.to_vec();
    while i < tokens.len() {
        match tokens[i].as_str() {
            "::" => i += 1,
            "{" => {
                let mut depth = 0;
                let mut start = i + 1;
                for j in i..tokens.len() {
                    match tokens[j].as_str() {
                        "{" => depth += 1,
                        "}" => {
                            depth -= 1;
                            if depth == 0 {
                                expand(&tokens[start..j], &path, out);
                                return;
                            }
                        }
                        "," if depth == 1 => {
                            expand(&tokens[start..j], &path, out);
                            start = j + 1;
                        }
                        _ => {}
                    }
                }
                return;
            }
            "," => {
                out.push(std::mem::replace(&mut path, prefix.to_vec()));
                i += 1;
            }
            "as" => i += 2,
            // `a::{self, B}`: the module itself.
            "self" if !path.is_empty() => i += 1,
            word => {
                path.push(word.to_owned());
                i += 1;
            }
        }
    }
    if !path.is_empty() {
        out.push(path);
    }
}

/// The module a path from `module` (a file's module path) names, absolute.
fn resolve(module: &[String], path: &[String]) -> Vec<String> {
    let mut base: Vec<String> = Vec::new();
    let mut rest = path;
    match path[0].as_str() {
        "crate" => rest = &path[1..],
        "self" => {
            base = module.to_vec();
            rest = &path[1..];
        }
        _ => {
            base = module.to_vec();
            while rest.first().is_some_and(|s| s == "super") {
                base.pop();
                rest = &rest[1..];
            }
        }
    }
    base.extend(rest.iter().cloned());
    base
}

/// Module-to-module edges: for a file in module `a::b::x` that names `a::c::y`, the
/// edge `b -> c` under the parent `a` (siblings under their nearest common parent).
fn edges(files: &[(Vec<String>, String)]) -> BTreeMap<Vec<String>, BTreeSet<(String, String)>> {
    let mut out: BTreeMap<Vec<String>, BTreeSet<(String, String)>> = BTreeMap::new();
    for (module, text) in files {
        for path in paths(&code(text)) {
            let target = resolve(module, &path);
            let common = module
                .iter()
                .zip(&target)
                .take_while(|(a, b)| a == b)
                .count();
            if common >= module.len() || common >= target.len() {
                continue; // itself, its own child, or its parent
            }
            out.entry(module[..common].to_vec())
                .or_default()
                .insert((module[common].clone(), target[common].clone()));
        }
    }
    out
}

/// The cycles of a directed graph (its strongly connected parts with more than one
/// node), each sorted.
fn cycles(edges: &BTreeSet<(String, String)>) -> Vec<Vec<String>> {
    let nodes: BTreeSet<&String> = edges.iter().flat_map(|(a, b)| [a, b]).collect();
    let reach = |from: &String| {
        let mut seen: BTreeSet<&String> = BTreeSet::new();
        let mut todo = vec![from];
        while let Some(n) = todo.pop() {
            for (a, b) in edges {
                if a == n && seen.insert(b) {
                    todo.push(b);
                }
            }
        }
        seen
    };
    let mut out: Vec<Vec<String>> = Vec::new();
    for n in &nodes {
        let mut part: Vec<String> = nodes
            .iter()
            .filter(|m| reach(n).contains(*m) && reach(m).contains(n))
            .map(|m| (*m).clone())
            .collect();
        part.sort();
        if part.len() > 1 && !out.contains(&part) {
            out.push(part);
        }
    }
    out
}

fn crate_sources() -> Vec<(Vec<String>, String)> {
    let mut files = Vec::new();
    sources(&root().join("src"), &[], &mut files);
    files
}

#[test]
fn every_module_uses_only_modules_below_it() {
    let doc = fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let layers = layers(&doc);
    let files = crate_sources();
    let top: BTreeSet<&String> = files.iter().map(|(m, _)| &m[0]).collect();
    let unlisted: Vec<&&String> = top.iter().filter(|m| !layers.contains_key(**m)).collect();
    assert!(
        unlisted.is_empty(),
        "modules missing from ARCHITECTURE.md's layers: {unlisted:?}"
    );
    let gone: Vec<&String> = layers.keys().filter(|m| !top.contains(m)).collect();
    assert!(
        gone.is_empty(),
        "ARCHITECTURE.md lists modules that do not exist: {gone:?}"
    );
    let mut wrong = Vec::new();
    for (from, to) in edges(&files).remove(&Vec::new()).unwrap_or_default() {
        if layers[&from] <= layers[&to] {
            wrong.push(format!(
                "{from} (layer {}) uses {to} (layer {})",
                layers[&from], layers[&to]
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "modules that reach up or sideways (ARCHITECTURE.md, Layers):\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_two_modules_use_each_other() {
    let mut found = Vec::new();
    for (parent, edges) in edges(&crate_sources()) {
        for cycle in cycles(&edges) {
            let at = if parent.is_empty() {
                "crate".to_owned()
            } else {
                parent.join("::")
            };
            found.push(format!("in {at}: {}", cycle.join(" <-> ")));
        }
    }
    assert!(
        found.is_empty(),
        "modules that use each other:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_checks_see_the_kinds_of_imports_the_code_has() {
    let text = "use crate::{render::kvm, plan::{self, Plan}};\nuse super::super::super::exec::Event;\n\
                fn f() { crate::state::write_atomic(); }\n// use crate::tui;\n\
                const S: &str = \"crate::cli\";\n#[cfg(test)]\nmod tests { use crate::commands; }\n";
    let files = vec![(
        vec!["kvm".to_owned(), "network".to_owned(), "plan".to_owned()],
        text.to_owned(),
    )];
    let all = edges(&files);
    let top: Vec<(String, String)> = all[&Vec::new()].iter().cloned().collect();
    assert_eq!(
        top,
        [
            ("kvm".to_owned(), "exec".to_owned()),
            ("kvm".to_owned(), "plan".to_owned()),
            ("kvm".to_owned(), "render".to_owned()),
            ("kvm".to_owned(), "state".to_owned()),
        ]
    );
    let loops = BTreeSet::from([
        ("app".to_owned(), "screens".to_owned()),
        ("screens".to_owned(), "form".to_owned()),
        ("form".to_owned(), "app".to_owned()),
    ]);
    assert_eq!(cycles(&loops), [["app", "form", "screens"]]);
}
