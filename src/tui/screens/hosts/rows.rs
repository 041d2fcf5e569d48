//! The rows of the hosts table as text, and how that text becomes hosts: each cell
//! parsed with the spec's own types, the bulk-add pattern expanded, the next row
//! guessed from the one before. No drawing and no keys here.

use std::net::IpAddr;

use crate::spec::{DnsLabel, HostSpec, Role};
use crate::tui::field::{self, TextField};

/// The most hosts one bulk add makes; more is almost surely a typo.
const BULK_MAX: u32 = 256;

/// One row of the table: the text of its five cells, each with its parse error.
#[derive(Debug, Clone, Default)]
pub(super) struct HostRow {
    pub(super) cells: [TextField; 5],
}

impl HostRow {
    /// The row showing `h`.
    pub(super) fn from_spec(h: &HostSpec) -> Self {
        HostRow {
            cells: [
                TextField::new(h.name.as_str()),
                TextField::new(h.address.to_string()),
                TextField::new(roles_text(&h.roles)),
                TextField::new(h.user.clone().unwrap_or_default()),
                TextField::new(h.port.map(|p| p.to_string()).unwrap_or_default()),
            ],
        }
    }

    /// Parses every cell, recording each cell's error; the host when all parse.
    pub(super) fn parse(&mut self) -> Option<HostSpec> {
        let name = field::parse::<DnsLabel>(self.cells[0].value());
        let address = parse_address(self.cells[1].value());
        let roles = parse_roles(self.cells[2].value());
        let user = field::optional(self.cells[3].value(), parse_user);
        let port = field::optional(self.cells[4].value(), field::port);
        self.cells[0].error = name.as_ref().err().cloned();
        self.cells[1].error = address.as_ref().err().cloned();
        self.cells[2].error = roles.as_ref().err().cloned();
        self.cells[3].error = user.as_ref().err().cloned();
        self.cells[4].error = port.as_ref().err().cloned();
        Some(HostSpec {
            name: name.ok()?,
            address: address.ok()?,
            roles: roles.ok()?,
            user: user.ok()?,
            port: port.ok()?,
        })
    }
}

fn roles_text(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// An IP address, with an example in the error.
pub(super) fn parse_address(text: &str) -> Result<IpAddr, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("is empty; give the host's IP address, e.g. 192.168.122.21".into());
    }
    text.parse::<IpAddr>()
        .map_err(|_| format!("\"{text}\" is not an IP address; give one like 192.168.122.21"))
}

/// Roles as a comma-separated list; `cp`, `w` and `lb` are accepted as short forms.
pub(super) fn parse_roles(text: &str) -> Result<Vec<Role>, String> {
    let mut roles = Vec::new();
    for word in text
        .split([',', ' '])
        .map(str::trim)
        .filter(|w| !w.is_empty())
    {
        let role = match word {
            "cp" => Role::ControlPlane,
            "w" => Role::Worker,
            "lb" => Role::LoadBalancer,
            _ => Role::ALL.into_iter().find(|r| r.as_str() == word).ok_or_else(|| {
                format!("\"{word}\" is not a role; use control-plane (cp), worker (w), etcd or load-balancer (lb)")
            })?,
        };
        roles.push(role);
    }
    Ok(roles)
}

fn parse_user(text: &str) -> Result<String, String> {
    if text
        .chars()
        .any(|c| c.is_whitespace() || c == '@' || c.is_control())
    {
        return Err(format!(
            "\"{text}\" is not a user name; leave it empty to use ssh.user"
        ));
    }
    Ok(text.to_owned())
}

/// `kubenode-{1..5}` → (`kubenode-`, 1, 5, ``).
fn parse_pattern(text: &str) -> Result<(String, u32, u32, String), String> {
    let bad = || {
        format!("\"{text}\" is not a pattern; write a name with a range, e.g. kubenode-{{1..5}}")
    };
    let (prefix, rest) = text.trim().split_once('{').ok_or_else(bad)?;
    let (range, suffix) = rest.split_once('}').ok_or_else(bad)?;
    let (a, b) = range.split_once("..").ok_or_else(bad)?;
    let (a, b): (u32, u32) = (
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    );
    if b < a || b - a >= BULK_MAX {
        return Err(format!(
            "{{{a}..{b}}} must count up, by at most {BULK_MAX} hosts"
        ));
    }
    Ok((prefix.to_owned(), a, b, suffix.to_owned()))
}

