//! Shell completions and man pages, made from the clap definitions: bash takes the
//! script, and groff and mandoc render the pages without a warning.

use std::process::Command;

const KUBEWIZ: &str = env!("CARGO_BIN_EXE_kubewiz");

fn completions(shell: &str) -> String {
    let out = Command::new(KUBEWIZ)
        .args(["completions", shell])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn bash_knows_kubewiz_after_sourcing_the_script() {
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c"])
        .arg(format!(
            "source <('{KUBEWIZ}' completions bash) && complete -p kubewiz"
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let spec = String::from_utf8_lossy(&out.stdout);
    assert!(
        spec.starts_with("complete ") && spec.trim_end().ends_with(" kubewiz"),
        "{spec}"
    );
    // The function completes subcommands: `kubewiz sch<Tab>` offers schema.
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c"])
        .arg(format!(
            "source <('{KUBEWIZ}' completions bash)\n\
             f=$(complete -p kubewiz | sed -n 's/.*-F \\([^ ]*\\) .*/\\1/p')\n\
             COMP_WORDS=(kubewiz sch); COMP_CWORD=1; COMP_LINE='kubewiz sch'; COMP_POINT=11\n\
             $f kubewiz sch kubewiz; printf '%s\\n' \"${{COMPREPLY[@]}}\""
        ))
        .output()
        .unwrap();
    let offered = String::from_utf8_lossy(&out.stdout);
    assert!(offered.lines().any(|l| l == "schema"), "{out:?}");
}

#[test]
fn zsh_and_fish_scripts_name_kubewiz() {
    assert!(completions("zsh").starts_with("#compdef kubewiz"));
    assert!(completions("fish").contains("complete -c kubewiz"));
}

#[test]
fn one_page_per_command_with_exit_status_and_files_rendered_without_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(KUBEWIZ)
        .arg("man")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    for page in [
        "kubewiz.1",
        "kubewiz-apply.1",
        "kubewiz-audit-verify.1",
        "kubewiz-kubeconfig.1",
    ] {
        assert!(dir.path().join(page).is_file(), "{page} is missing");
    }
    let apply = dir.path().join("kubewiz-apply.1");
    let text = std::fs::read_to_string(&apply).unwrap();
    for section in [".SH \"EXIT STATUS\"", ".SH FILES", ".SH OPTIONS"] {
        assert!(text.contains(section), "{section} missing:\n{text}");
    }
    assert!(text.contains("dry\\-run"), "{text}");

    let groff = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .arg(&apply)
        .output()
        .expect("groff is missing: scripts/test.sh installs groff-base");
    assert!(
        groff.status.success() && groff.stderr.is_empty(),
        "groff warns: {}",
        String::from_utf8_lossy(&groff.stderr)
    );
    let mandoc = Command::new("mandoc")
        .args(["-T", "lint", "-W", "warning"])
        .arg(&apply)
        .output()
        .expect("mandoc is missing: scripts/test.sh installs mandoc");
    assert!(
        mandoc.status.success() && mandoc.stdout.is_empty() && mandoc.stderr.is_empty(),
        "mandoc warns: {}{}",
        String::from_utf8_lossy(&mandoc.stdout),
        String::from_utf8_lossy(&mandoc.stderr)
    );
}
