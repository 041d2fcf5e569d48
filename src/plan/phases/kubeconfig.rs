//! On the KVM host, last: the API answers through the endpoint with the operator's
//! kubeconfig, which is then saved in the cluster's state directory.

use super::super::steps::Steps;
use super::super::{Action, Blob, HostSteps, LOCAL};
use super::{Builder, PhaseDef};

pub const PHASE: PhaseDef = PhaseDef::on_hosts("kubeconfig", "Fetch kubeconfig", steps);

/// The operator's kubeconfig, relative to `local/`.
const KUBECONFIG: &str = "admin.conf";

fn steps(b: &Builder) -> Vec<HostSteps> {
    let mut s = Steps::new(PHASE.id, LOCAL);
    let Some(file) = b.local_file(KUBECONFIG) else {
        return Vec::new();
    };
    s.push(
        "endpoint",
        "check the API through the endpoint with the operator's kubeconfig",
        Action::CheckApi {
            url: format!("{}/readyz", b.layout.api_url()),
            kubeconfig: KUBECONFIG.into(),
            content: Blob::new(&file.content),
            workdir: b.local.state_dir.clone(),
        },
        120,
    );
    s.push(
        "admin.conf",
        "save the operator kubeconfig admin.conf",
        Action::WriteLocal {
            path: file.path.clone(),
            to: b.local.state_dir.join(&file.path),
            mode: file.mode,
            content: Blob::new(&file.content),
        },
        10,
    );
    vec![s.done()]
}
