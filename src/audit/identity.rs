//! Who runs kubewiz, as the system knows it: the user id and its name from the
//! password database, the login user id the kernel keeps across sudo and su, the
//! terminal, the KVM host's name and the executable itself. The environment is only
//! quoted (SUDO_USER, SUDO_UID) and marked as its claim: anyone can set it.
//!
//! A value that cannot be read says why instead; nothing is ever "unknown".

use std::io::IsTerminal;
use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};

/// What `/proc/self/loginuid` holds when no login session set it.
const NO_LOGIN_UID: u32 = u32::MAX;

/// The operator and the program of one run, as the audit log's first record names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The short form every record carries: `alice (uid 1000)`, with the login user
    /// when it differs (`root (uid 0), logged in as alice (uid 1000)`).
    pub operator: String,
    /// The real user id the process runs as.
    pub uid: u32,
    /// Its name in the password database, or why there is none.
    pub user: String,
    /// The login user id (survives sudo and su), or why it cannot be read.
    pub login_uid: String,
    /// Its name in the password database, or why there is none.
    pub login_user: String,
    /// SUDO_USER and SUDO_UID as the environment claims them, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sudo_claimed_by_environment: Option<String>,
    /// The terminal on standard input, or what standard input is instead.
    pub terminal: String,
    /// The KVM host's name.
    pub kvm_host: String,
    pub kubewiz_version: String,
    /// SHA-256 of the kubewiz executable that ran, or why it cannot be read.
    pub kubewiz_sha256: String,
}

impl Identity {
    /// Reads everything from the running system.
    pub fn current() -> Identity {
        let uid = rustix::process::getuid().as_raw();
        let passwd = Passwd::read();
        let user = passwd.name(uid);
        let mut operator = match &user {
            Ok(name) => format!("{name} (uid {uid})"),
            Err(_) => format!("uid {uid} (no name in the password database)"),
        };
        let (login_uid, login_user) = match login_uid() {
            Ok(NO_LOGIN_UID) => {
                let why = format!(
                    "not set ({NO_LOGIN_UID}: no login session, e.g. started by a service or in a container)"
                );
                (why.clone(), why)
            }
            Ok(id) => {
                let name = passwd.name(id).unwrap_or_else(|why| why);
                if id != uid {
                    operator.push_str(&format!(", logged in as {name} (uid {id})"));
                }
                (id.to_string(), name)
            }
            Err(e) => (e.clone(), e),
        };
        Identity {
            operator,
            uid,
            user: user.unwrap_or_else(|why| why),
            login_uid,
            login_user,
            sudo_claimed_by_environment: sudo_claim(),
            terminal: terminal(),
            kvm_host: host_name(),
            kubewiz_version: env!("CARGO_PKG_VERSION").to_owned(),
            kubewiz_sha256: executable_sha256(),
        }
    }
}

/// The password database: /etc/passwd, then `getent passwd` for users it does not hold
/// (LDAP, sssd).
struct Passwd {
    text: Result<String, String>,
}

impl Passwd {
    fn read() -> Passwd {
        Passwd {
            text: std::fs::read_to_string("/etc/passwd")
                .map_err(|e| format!("cannot read /etc/passwd: {e}")),
        }
    }

    /// The name of user `uid`, or why there is none.
    fn name(&self, uid: u32) -> Result<String, String> {
        if let Ok(text) = &self.text
            && let Some(name) = name_in(text, uid)
        {
            return Ok(name);
        }
        let getent = Command::new("getent")
            .args(["passwd", &uid.to_string()])
            .output();
        match getent {
            Ok(out) if out.status.success() => name_in(&String::from_utf8_lossy(&out.stdout), uid)
                .ok_or_else(|| format!("no entry for uid {uid} in the password database")),
            Ok(_) => Err(format!("no entry for uid {uid} in the password database")),
            Err(e) => Err(match &self.text {
                Ok(_) => {
                    format!("no entry for uid {uid} in /etc/passwd, and getent cannot be run: {e}")
                }
                Err(read) => format!("{read}; getent cannot be run: {e}"),
            }),
        }
    }
}

/// The name of `uid` in passwd-format `text`.
fn name_in(text: &str, uid: u32) -> Option<String> {
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let id = fields.nth(1)?;
        (id.parse() == Ok(uid) && !name.is_empty()).then(|| name.to_owned())
    })
}

fn login_uid() -> Result<u32, String> {
    let path = "/proc/self/loginuid";
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    text.trim()
        .parse()
        .map_err(|_| format!("{path} holds {:?}, not a user id", text.trim()))
}

fn sudo_claim() -> Option<String> {
    let user = std::env::var("SUDO_USER").ok();
    let uid = std::env::var("SUDO_UID").ok();
    match (user, uid) {
        (None, None) => None,
        (user, uid) => Some(format!(
            "SUDO_USER={} SUDO_UID={}",
            user.as_deref().unwrap_or("(unset)"),
            uid.as_deref().unwrap_or("(unset)")
        )),
    }
}

/// The terminal on standard input, or what standard input is instead.
pub fn terminal() -> String {
    let target = std::fs::read_link("/proc/self/fd/0");
    match (std::io::stdin().is_terminal(), target) {
        (true, Ok(t)) => t.display().to_string(),
        (true, Err(e)) => format!("a terminal whose name cannot be read: {e}"),
        (false, Ok(t)) => format!("none (standard input is {})", t.display()),
        (false, Err(_)) => "none (standard input is closed)".to_owned(),
    }
}

fn host_name() -> String {
    let path = "/proc/sys/kernel/hostname";
    match std::fs::read_to_string(path) {
        Ok(name) if !name.trim().is_empty() => name.trim().to_owned(),
        Ok(_) => format!("empty ({path} holds no name)"),
        Err(e) => format!("cannot read {path}: {e}"),
    }
}

fn executable_sha256() -> String {
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => return format!("cannot find the executable: {e}"),
    };
    // Read a piece at a time: the program is tens of MiB, more than the rest of a run
    // holds at its peak.
    match crate::digest::sha256_file_hex(&exe) {
        Ok((hex, _)) => hex,
        Err(e) => format!("cannot read {}: {e}", Path::new(&exe).display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_uid_field() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\n";
        assert_eq!(name_in(passwd, 1000).as_deref(), Some("alice"));
        assert_eq!(name_in(passwd, 0).as_deref(), Some("root"));
        assert_eq!(name_in(passwd, 7), None);
    }
}
