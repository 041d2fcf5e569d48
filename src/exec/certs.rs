//! Reading files from every host at once for `kubewiz certs check`: one connection per
//! host, each read bounded in time, so a host that does not answer is reported rather
//! than waited on.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use super::transport::Transport;
use crate::spec::ClusterSpec;

/// What was read on one host: each path's content, None where the file is missing;
/// Err when the host could not be reached or stopped answering.
pub type HostRead = Result<BTreeMap<String, Option<Vec<u8>>>, String>;

/// Reads `wanted` (host name → paths) over `transport`, every host at once; a host
/// gets `timeout` for its connection and all its reads together.
pub async fn read_hosts(
    transport: Arc<dyn Transport>,
    spec: &ClusterSpec,
    wanted: BTreeMap<String, Vec<String>>,
    timeout: Duration,
) -> BTreeMap<String, HostRead> {
    let mut jobs = JoinSet::new();
    for (name, paths) in wanted {
        let Some(host) = spec.hosts.iter().find(|h| h.name.as_str() == name).cloned() else {
            continue;
        };
        let ssh = spec.ssh.clone();
        let transport = transport.clone();
        jobs.spawn(async move {
            let read = async {
                let session = transport
                    .connect(&host, &ssh)
                    .await
                    .map_err(|e| e.to_string())?;
                let mut out = BTreeMap::new();
                for path in paths {
                    let content = session
                        .read(&path)
                        .await
                        .map_err(|e| format!("{path}: {e}"))?;
                    out.insert(path, content);
                }
                Ok(out)
            };
            let result = match tokio::time::timeout(timeout, read).await {
                Ok(r) => r,
                Err(_) => Err(format!("did not answer within {}s", timeout.as_secs())),
            };
            (name, result)
        });
    }
    let mut out = BTreeMap::new();
    while let Some(done) = jobs.join_next().await {
        if let Ok((name, result)) = done {
            out.insert(name, result);
        }
    }
    out
}
