//! The PKI on disk, in the state directory: kubeadm's file names, keys 0600, written
//! through a temporary file and a rename so a crash never leaves half a key.

use std::fs;
use std::io;

use std::path::{Path, PathBuf};

use super::CertKey;
use crate::files::{MODE_PRIVATE, MODE_PUBLIC};

pub struct Store {
    dir: PathBuf,
}

impl Store {
    pub fn new(dir: &Path) -> Self {
        Store {
            dir: dir.to_owned(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `stem.crt` and `stem.key`, when both exist; an error names a pair with one half.
    pub fn read_pair(&self, stem: &str) -> io::Result<Option<CertKey>> {
        let cert = self.read(&format!("{stem}.crt"))?;
        let key = self.read(&format!("{stem}.key"))?;
        match (cert, key) {
            (Some(cert_pem), Some(key_pem)) => Ok(Some(CertKey { cert_pem, key_pem })),
            (None, None) => Ok(None),
            (Some(_), None) => Err(io::Error::other(format!(
                "{} exists without its key {}; kubewiz needs both (an external CA without its key is not supported)",
                self.path(&format!("{stem}.crt")).display(),
                self.path(&format!("{stem}.key")).display()
            ))),
            (None, Some(_)) => Err(io::Error::other(format!(
                "{} exists without its certificate {}; restore it, or remove both to issue a new pair",
                self.path(&format!("{stem}.key")).display(),
                self.path(&format!("{stem}.crt")).display()
            ))),
        }
    }

    pub fn write_pair(&self, stem: &str, pair: &CertKey) -> io::Result<()> {
        // The key first: a certificate without its key is the state read_pair refuses.
        self.write(&format!("{stem}.key"), &pair.key_pem, MODE_PRIVATE)?;
        self.write(&format!("{stem}.crt"), &pair.cert_pem, MODE_PUBLIC)
    }

    pub fn read(&self, name: &str) -> io::Result<Option<String>> {
        match fs::read_to_string(self.path(name)) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io::Error::new(
                e.kind(),
                format!("{}: {e}", self.path(name).display()),
            )),
        }
    }

    /// Writes `name` atomically with `mode`, creating directories private to root.
    pub fn write(&self, name: &str, content: &str, mode: u32) -> io::Result<()> {
        crate::state::write_atomic(&self.path(name), content.as_bytes(), mode)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}
