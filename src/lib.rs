//! kubewiz: installs Kubernetes clusters with kubeadm onto KVM virtual machines over SSH.
#![forbid(unsafe_code)]

pub mod cli;
pub mod commands;
pub mod spec;
