//! The command line (DESIGN.md, Command line): the contract scripts and tests rely on.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Installs Kubernetes with kubeadm onto KVM virtual machines over SSH.
///
/// Without a subcommand, kubewiz opens the wizard.
#[derive(Debug, Parser)]
#[command(name = "kubewiz", version, about, long_about = None)]
pub struct Cli {
    /// Where cluster state lives: PKI, applied presets, run journals and logs
    /// [default: /var/lib/kubewiz as root, else $XDG_STATE_HOME/kubewiz]
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Draw the wizard with ASCII only (+-| borders, x ok ! marks), for serial
    /// consoles and terminals without UTF-8
    #[arg(long, global = true)]
    pub ascii: bool,

    /// Send each run's start and the head of its audit log to the system log
    /// (`logger`), a copy kept off the state directory
    #[arg(long, global = true)]
    pub syslog: bool,

    /// kubewiz's own diagnostics (error, warn, info, debug, trace) to a daily file in
    /// the state directory, never on the screen or in the audit log [default:
    /// $KUBEWIZ_LOG, else none]
    #[arg(long, global = true, value_name = "LEVEL")]
    pub log_level: Option<String>,

    /// Open the wizard prefilled from this preset
    #[arg(long, value_name = "FILE")]
    pub preset: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check presets; one line per problem as FILE:LINE:COL: error|warning: PATH: message
    Validate {
        /// Preset files (TOML)
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// One JSON object per problem (file, line, column, severity, path, message)
        #[arg(long)]
        json: bool,
    },
    /// Write every generated file into DIR; no host is contacted
    Render {
        #[arg(long, value_name = "FILE")]
        preset: PathBuf,
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Print the phases and each host's steps; no host is contacted
    Plan {
        #[arg(long, value_name = "FILE")]
        preset: PathBuf,
        /// JSON lines: the plan's summary, then one object per step
        #[arg(long)]
        json: bool,
    },
    /// Install the cluster
    Apply {
        #[arg(long, value_name = "FILE")]
        preset: PathBuf,
        /// Do not ask for confirmation
        #[arg(long)]
        yes: bool,
        /// Run nothing; show what would run
        #[arg(long)]
        dry_run: bool,
        /// Line output instead of the full-screen view
        #[arg(long)]
        no_tui: bool,
        /// Run only these phases (repeatable)
        #[arg(long = "phase", value_name = "NAME")]
        phases: Vec<String>,
        /// Accept and record host keys not yet in known_hosts
        #[arg(long)]
        accept_new_host_keys: bool,
        /// With --dry-run: how long the pretend steps take, as a factor of a real
        /// install's typical times (1.0 is the wizard's dry run, about a minute for
        /// a small cluster; 0 is instant)
        #[arg(
            long,
            value_name = "FACTOR",
            default_value_t = 0.0,
            requires = "dry_run"
        )]
        pace: f64,
    },
    /// Follow the run going on for cluster NAME (started by apply, resume, reset or
    /// the wizard, from any terminal): every event so far, then the live ones
    Attach {
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Continue a failed run of cluster NAME from its journal
    Resume {
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Undo an install on the hosts: kubeadm reset, the kubelet, CNI leftovers and
    /// Kubernetes' iptables rules, etcd, haproxy and keepalived, and every file kubewiz
    /// wrote (originals put back); the cluster's certificates stay in the state directory
    Reset {
        #[arg(long, value_name = "FILE")]
        preset: PathBuf,
        /// Do not ask for confirmation
        #[arg(long)]
        yes: bool,
        /// Keep etcd's data (the cluster's state) and the kubelet's
        #[arg(long)]
        keep_data: bool,
    },
    /// The cluster's certificates: check their expiry, renew them
    Certs {
        #[command(subcommand)]
        command: CertsCommand,
    },
    /// The nodes of an installed cluster: take a worker out
    Node {
        #[command(subcommand)]
        command: NodeCommand,
    },
    /// Upgrade an installed cluster's Kubernetes one minor version (or patch) at a time,
    /// in kubeadm's order: the first control plane (kubeadm upgrade apply), the others
    /// one at a time, then the workers in batches, each drained, upgraded and
    /// uncordoned. Running it again continues an upgrade that stopped
    Upgrade {
        #[arg(long, value_name = "FILE")]
        preset: PathBuf,
        /// The version to upgrade to (the same minor or the next)
        #[arg(long, value_name = "VERSION")]
        to: String,
        /// The new version's bundle directory (with bin/), for a cluster installed
        /// from a bundle
        #[arg(long, value_name = "DIR")]
        bundle: Option<PathBuf>,
        /// How many workers are drained and upgraded at once
        #[arg(long, value_name = "N", default_value_t = 1)]
        max_unavailable: usize,
        /// Do not ask for confirmation
        #[arg(long)]
        yes: bool,
        /// Run nothing and keep nothing; show what would run
        #[arg(long)]
        dry_run: bool,
    },
    /// Back up an installed cluster: an etcd snapshot taken over SSH, the kept PKI, the
    /// applied preset and admin.conf in one archive (0600) with a manifest of SHA-256
    /// sums, and a .sha256 beside it. Unattended with --yes (cron, a systemd timer)
    Backup {
        #[arg(long, value_name = "FILE")]
        preset: PathBuf,
        /// Write the archive into DIR [default: the cluster's backups/ in the state
        /// directory]
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Once the new archive is written, delete all but the newest N archives of the
        /// cluster in that directory [default: delete none]
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        keep: Option<u64>,
        /// Do not ask for confirmation
        #[arg(long)]
        yes: bool,
        /// Run nothing and write nothing; show what would run
        #[arg(long)]
        dry_run: bool,
    },
    /// Restore a cluster from a backup archive onto reset or new hosts: the archive is
    /// checked first, etcd's data comes from its snapshot, the cluster's certificates
    /// from its PKI (every kubeconfig keeps working), then the cluster is installed.
    /// A cluster that still answers is refused
    Restore {
        #[arg(long, value_name = "FILE")]
        preset: PathBuf,
        /// The archive `kubewiz backup` wrote
        #[arg(long, value_name = "ARCHIVE")]
        from: PathBuf,
        /// When the cluster still answers: reset its hosts first (every object written
        /// since the backup is lost); asked twice unless --yes is given too
        #[arg(long)]
        replace_running: bool,
        /// Do not ask for confirmation
        #[arg(long)]
        yes: bool,
        /// Run nothing and keep nothing; show what would run
        #[arg(long)]
        dry_run: bool,
    },
    /// Read and check the audit logs of a cluster's runs
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// The KVM host's libvirt: import its VMs as hosts; DNS names and fixed addresses
    /// for the cluster on the libvirt network
    Kvm {
        #[command(subcommand)]
        command: KvmCommand,
    },
    /// Look at an air-gap bundle (packages.bundle_dir)
    Bundle {
        #[command(subcommand)]
        command: BundleCommand,
    },
    /// Put cluster NAME's admin kubeconfig into ~/.kube/config (or $KUBECONFIG's first
    /// file) as a context named NAME, or write it to a file
    Kubeconfig {
        #[arg(value_name = "NAME")]
        name: String,
        /// Merge into ~/.kube/config (or $KUBECONFIG's first file); a timestamped
        /// backup is kept beside it [the default unless --out is given]
        #[arg(long)]
        merge: bool,
        /// Merge into FILE instead (with --merge), or write the kubeconfig alone to FILE
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Print the JSON Schema of presets (editors check presets with it)
    Schema,
    /// Print a completion script for SHELL: bash, zsh, fish, elvish or powershell
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Write kubewiz's man pages, one per command (kubewiz.1, kubewiz-apply.1, ...), into DIR
    Man {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// The process that carries out a run, started by the commands that run a plan;
    /// it reads its run on standard input
    #[command(hide = true)]
    Engine,
}

/// `kubewiz audit ...`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// The runs of cluster NAME: time, operator, kind, result and head
    List {
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// A run's readable log (the same lines as its .log): the latest run of cluster
    /// NAME, or the log FILE
    Show {
        #[arg(value_name = "NAME|FILE")]
        target: String,
        /// The run with this id (its log's name, e.g. 20261203T221500Z)
        #[arg(long, value_name = "ID")]
        run: Option<String>,
        /// Only what happened on this host
        #[arg(long, value_name = "HOST")]
        host: Option<String>,
        /// Only failures: failed steps, stopped hosts, a run that did not succeed
        #[arg(long)]
        failed: bool,
        /// The JSONL records instead of readable lines
        #[arg(long)]
        json: bool,
        /// Where the run's time went: per phase its wall time, the host (or hosts in
        /// turn) whose steps set its pace, those steps' time and the gap left to kubewiz
        #[arg(long, conflicts_with_all = ["json", "host", "failed"])]
        timing: bool,
    },
    /// Check that logs are whole: exit 0 when every chain holds and its head matches
    /// the index of runs, else 1 with the first line that breaks it
    Verify {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
}

/// `kubewiz bundle ...`
#[derive(Debug, Subcommand)]
pub enum BundleCommand {
    /// Print what the preset's bundle holds against what the preset needs: programs
    /// with their versions, the pod network's files, images by reference; exit 1
    /// when something is missing
    Check {
        #[arg(long, value_name = "FILE")]
        preset: PathBuf,
    },
}

/// `kubewiz kvm ...`
#[derive(Debug, Subcommand)]
pub enum KvmCommand {
    /// Print [[hosts]] for a preset from the VMs on a libvirt network, and why VMs
    /// without an address were left out
    // The text is the command's help as the operator reads it, not a doc link.
    #[allow(rustdoc::broken_intra_doc_links)]
    Import {
        /// The libvirt network the cluster's VMs are on
        #[arg(long, value_name = "NAME", default_value = "default")]
        network: String,
        /// libvirt connection URI [default: $LIBVIRT_DEFAULT_URI, else qemu:///system]
        #[arg(long, value_name = "URI")]
        connect: Option<String>,
        /// Write the fragment to FILE instead of standard output
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Add DHCP reservations and DNS entries for the preset's hosts and endpoint to
    /// its libvirt network (live and persistent); a second run changes nothing
    Dns {
        #[arg(long, value_name = "FILE")]
        preset: PathBuf,
        /// libvirt connection URI [default: $LIBVIRT_DEFAULT_URI, else qemu:///system]
        #[arg(long, value_name = "URI")]
        connect: Option<String>,
        /// Do not ask for confirmation
        #[arg(long)]
        yes: bool,
        /// Print the virsh commands; change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Create the preset's hosts that have no VM by cloning a shut-off template domain
    /// (virt-clone, virt-sysprep), start them and wait for their addresses
    Clone {
        #[arg(long, value_name = "FILE")]
        preset: PathBuf,
        /// The shut-off domain to clone
        #[arg(long, value_name = "DOMAIN")]
        template: String,
        /// Public key to install for the SSH user [default: ssh.identity_file + .pub]
        #[arg(long, value_name = "FILE")]
        ssh_key: Option<PathBuf>,
        /// libvirt connection URI [default: $LIBVIRT_DEFAULT_URI, else qemu:///system]
        #[arg(long, value_name = "URI")]
        connect: Option<String>,
        /// Do not ask for confirmation
        #[arg(long)]
        yes: bool,
        /// Print the commands; create nothing
        #[arg(long)]
        dry_run: bool,
        /// Seconds to wait for the new VMs' addresses
        #[arg(long, value_name = "SECS", default_value_t = 300)]
        timeout: u64,
    },
}

impl Command {
    /// The subcommand's name as typed.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Validate { .. } => "validate",
            Command::Render { .. } => "render",
            Command::Plan { .. } => "plan",
            Command::Apply { .. } => "apply",
            Command::Resume { .. } => "resume",
            Command::Reset { .. } => "reset",
            Command::Certs { .. } => "certs",
            Command::Node { .. } => "node",
            Command::Upgrade { .. } => "upgrade",
            Command::Backup { .. } => "backup",
            Command::Restore { .. } => "restore",
            Command::Audit { .. } => "audit",
            Command::Kvm { .. } => "kvm",
            Command::Bundle { .. } => "bundle",
            Command::Kubeconfig { .. } => "kubeconfig",
            Command::Schema => "schema",
            Command::Completions { .. } => "completions",
            Command::Man { .. } => "man",
            Command::Attach { .. } => "attach",
            Command::Engine => "engine",
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Take a worker, a control plane or a load balancer out of the cluster: drain it
    /// and delete its node (kubectl on another control plane), take its stacked etcd
    /// member out (quorum checked first), reset the host as `kubewiz reset` does, and
    /// reload the other load balancers
    Remove {
        /// The host, as the preset names it
        #[arg(value_name = "HOST")]
        host: String,
        #[arg(long, value_name = "FILE")]
        preset: PathBuf,
        /// Do not ask for confirmation
        #[arg(long)]
        yes: bool,
        /// Run nothing and keep nothing; show what would run
        #[arg(long)]
        dry_run: bool,
    },
    /// Put a new host in the place of a failed (or working) one: take the old one out
    /// as `node remove` does, then join the host at the address the preset now gives
    /// it (or the same address), with the same name and roles
    Replace {
        /// The host, as the preset names it
        #[arg(value_name = "HOST")]
        host: String,
        /// The cluster's preset, naming HOST at the new host's address
        #[arg(long, value_name = "FILE")]
        preset: PathBuf,
        /// Do not ask for confirmation
        #[arg(long)]
        yes: bool,
        /// Run nothing and keep nothing; show what would run
        #[arg(long)]
        dry_run: bool,
        /// Accept the new host's SSH key on first contact (trust on first use) and
        /// record it in known_hosts
        #[arg(long)]
        accept_new_host_keys: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum CertsCommand {
    /// Every certificate in the state directory and on every host: expiry, signer, and
    /// whether the host's copy is the kept one. Exit 1 when one expires within 30 days,
    /// has expired, differs or cannot be read (for cron)
    Check {
        #[arg(long, value_name = "FILE")]
        preset: PathBuf,
    },
    /// Issue the leaf certificates again from the kept CAs, put them on the hosts and
    /// restart what reads them, one host at a time (CAs are not rotated)
    Renew {
        #[arg(long, value_name = "FILE")]
        preset: PathBuf,
        /// Only these certificates (apiserver, etcd-server, admin.conf, ..., or
        /// HOST/NAME) [default: all]
        #[arg(value_name = "NAME")]
        names: Vec<String>,
        /// Do not ask for confirmation
        #[arg(long)]
        yes: bool,
        /// Run nothing and save nothing; show what would run
        #[arg(long)]
        dry_run: bool,
    },
}
