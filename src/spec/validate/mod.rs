//! Checks a spec before anything is touched. Every problem is reported at once, each
//! with its field path, what is wrong and what to do.
//!
//! [`validate`] is pure: the same spec always gives the same problems, so the wizard
//! can call it on every keystroke. [`check_local`] adds what depends on this machine's
//! files (the SSH key, the bundle directory), as warnings: a preset may be prepared on
//! one machine and applied from another.

mod endpoint;
mod hosts;
mod local;
mod network;
mod options;
mod topology;

pub use local::{check_local, expand_home};

use super::{ClusterSpec, Diagnostic};

/// Every rule of the spec, in a stable order.
pub fn validate(spec: &ClusterSpec) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    topology::check(spec, &mut out);
    hosts::check(spec, &mut out);
    network::check(spec, &mut out);
    endpoint::check(spec, &mut out);
    options::check(spec, &mut out);
    out
}

/// `hosts[i].field`
fn host_path(index: usize, field: &str) -> String {
    format!("hosts[{index}].{field}")
}

/// A list of host names for messages: `a, b and c`.
fn name_list<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.into_iter().collect();
    match names.as_slice() {
        [] => "none".into(),
        [one] => (*one).into(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}
