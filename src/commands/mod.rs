//! What each subcommand does, once the command line is parsed.

pub mod apply;
pub mod audit;
pub mod backup;
pub mod bundle;
pub mod certs_check;
pub mod certs_renew;
mod colour;
pub mod docs;
pub mod follow;
mod here;
pub mod kubeconfig;
pub mod kvm;
pub mod node;
pub mod plan;
mod prepare;
pub mod render;
pub mod reset;
pub mod restore;
pub mod upgrade;
pub mod validate;

// The codes live in `crate::exit`, where the wizard reads them too; the subcommands
// keep their familiar names.
pub use crate::exit::{
    CANCELLED as EXIT_CANCELLED, FAILED as EXIT_FAILED, OK as EXIT_OK, USAGE as EXIT_USAGE,
};
