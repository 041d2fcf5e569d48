//! The preset JSON Schema: the copy in assets/ is what `kubewiz schema` prints, every
//! shipped preset names it, and an independent validator (Python's jsonschema, from
//! Debian) agrees with kubewiz: every good preset passes, and the bad ones whose fault
//! is in the preset's shape (a wrong type, an unknown key, a choice not offered, a
//! missing field) fail it.

use std::path::{Path, PathBuf};
use std::process::Command;

const SCHEMA: &str = "assets/preset.schema.json";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn tomls(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

/// The presets kubewiz ships: one per topology, kvm-lab and more.
fn shipped_presets() -> Vec<PathBuf> {
    let presets = tomls("presets");
    assert!(presets.len() >= 6, "{presets:?}");
    presets
}

#[test]
fn the_schema_in_assets_is_what_kubewiz_schema_prints() {
    let out = Command::new(env!("CARGO_BIN_EXE_kubewiz"))
        .arg("schema")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let printed = String::from_utf8(out.stdout).unwrap();
    let kept = std::fs::read_to_string(root().join(SCHEMA)).unwrap();
    assert!(
        printed == kept,
        "{SCHEMA} is out of date: regenerate it with `kubewiz schema > {SCHEMA}`"
    );
}

#[test]
fn every_shipped_preset_names_the_schema_first() {
    for preset in shipped_presets() {
        let text = std::fs::read_to_string(&preset).unwrap();
        assert_eq!(
            text.lines().next(),
            Some("#:schema ../assets/preset.schema.json"),
            "{}",
            preset.display()
        );
    }
}

/// Runs Debian's python3 with jsonschema on `files`; one verdict per file, in order:
/// `None` when the file passes, else the validator's message.
fn python_verdicts(files: &[PathBuf]) -> Vec<Option<String>> {
    const SCRIPT: &str = r#"
import json, sys, tomllib
from jsonschema import Draft202012Validator
schema = json.load(open(sys.argv[1]))
Draft202012Validator.check_schema(schema)
validator = Draft202012Validator(schema)
for path in sys.argv[2:]:
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except Exception as e:
        print(json.dumps("not TOML: %s" % e))
        continue
    errors = [e.message for e in validator.iter_errors(doc)]
    print(json.dumps("; ".join(errors) if errors else None))
"#;
    let out = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(SCRIPT)
        .arg(root().join(SCHEMA))
        .args(files)
        .output()
        .expect(
            "/usr/bin/python3 is missing: scripts/test.sh installs python3 and python3-jsonschema",
        );
    assert!(
        out.status.success(),
        "python3 with jsonschema failed (scripts/test.sh installs python3-jsonschema):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verdicts: Vec<Option<String>> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(verdicts.len(), files.len());
    verdicts
}

#[test]
fn jsonschema_accepts_every_good_preset() {
    let mut files = shipped_presets();
    files.extend(tomls("tests/corpus/good"));
    let verdicts = python_verdicts(&files);
    assert_eq!(verdicts.len(), files.len(), "one verdict per file");
    for (file, verdict) in files.iter().zip(verdicts) {
        assert_eq!(verdict, None, "{} fails the schema", file.display());
    }
}

/// kubewiz's messages for faults of a preset's shape, which the schema also states.
fn shape_fault(message: &str) -> bool {
    [
        "unknown field",
        "unknown variant",
        "invalid type",
        "is required but missing",
    ]
    .iter()
    .any(|m| message.contains(m))
}

#[test]
fn jsonschema_rejects_the_bad_presets_whose_shape_is_wrong_and_no_more_than_kubewiz() {
    let files = tomls("tests/corpus/bad");
    let verdicts = python_verdicts(&files);
    let mut caught = 0;
    for (file, verdict) in files.iter().zip(verdicts) {
        let text = std::fs::read_to_string(file).unwrap();
        match kubewiz::spec::parse(&text) {
            // kubewiz reads it (its fault is in the values together): the schema must
            // not be stricter than kubewiz.
            Ok(_) => assert_eq!(
                verdict,
                None,
                "{} loads in kubewiz but fails the schema",
                file.display()
            ),
            Err(diagnostics) => {
                let shape = diagnostics
                    .iter()
                    .any(|d| d.path == "toml" || shape_fault(&d.message));
                if shape {
                    assert!(
                        verdict.is_some(),
                        "{} has a fault of shape ({:?}) the schema lets through",
                        file.display(),
                        diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>()
                    );
                    caught += 1;
                }
            }
        }
    }
    assert!(
        caught >= 8,
        "only {caught} bad presets with faults of shape were found"
    );
}
