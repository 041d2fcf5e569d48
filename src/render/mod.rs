//! Every file kubewiz generates, as data: which host it goes to, its absolute path
//! there, its mode and its content. Rendering is a pure function of the spec and the
//! PKI, so the preview, `kubewiz render`, the plan and the install all see the same
//! bytes.

pub mod cni;
pub mod etcd;
pub mod kubeadm;
pub mod kvm;
pub mod lb;
pub mod node;
pub mod pki;
mod template;

pub use crate::files::{File, MODE_EXEC, MODE_PRIVATE, MODE_PUBLIC, Purpose, Target};
pub use crate::spec::layout::{API_SERVER_PORT, Layout, LayoutError, LbLayout};
pub use template::render_template;

use crate::pki::Pki;

use crate::spec::ClusterSpec;

/// A spec that cannot be rendered; validation reports the same problems earlier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RenderError(pub String);

impl From<LayoutError> for RenderError {
    fn from(e: LayoutError) -> Self {
        RenderError(e.0)
    }
}

/// Every file of the cluster, sorted by target and path.
pub fn render(spec: &ClusterSpec, pki: &Pki) -> Result<Vec<File>, RenderError> {
    let layout = Layout::new(spec)?;
    let mut files = Vec::new();
    files.extend(node::files(&layout));
    files.extend(pki::files(&layout, pki));
    files.extend(etcd::files(&layout));
    files.extend(lb::files(&layout));
    files.extend(kubeadm::files(&layout, pki));
    files.extend(cni::files(&layout));
    files.extend(kvm::files(&layout));
    files.sort_by(|a, b| (&a.target, &a.path).cmp(&(&b.target, &b.path)));
    Ok(files)
}
