//! Random and mutated presets never panic the loader or the validator: whatever an
//! operator types, kubewiz answers with diagnostics.

use std::path::Path;

use kubewiz::spec;
use proptest::prelude::*;

/// Loads and, when it loads, validates; panics are the only failure.
fn check(text: &str) {
    match spec::parse(text) {
        Ok(spec) => {
            let _ = spec::validate::validate(&spec);
            let _ = spec::validate::check_local(&spec, Some(Path::new("/nonexistent")));
            let saved = spec::to_toml(&spec);
            assert_eq!(spec::parse(&saved).as_ref(), Ok(&spec), "{saved}");
        }
        Err(diagnostics) => {
            assert!(!diagnostics.is_empty());
            let map = spec::SourceMap::new(text);
            for d in diagnostics {
                let _ = map.locate(&d.path);
                if let Some(span) = d.span {
                    let _ = map.position_of(span.start);
                }
            }
        }
    }
}

fn bundled() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("presets");
    let mut texts: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    texts.sort();
    texts
}

#[derive(Debug, Clone)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, String),
    Replace(usize, usize, String),
    Duplicate(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let text = prop_oneof![
        "[ -~]{0,12}",
        Just("\n[[hosts]]\n".to_string()),
        Just("\"".to_string()),
        Just("=".to_string()),
        Just("[".to_string()),
        Just("0".to_string()),
        Just("/0".to_string()),
        Just("::".to_string()),
        Just("é✓".to_string()),
    ];
    prop_oneof![
        (any::<usize>(), 0usize..40).prop_map(|(a, n)| Edit::Delete(a, n)),
        (any::<usize>(), text.clone()).prop_map(|(a, t)| Edit::Insert(a, t)),
        (any::<usize>(), 0usize..20, text).prop_map(|(a, n, t)| Edit::Replace(a, n, t)),
        (any::<usize>(), 0usize..200).prop_map(|(a, n)| Edit::Duplicate(a, n)),
    ]
}

fn char_at(text: &str, at: usize) -> usize {
    let mut at = at % (text.len() + 1);
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn apply(text: &mut String, edit: &Edit) {
    match edit {
        Edit::Delete(a, n) | Edit::Replace(a, n, _) | Edit::Duplicate(a, n) => {
            let start = char_at(text, *a);
            let end = char_at(text, start + n).max(start);
            let piece = text[start..end].to_owned();
            match edit {
                Edit::Delete(..) => text.replace_range(start..end, ""),
                Edit::Replace(.., t) => text.replace_range(start..end, t),
                _ => text.insert_str(end, &piece),
            }
        }
        Edit::Insert(a, t) => {
            let at = char_at(text, *a);
            text.insert_str(at, t);
        }
    }
}

fn cidr() -> impl Strategy<Value = String> {
    prop_oneof![
        (any::<[u8; 4]>(), 0u8..=33)
            .prop_map(|(o, p)| format!("{}.{}.{}.{}/{p}", o[0], o[1], o[2], o[3])),
        (any::<u16>(), any::<u16>(), 0u8..=129)
            .prop_map(|(a, b, p)| format!("fd{:02x}:{a:x}:{b:x}::/{p}", a % 256)),
        Just("10.244.0.0/16".to_string()),
        Just("10.96.0.0/12".to_string()),
        Just("192.168.122.0/24".to_string()),
        Just("0.0.0.0/0".to_string()),
        Just("::/0".to_string()),
    ]
}

fn address() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u8..4, any::<u8>()).prop_map(|(s, h)| format!("192.168.{}.{h}", 121 + s)),
        any::<[u8; 4]>().prop_map(|o| format!("{}.{}.{}.{}", o[0], o[1], o[2], o[3])),
        any::<u16>().prop_map(|h| format!("fd00:122::{h:x}")),
        Just("127.0.0.1".to_string()),
        Just("::".to_string()),
        Just("255.255.255.255".to_string()),
    ]
}

fn roles() -> impl Strategy<Value = Vec<&'static str>> {
    proptest::collection::vec(
        prop_oneof![
            Just("control-plane"),
            Just("worker"),
            Just("etcd"),
            Just("load-balancer")
        ],
        0..3,
    )
}

prop_compose! {
    /// A preset of valid syntax with values anywhere in their ranges.
    fn random_preset()(
        topology in prop_oneof![Just("single-node"), Just("single-master"), Just("stacked-ha"), Just("external-etcd")],
        lb in prop_oneof![Just("haproxy-keepalived"), Just("kube-vip"), Just("external")],
        pod in cidr(), service in cidr(), hosts_cidr in proptest::option::of(cidr()),
        vip in proptest::option::of(address()),
        endpoint in proptest::option::of(prop_oneof![address(), Just("kubeapi.test.example".to_string())]),
        port in 1u16..,
        minor in 20u32..40,
        hosts in proptest::collection::vec((0u8..12, address(), roles()), 0..14),
    ) -> String {
        let mut text = format!("name = \"lab\"\ntopology = \"{topology}\"\n\n[kubernetes]\nversion = \"1.{minor}.0\"\npod_cidr = \"{pod}\"\nservice_cidr = \"{service}\"\n\n[network]\n");
        if let Some(net) = hosts_cidr {
            text += &format!("hosts_cidr = \"{net}\"\n");
        }
        text += &format!("\n[control_plane]\nport = {port}\nload_balancer = \"{lb}\"\n");
        if let Some(vip) = vip {
            text += &format!("vip = \"{vip}\"\n");
        }
        if let Some(endpoint) = endpoint {
            text += &format!("endpoint = \"{endpoint}\"\n");
        }
        for (n, address, roles) in hosts {
            let roles: Vec<String> = roles.iter().map(|r| format!("\"{r}\"")).collect();
            text += &format!("\n[[hosts]]\nname = \"host-{n}\"\naddress = \"{address}\"\nroles = [{}]\n", roles.join(", "));
        }
        text
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        check(&text);
    }

    #[test]
    fn mutated_presets_never_panic(which in any::<prop::sample::Index>(), edits in proptest::collection::vec(edit(), 1..6)) {
        let presets = bundled();
        let mut text = which.get(&presets).clone();
        for e in &edits {
            apply(&mut text, e);
        }
        check(&text);
    }

    #[test]
    fn random_specs_never_panic(text in random_preset()) {
        check(&text);
    }
}
