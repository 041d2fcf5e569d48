//! Image archives for tests and benchmarks: an OCI image layout with one image of one
//! layer, written as a tar file the way `ctr images export` writes one, under each of
//! the given references (`io.containerd.image.name`).
#![allow(dead_code)]

use std::path::Path;

use kubewiz::digest::sha256_hex;

/// Writes to `path` an OCI layout whose image has one layer holding the file `name`
/// (`content`, with `mode`), named by each of `refs`.
pub fn oci_archive(path: &Path, refs: &[String], name: &str, content: &[u8], mode: u32) {
    let mut layer = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(content.len() as u64);
    h.set_mode(mode);
    h.set_cksum();
    layer.append_data(&mut h, name, content).unwrap();
    let layer = layer.into_inner().unwrap();
    let layer_digest = sha256_hex(&layer);
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Entrypoint": [format!("/{name}")]},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{layer_digest}")]}
    })
    .to_string();
    let config_digest = sha256_hex(config.as_bytes());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": format!("sha256:{config_digest}"), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": format!("sha256:{layer_digest}"), "size": layer.len()}]
    })
    .to_string();
    let manifest_digest = sha256_hex(manifest.as_bytes());
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": refs.iter().map(|r| serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{manifest_digest}"), "size": manifest.len(),
            "annotations": {"io.containerd.image.name": r,
                            "org.opencontainers.image.ref.name": r.rsplit(':').next().unwrap()}
        })).collect::<Vec<_>>()
    })
    .to_string();
    let mut out = tar::Builder::new(std::fs::File::create(path).unwrap());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        out.append_data(&mut h, name, data).unwrap();
    };
    add("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    add("index.json", index.as_bytes());
    add(&format!("blobs/sha256/{layer_digest}"), &layer);
    add(&format!("blobs/sha256/{config_digest}"), config.as_bytes());
    add(
        &format!("blobs/sha256/{manifest_digest}"),
        manifest.as_bytes(),
    );
    out.into_inner().unwrap();
}
