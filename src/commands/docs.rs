//! `kubewiz completions SHELL`, `kubewiz man DIR` and `kubewiz schema`: what the
//! command line and the preset format say about themselves, made from the clap
//! definitions and the spec's types so they never drift from the program.
//!
//! Man pages are written at run time rather than by a build script: a build script
//! would have to compile the clap definitions a second time for every build, and
//! `scripts/deb.sh` runs the binary it packages anyway.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::CommandFactory;

use super::{EXIT_FAILED, EXIT_OK};
use crate::cli::Cli;

/// Prints the completion script for `shell` on standard output.
pub fn completions(shell: clap_complete::Shell) -> ExitCode {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "kubewiz", &mut std::io::stdout());
    ExitCode::from(EXIT_OK)
}

/// Prints the preset JSON Schema on standard output.
pub fn schema() -> ExitCode {
    print!("{}", crate::spec::schema::preset_schema());
    ExitCode::from(EXIT_OK)
}

/// Writes one man page per command and subcommand into `dir`.
pub fn man(dir: &Path) -> ExitCode {
    match write_pages(dir) {
        Ok(names) => {
            eprintln!(
                "kubewiz: wrote {} man pages to {}",
                names.len(),
                dir.display()
            );
            ExitCode::from(EXIT_OK)
        }
        Err(e) => {
            eprintln!(
                "kubewiz: cannot write the man pages to {}: {e}; give a writable directory",
                dir.display()
            );
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// The pages' file names, `kubewiz.1` first.
pub fn write_pages(dir: &Path) -> std::io::Result<Vec<String>> {
    std::fs::create_dir_all(dir)?;
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut names = Vec::new();
    write_page(dir, cmd, &mut names)?;
    Ok(names)
}

fn write_page(dir: &Path, cmd: clap::Command, names: &mut Vec<String>) -> std::io::Result<()> {
    let man = clap_mangen::Man::new(cmd.clone())
        .date(page_date())
        .manual("kubewiz manual")
        .source(format!("kubewiz {}", env!("CARGO_PKG_VERSION")));
    let name = man.get_filename();
    let mut page = Vec::new();
    man.render(&mut page)?;
    page.extend_from_slice(EXIT_STATUS.as_bytes());
    page.extend_from_slice(FILES.as_bytes());
    page.extend_from_slice(see_also(&cmd).as_bytes());
    let mut file = std::fs::File::create(dir.join(&name))?;
    file.write_all(&page)?;
    names.push(name);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_page(dir, sub.clone(), names)?;
    }
    Ok(())
}

/// The pages' date: `$SOURCE_DATE_EPOCH`'s day when set (reproducible builds, as
/// scripts/deb.sh sets it), else today.
fn page_date() -> String {
    let t = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .unwrap_or_else(time::OffsetDateTime::now_utc);
    format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
}

const EXIT_STATUS: &str = r#".SH "EXIT STATUS"
.TP
\fB0\fR
Success.
.TP
\fB1\fR
The work failed: an invalid preset, a host that failed, a log that is not whole.
.TP
\fB2\fR
A usage error: an unknown option or a missing argument.
.TP
\fB130\fR
A run stopped with Ctrl\-C.
"#;

const FILES: &str = r#".SH FILES
.TP
\fI/var/lib/kubewiz/\fR
The state directory as root (else \fI$XDG_STATE_HOME/kubewiz/\fR): per cluster its PKI, the preset last applied, the run journal, \fIadmin.conf\fR and the audit logs.
.TP
\fI$XDG_CONFIG_HOME/kubewiz/presets/\fR
The operator's saved presets (\fI~/.config/kubewiz/presets/\fR), listed by the wizard.
.TP
\fI/etc/kubewiz/presets/\fR
Presets shared by every operator of the machine, listed by the wizard.
.TP
\fI/usr/share/kubewiz/presets/\fR
The shipped example presets; \fI/usr/share/kubewiz/preset.schema.json\fR is their JSON Schema.
.TP
\fI~/.kube/config\fR
Where \fBkubewiz kubeconfig\fR merges a cluster's admin kubeconfig (or the first file of \fI$KUBECONFIG\fR).
"#;

fn see_also(cmd: &clap::Command) -> String {
    let own = cmd.get_display_name().unwrap_or(cmd.get_name());
    let mut refs: Vec<String> = Vec::new();
    if own != "kubewiz" {
        refs.push(r"\fBkubewiz\fR(1)".into());
    }
    refs.extend(
        cmd.get_subcommands()
            .filter(|s| !s.is_hide_set())
            .map(|s| format!(r"\fB{}\fR(1)", s.get_display_name().unwrap_or(s.get_name()))),
    );
    if refs.is_empty() {
        return String::new();
    }
    format!(".SH \"SEE ALSO\"\n{}\n", refs.join(",\n"))
}
