//! What each host keeps of the changes kubewiz made there, so `kubewiz reset` can put
//! the host back: the install's steps write these records (uploads through the
//! transport, the hostname and swap steps themselves) and the reset reads them.

use crate::shell::quote;

/// Where the hosts keep what kubewiz changed: `orig/PATH` holds the original of every
/// file an upload replaced, `new/PATH` marks every file an upload created, and `dirs`
/// lists the directories uploads created. `kubewiz reset` restores from it.
pub const RECORD_DIR: &str = "/var/lib/kubewiz/files";

/// In [`RECORD_DIR`]: whether swap was `on` or `off` before kubewiz first turned it off.
pub const SWAP_RECORD: &str = "/var/lib/kubewiz/files/swap";

/// The state directory kubewiz keeps on each host (the records live in it).
pub const HOST_STATE: &str = "/var/lib/kubewiz";

/// Shell commands that keep what the file `path` was before kubewiz first changes it
/// (under [`RECORD_DIR`]): a copy of it, or a mark that it did not exist. A record that
/// exists is kept, so it always holds the state before the first change.
pub fn keep_original(path: &str) -> String {
    let quoted = quote(path);
    let qdir = quote(match path.rsplit_once('/') {
        Some(("", _)) | None => "/",
        Some((dir, _)) => dir,
    });
    format!(
        "if [ ! -e {RECORD_DIR}/orig{quoted} ] && [ ! -e {RECORD_DIR}/new{quoted} ]; then \
         if [ -e {quoted} ]; then mkdir -p {RECORD_DIR}/orig{qdir} && cp -a -- {quoted} {RECORD_DIR}/orig{quoted}; \
         else {{ [ -d {RECORD_DIR}/new{qdir} ] || mkdir -p {RECORD_DIR}/new{qdir}; }} && : > {RECORD_DIR}/new{quoted}; fi; fi"
    )
}
