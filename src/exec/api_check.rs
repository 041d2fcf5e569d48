//! Checking the API from the KVM host with the operator's own kubeconfig: the proof
//! that the endpoint, the load balancer and the certificates work for the operator.

use std::path::Path;

/// Writes the CA, client certificate and key of a kubeconfig into `dir` (0700, files
/// 0600), for curl.
fn write_credentials(dir: &std::path::Path, kubeconfig: &str) -> Result<(), String> {
    use base64::Engine;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(kubeconfig)
        .map_err(|e| format!("the kubeconfig is not YAML: {e}"))?;
    let field = |value: &serde_yaml_ng::Value, what: &str| -> Result<Vec<u8>, String> {
        let text = value
            .as_str()
            .ok_or_else(|| format!("the kubeconfig has no {what}"))?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| format!("the kubeconfig's {what} is not base64: {e}"))
    };
    let files = [
        (
            "ca.crt",
            field(
                &doc["clusters"][0]["cluster"]["certificate-authority-data"],
                "CA",
            )?,
        ),
        (
            "client.crt",
            field(
                &doc["users"][0]["user"]["client-certificate-data"],
                "client certificate",
            )?,
        ),
        (
            "client.key",
            field(&doc["users"][0]["user"]["client-key-data"], "client key")?,
        ),
    ];
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    for (name, content) in files {
        let path = dir.join(name);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        std::io::Write::write_all(&mut file, &content)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// One GET of `url` with curl, authenticated with the kubeconfig's client certificate
/// and checked against its CA. The credentials live in `scratch` (0700, files 0600)
/// only while curl runs. Returns the body on a 2xx answer, else curl's reason.
pub async fn probe(url: &str, kubeconfig: &str, scratch: &Path) -> Result<String, String> {
    get(url, kubeconfig, scratch)
        .await
        .map(|body| body.trim().chars().take(200).collect())
}

/// Each node the API lists for the operator's `kubeconfig`, with its state as
/// `kubectl get nodes` says it: "Ready v1.34.2", "NotReady v1.34.2" ("Unknown" when
/// the kubelet stopped reporting). `scratch` holds the credentials while curl runs.
pub async fn nodes(kubeconfig: &str, scratch: &Path) -> Result<Vec<(String, String)>, String> {
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(kubeconfig)
        .map_err(|e| format!("the kubeconfig is not YAML: {e}"))?;
    let server = doc["clusters"][0]["cluster"]["server"]
        .as_str()
        .ok_or("the kubeconfig names no server")?;
    let body = get(
        &format!("{}/api/v1/nodes", server.trim_end_matches('/')),
        kubeconfig,
        scratch,
    )
    .await?;
    let list: serde_json::Value =
        serde_json::from_str(&body).map_err(|e| format!("the API's node list is not JSON: {e}"))?;
    let items = list["items"]
        .as_array()
        .ok_or("the API's answer is no node list")?;
    Ok(items
        .iter()
        .map(|node| {
            let name = node["metadata"]["name"].as_str().unwrap_or("?").to_owned();
            let ready = node["status"]["conditions"]
                .as_array()
                .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
                .and_then(|c| c["status"].as_str());
            let state = match ready {
                Some("True") => "Ready",
                Some("False") => "NotReady",
                _ => "Unknown",
            };
            let version = node["status"]["nodeInfo"]["kubeletVersion"]
                .as_str()
                .unwrap_or("");
            (name, format!("{state} {version}").trim_end().to_owned())
        })
        .collect())
}

/// One GET of `url` as [`probe`] makes it; the whole body.
async fn get(url: &str, kubeconfig: &str, scratch: &Path) -> Result<String, String> {
    write_credentials(scratch, kubeconfig)?;
    let output = tokio::process::Command::new("curl")
        .args(["--silent", "--show-error", "--fail", "--max-time", "5"])
        .arg("--cacert")
        .arg(scratch.join("ca.crt"))
        .arg("--cert")
        .arg(scratch.join("client.crt"))
        .arg("--key")
        .arg(scratch.join("client.key"))
        .arg(url)
        .output()
        .await;
    let _ = std::fs::remove_dir_all(scratch);
    let output =
        output.map_err(|e| format!("cannot run curl on the KVM host ({e}): install curl"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_string())
    }
}