/// The address `n` after `first`.
pub(super) fn offset(first: IpAddr, n: u32) -> Option<IpAddr> {
    match first {
        IpAddr::V4(v4) => u32::from(v4).checked_add(n).map(|x| IpAddr::V4(x.into())),
        IpAddr::V6(v6) => u128::from(v6)
            .checked_add(n.into())
            .map(|x| IpAddr::V6(x.into())),
    }
}

/// Makes the rows of a bulk add, or says what is wrong with the dialog's fields.
pub(super) fn expand(pattern: &str, first: &str, roles: &str) -> Result<Vec<HostRow>, String> {
    let (prefix, a, b, suffix) = parse_pattern(pattern)?;
    let first = parse_address(first).map_err(|e| format!("first address {e}"))?;
    let roles = parse_roles(roles)?;
    (a..=b)
        .enumerate()
        .map(|(i, n)| {
            let name = format!("{prefix}{n}{suffix}");
            name.parse::<DnsLabel>().map_err(|e| format!("name {e}"))?;
            let address = offset(first, i as u32)
                .ok_or("the addresses run past the end of the address space")?;
            Ok(HostRow::from_spec(&HostSpec {
                name: name.parse().map_err(|e: String| e)?,
                address,
                roles: roles.clone(),
                user: None,
                port: None,
            }))
        })
        .collect()
}

/// A new row to follow `of` among `rows`: the same roles, the next free name and
/// address; a first worker when there is no row to follow.
pub(super) fn successor(rows: &[HostRow], of: Option<&HostRow>) -> HostRow {
    let Some(of) = of else {
        return HostRow::from_spec(&HostSpec {
            name: "kubenode-1".parse().unwrap_or_else(|_| unreachable!()),
            address: IpAddr::from([192, 168, 122, 21]),
            roles: vec![Role::Worker],
            user: None,
            port: None,
        });
    };
    let mut row = of.clone();
    for c in &mut row.cells {
        c.commit();
    }
    let name = of.cells[0].value();
    let stem = name.trim_end_matches(|c: char| c.is_ascii_digit());
    let mut n: u32 = name[stem.len()..].parse().unwrap_or(0);
    let taken = |candidate: &str| rows.iter().any(|r| r.cells[0].value() == candidate);
    let mut candidate;
    loop {
        n += 1;
        candidate = format!("{stem}{n}");
        if !taken(&candidate) {
            break;
        }
    }
    row.cells[0].set(candidate);
    if let Ok(ip) = parse_address(of.cells[1].value()) {
        let mut k = 1;
        while let Some(next) = offset(ip, k) {
            let text = next.to_string();
            if !rows.iter().any(|r| r.cells[1].value() == text) {
                row.cells[1].set(text);
                break;
            }
            k += 1;
        }
    }
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_patterns() {
        let rows = expand("kubenode-{1..3}", "192.168.122.21", "worker").unwrap();
        let names: Vec<_> = rows.iter().map(|r| r.cells[0].value().to_owned()).collect();
        assert_eq!(names, ["kubenode-1", "kubenode-2", "kubenode-3"]);
        assert_eq!(rows[2].cells[1].value(), "192.168.122.23");
        assert!(
            expand("kubenode-1", "192.168.122.21", "worker")
                .unwrap_err()
                .contains("pattern")
        );
        assert!(expand("n{3..1}", "192.168.122.21", "w").is_err());
        assert!(
            expand("n{1..2}", "192.168.122", "w")
                .unwrap_err()
                .contains("first address")
        );
        assert!(
            expand("N{1..2}", "10.0.0.1", "w")
                .unwrap_err()
                .contains("upper-case")
        );
    }

    #[test]
    fn roles() {
        assert_eq!(
            parse_roles("cp, w").unwrap(),
            [Role::ControlPlane, Role::Worker]
        );
        assert!(parse_roles("master").unwrap_err().contains("not a role"));
    }
}
