//! Saving a spec writes a preset that loads back to the same spec.

use std::fs;
use std::path::Path;

use kubewiz::spec;

fn presets() -> Vec<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["presets", "tests/corpus/good"] {
        for entry in fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                files.push(path);
            }
        }
    }
    files
}

#[test]
fn saved_presets_load_back_to_the_same_spec() {
    let files = presets();
    assert!(files.len() > 20);
    for file in files {
        let loaded = spec::load_file(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let saved = spec::to_toml(&loaded.spec);
        let again = spec::parse(&saved).unwrap_or_else(|e| {
            panic!(
                "{}: saved preset does not load: {e:?}\n{saved}",
                file.display()
            )
        });
        assert_eq!(again, loaded.spec, "{}", file.display());
        // Saving is stable: a second save writes the same text.
        assert_eq!(spec::to_toml(&again), saved);
    }
}

#[test]
fn a_saved_preset_is_a_valid_preset_for_validate() {
    let loaded =
        spec::load_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join("presets/kvm-lab.toml"))
            .unwrap();
    let saved = spec::to_toml(&loaded.spec);
    let spec = spec::parse(&saved).unwrap();
    assert!(spec::validate::validate(&spec).is_empty());
    assert!(
        saved.contains("[[hosts]]") && saved.contains("name = \"kvm-lab\""),
        "{saved}"
    );
}
