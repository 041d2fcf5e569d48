//! Talking to libvirt through the `virsh` command line (Debian: libvirt-clients), always
//! with an explicit `--connect URI`, so the same code reads the KVM host's
//! `qemu:///system` and the tests' `test:///FILE` driver.
//!
//! Why virsh and not a libvirt binding: kubewiz stays free of C libraries, and every
//! command kubewiz runs is one the operator can read, copy and run by hand.

use std::io::ErrorKind;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use super::KvmError;

/// The URI kubewiz uses unless told otherwise: the system instance of the QEMU driver,
/// where the VMs of a KVM host live.
pub const DEFAULT_CONNECT: &str = "qemu:///system";

/// The libvirt connection kubewiz uses when none is given on the command line:
/// `$LIBVIRT_DEFAULT_URI`, libvirt's own variable (virsh without `-c` uses it too), or
/// [`DEFAULT_CONNECT`]. The install's libvirt network phase and the wizard's import
/// take it from here.
pub fn connect_uri() -> String {
    std::env::var("LIBVIRT_DEFAULT_URI")
        .ok()
        .map(|uri| uri.trim().to_owned())
        .filter(|uri| !uri.is_empty())
        .unwrap_or_else(|| DEFAULT_CONNECT.to_owned())
}

/// One virsh command kubewiz ran, and how it ended: for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ran {
    /// As the operator would type it.
    pub command: String,
    /// `ok`, or the exit status and what virsh said on standard error.
    pub result: String,
}

/// A libvirt connection, as `virsh -c URI`.
#[derive(Debug, Clone)]
pub struct Virsh {
    pub uri: String,
    /// When recording: every command run, in order.
    record: Option<Arc<Mutex<Vec<Ran>>>>,
}

impl PartialEq for Virsh {
    fn eq(&self, other: &Self) -> bool {
        self.uri == other.uri
    }
}

impl Eq for Virsh {}

impl Virsh {
    pub fn new(uri: impl Into<String>) -> Self {
        Virsh {
            uri: uri.into(),
            record: None,
        }
    }

    /// A connection that remembers every command it runs and its result (see
    /// [`Virsh::ran`]), so the install's audit log can name each one.
    pub fn recording(uri: impl Into<String>) -> Self {
        Virsh {
            uri: uri.into(),
            record: Some(Arc::default()),
        }
    }

    /// The commands run so far, taken: a second call returns only newer ones. Empty
    /// unless made with [`Virsh::recording`].
    pub fn ran(&self) -> Vec<Ran> {
        self.record
            .as_ref()
            .map(|r| std::mem::take(&mut *r.lock().unwrap_or_else(|e| e.into_inner())))
            .unwrap_or_default()
    }

    fn note(&self, command: String, output: &Result<Output, std::io::Error>) {
        let Some(record) = &self.record else { return };
        let result = match output {
            Ok(o) => {
                let stderr = String::from_utf8_lossy(&o.stderr);
                let stderr = stderr.split_whitespace().collect::<Vec<_>>().join(" ");
                // A script exits 0 after a failed command when a later one succeeds,
                // so what virsh said is kept whatever the status.
                match (o.status.code(), stderr.is_empty()) {
                    (Some(0), true) => "ok".to_owned(),
                    (Some(code), true) => format!("exit {code}"),
                    (Some(code), false) => format!("exit {code}: {stderr}"),
                    (None, _) => format!("killed: {stderr}"),
                }
            }
            Err(e) => format!("not run: {e}"),
        };
        record
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Ran { command, result });
    }

    /// Runs one virsh command; its standard output on success.
    pub fn run(&self, args: &[&str]) -> Result<String, KvmError> {
        let mut all = vec!["-c", self.uri.as_str()];
        all.extend_from_slice(args);
        let output = Command::new("virsh")
            .args(&all)
            // English messages and table headings whatever the operator's locale:
            // states such as "shut off" are read from them.
            .env("LC_ALL", "C")
            .output();
        self.note(self.command_line(args), &output);
        let output = output.map_err(|e| match e.kind() {
            ErrorKind::NotFound => KvmError::VirshMissing,
            _ => KvmError::Virsh {
                command: self.command_line(args),
                status: None,
                stderr: e.to_string(),
            },
        })?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(KvmError::Virsh {
                command: self.command_line(args),
                status: output.status.code(),
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            })
        }
    }

    /// Runs several virsh commands in one virsh process (`virsh -c URI 'a; b; c'`) and
    /// returns (standard output, standard error). virsh goes on after a failing command
    /// and exits 0 when the last one succeeds, so the caller judges the outcome from
    /// what the commands produced, not from the exit status.
    ///
    /// Why one process: libvirt's test driver (`test:///FILE`) keeps its state only
    /// inside the process that opened it, so changes followed by a read-back must share
    /// one virsh. With libvirtd (`qemu:///system`) it is equally correct, and the
    /// read-back at the end sees exactly what the changes left.
    pub fn run_script(&self, commands: &[Vec<String>]) -> Result<(String, String), KvmError> {
        let script = script(commands);
        let output = Command::new("virsh")
            .args(["-c", self.uri.as_str(), script.as_str()])
            .env("LC_ALL", "C")
            .output();
        self.note(
            format!("virsh -c {} {}", quote(&self.uri), quote(&script)),
            &output,
        );
        let output = output.map_err(|e| match e.kind() {
            ErrorKind::NotFound => KvmError::VirshMissing,
            _ => KvmError::Virsh {
                command: format!("virsh -c {} {}", quote(&self.uri), quote(&script)),
                status: None,
                stderr: e.to_string(),
            },
        })?;
        Ok((
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        ))
    }

    /// The command as the operator would type it in a shell.
    pub fn command_line(&self, args: &[&str]) -> String {
        let mut line = format!("virsh -c {}", quote(&self.uri));
        for arg in args {
            line.push(' ');
            line.push_str(&quote(arg));
        }
        line
    }
}

/// Commands joined for virsh's own command parser, `;` between them.
pub fn script(commands: &[Vec<String>]) -> String {
    commands
        .iter()
        .map(|args| args.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Quotes an argument so that both a POSIX shell and virsh's command parser read it
/// back unchanged: plain words stay bare, anything else goes in single quotes with
/// `'\''` for a single quote (both parsers take a backslash-escaped quote outside
/// quotes).
pub fn quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@+%".contains(c));
    if plain {
        arg.to_owned()
    } else {
        crate::shell::quote(arg)
    }
}

/// The data rows of one of virsh's tables (the lines after the `-----` rule), split on
/// whitespace. Blank lines are dropped.
pub fn table_rows(output: &str) -> Vec<Vec<&str>> {
    output
        .lines()
        .skip_while(|line| !line.trim_start().starts_with("---"))
        .skip(1)
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .filter(|row| !row.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote("net-update"), "net-update");
        assert_eq!(quote("test:///tmp/a b.xml"), "'test:///tmp/a b.xml'");
        assert_eq!(quote(r#"<host ip="1"/>"#), r#"'<host ip="1"/>'"#);
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn rows() {
        let out = " Name       MAC address          Protocol     Address
-------------------------------------------------------------------------------
 vnet0      52:54:00:00:00:11    ipv4         192.168.122.3/24
 -          -                    ipv6         fe80::1/64

";
        let rows = table_rows(out);
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0],
            ["vnet0", "52:54:00:00:00:11", "ipv4", "192.168.122.3/24"]
        );
    }
}
