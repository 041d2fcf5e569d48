//! kubewiz: installs Kubernetes clusters with kubeadm onto KVM virtual machines over SSH.
#![forbid(unsafe_code)]

pub mod archive;
pub mod audit;
pub mod cli;
pub mod commands;
pub mod day2;
pub mod detached;
pub mod diagnostics;
pub mod digest;
pub mod exec;
pub mod exit;
pub mod files;
pub mod generate;
pub mod images;
pub mod kvm;
pub mod launch;
pub mod pki;
pub mod plan;
pub mod render;
pub mod shell;
pub mod spec;
pub mod state;
pub mod tui;
