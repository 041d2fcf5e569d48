//! `kubewiz kvm import` and `kubewiz kvm dns`: the KVM host's libvirt.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE, apply::confirm, validate};
use crate::cli::KvmCommand;
use crate::kvm::{self, NetworkPlan, Virsh};
use crate::render::kvm::libvirt_network;
use crate::spec::{self, ClusterSpec, LoadError, Severity};

pub fn run(command: &KvmCommand) -> ExitCode {
    // virsh's own rule: --connect, else $LIBVIRT_DEFAULT_URI, else the system daemon.
    let uri = |connect: &Option<String>| connect.clone().unwrap_or_else(kvm::connect_uri);
    match command {
        KvmCommand::Import {
            network,
            connect,
            out,
        } => import(&uri(connect), network, out.as_deref()),
        KvmCommand::Dns {
            preset,
            connect,
            yes,
            dry_run,
        } => dns(preset, &uri(connect), *yes, *dry_run),
        KvmCommand::Clone {
            preset,
            template,
            ssh_key,
            connect,
            yes,
            dry_run,
            timeout,
        } => clone(&CloneArgs {
            preset,
            template,
            ssh_key: ssh_key.as_deref(),
            connect: &uri(connect),
            yes: *yes,
            dry_run: *dry_run,
            timeout: Duration::from_secs(*timeout),
        }),
    }
}

struct CloneArgs<'a> {
    preset: &'a Path,
    template: &'a str,
    ssh_key: Option<&'a Path>,
    connect: &'a str,
    yes: bool,
    dry_run: bool,
    timeout: Duration,
}

fn clone(args: &CloneArgs<'_>) -> ExitCode {
    let spec = match load(args.preset) {
        Ok(spec) => spec,
        Err(code) => return code,
    };
    let network = libvirt_network(&spec).to_owned();
    let key = match args.ssh_key {
        Some(key) => key.to_path_buf(),
        None => {
            let mut identity = spec.ssh.identity_file.as_os_str().to_owned();
            identity.push(".pub");
            expand_home(Path::new(&identity))
        }
    };
    if !key.is_file() {
        eprintln!(
            "kubewiz: the SSH public key {} does not exist; give one with --ssh-key FILE",
            key.display()
        );
        return ExitCode::from(EXIT_FAILED);
    }
    let found = match kvm::import(args.connect, &network) {
        Ok(found) => found,
        Err(e) => return fail(&e),
    };
    let plan = match kvm::clone::plan_clones(&spec, &found, args.template, &key) {
        Ok(plan) => plan,
        Err(e) => return fail(&e),
    };
    if plan.vms.is_empty() {
        eprintln!("kubewiz: every host of the preset has a VM; nothing to clone");
        return ExitCode::from(EXIT_OK);
    }
    println!("clones of {}:", plan.template);
    for vm in &plan.vms {
        for step in &vm.steps {
            println!("  {}\n    {}", step.description, step.command_line());
        }
    }
    if args.dry_run {
        eprintln!("kubewiz: dry run; no VM was created");
        return ExitCode::from(EXIT_OK);
    }
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            eprintln!(
                "kubewiz: not creating VMs without confirmation: run on a terminal, or pass --yes"
            );
            return ExitCode::from(EXIT_USAGE);
        }
        if !confirm(&format!("Create these {} VM(s)?", plan.vms.len())) {
            eprintln!("kubewiz: no VM was created");
            return ExitCode::from(EXIT_FAILED);
        }
    }
    let failed = plan.run(&|step| eprintln!("kubewiz: {}", step.description));
    if !failed.is_empty() {
        for (host, e) in &failed {
            eprintln!("kubewiz: {host}: {e}");
        }
        return ExitCode::from(EXIT_FAILED);
    }
    let names: Vec<String> = plan.vms.iter().map(|vm| vm.host.clone()).collect();
    eprintln!(
        "kubewiz: waiting up to {}s for the addresses of {}",
        args.timeout.as_secs(),
        names.join(", ")
    );
    match kvm::clone::wait_for_addresses(
        args.connect,
        &network,
        &names,
        args.timeout,
        Duration::from_secs(5),
    ) {
        Ok(addresses) => {
            for (name, address) in addresses {
                println!("{name} {address}");
            }
            eprintln!(
                "kubewiz: `kubewiz kvm dns --preset {}` reserves the preset's addresses; a VM whose address differs takes it after a restart",
                args.preset.display()
            );
            ExitCode::from(EXIT_OK)
        }
        Err(e) => fail(&e),
    }
}

/// `~/x` as $HOME/x.
fn expand_home(path: &Path) -> PathBuf {
    match (path.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => path.to_path_buf(),
    }
}

fn import(connect: &str, network: &str, out: Option<&Path>) -> ExitCode {
    let found = match kvm::import(connect, network) {
        Ok(found) => found,
        Err(e) => return fail(&e),
    };
    let fragment = found.preset_fragment();
    let hosts = found.host_specs().len();
    let without = found.hosts.len() - hosts;
    match out {
        Some(path) => {
            if let Err(e) = crate::state::write_atomic(path, fragment.as_bytes(), 0o644) {
                eprintln!(
                    "kubewiz: cannot write {}: {e}; give a writable file",
                    path.display()
                );
                return ExitCode::from(EXIT_FAILED);
            }
            eprintln!("kubewiz: wrote {hosts} host(s) to {}", path.display());
        }
        None => print!("{fragment}"),
    }
    for vm in &found.hosts {
        if let Some(why) = &vm.not_imported {
            eprintln!("kubewiz: {} not imported: {why}", vm.domain);
        }
    }
    eprintln!(
        "kubewiz: {hosts} host(s) imported from network {network}, {without} VM(s) without an address"
    );
    ExitCode::from(EXIT_OK)
}

fn dns(preset: &Path, connect: &str, yes: bool, dry_run: bool) -> ExitCode {
    let spec = match load(preset) {
        Ok(spec) => spec,
        Err(code) => return code,
    };
    let network_name = libvirt_network(&spec).to_owned();
    let virsh = Virsh::new(connect);
    let found = match kvm::import(connect, &network_name) {
        Ok(found) => found,
        Err(e) => return fail(&e),
    };
    let network = match kvm::read_network(&virsh, &network_name) {
        Ok(n) => n,
        Err(e) => return fail(&e),
    };
    let plan = match kvm::plan(&spec, &network, &found.hosts) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    print_plan(&plan, connect);
    if plan.is_empty() {
        eprintln!("kubewiz: network {network_name} already has every entry; nothing to change");
        return ExitCode::from(EXIT_OK);
    }
    if dry_run {
        eprintln!("kubewiz: dry run; network {network_name} was not changed");
        return ExitCode::from(EXIT_OK);
    }
    if !yes {
        if !std::io::stdin().is_terminal() {
            eprintln!(
                "kubewiz: not changing network {network_name} without confirmation: run on a terminal, or pass --yes"
            );
            return ExitCode::from(EXIT_USAGE);
        }
        let question = format!(
            "Run these {} command(s) on network {network_name}?",
            plan.changes.len()
        );
        if !confirm(&question) {
            eprintln!("kubewiz: network {network_name} was not changed");
            return ExitCode::from(EXIT_FAILED);
        }
    }
    match kvm::apply(&virsh, &spec, &network, &found.hosts, &plan) {
        Ok(applied) => {
            if !applied.virsh_said.is_empty() {
                eprintln!("kubewiz: virsh said: {}", applied.virsh_said);
            }
            eprintln!(
                "kubewiz: network {network_name} updated ({} change(s)), live and persistent",
                plan.changes.len()
            );
            ExitCode::from(EXIT_OK)
        }
        Err(e) => fail(&e),
    }
}

/// The plan as the operator reads it: each change and its exact command, then what
/// is skipped and why.
fn print_plan(plan: &NetworkPlan, uri: &str) {
    println!("libvirt network {} on {uri}:", plan.network);
    for (description, command) in plan.commands(uri) {
        println!("  {description}\n    {command}");
    }
    if !plan.in_place.is_empty() {
        println!("  already in place: {}", plan.in_place.len());
    }
    for skipped in &plan.skipped {
        println!("  skipped: {skipped}");
    }
    for note in &plan.notes {
        println!("  note: {note}");
    }
}

/// Loads and validates a preset; problems go to stderr in `validate`'s format.
fn load(preset: &Path) -> Result<ClusterSpec, ExitCode> {
    let name = preset.display().to_string();
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let loaded = match spec::load_file(preset) {
        Ok(loaded) => loaded,
        Err(LoadError::Invalid { text, diagnostics }) => {
            for (_, line) in validate::report_lines(&name, &text, &diagnostics) {
                eprintln!("{line}");
            }
            return Err(ExitCode::from(EXIT_FAILED));
        }
        Err(e @ LoadError::Read { .. }) => {
            eprintln!("kubewiz: {e}");
            return Err(ExitCode::from(EXIT_FAILED));
        }
    };
    let mut diagnostics = spec::validate::validate(&loaded.spec);
    diagnostics.extend(spec::validate::check_local(&loaded.spec, home.as_deref()));
    let lines = validate::report_lines(&name, &loaded.text, &diagnostics);
    for (_, line) in &lines {
        eprintln!("{line}");
    }
    if lines.iter().any(|(s, _)| *s == Severity::Error) {
        eprintln!("kubewiz: {name} is not valid; the network was not changed");
        return Err(ExitCode::from(EXIT_FAILED));
    }
    Ok(loaded.spec)
}

fn fail(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("kubewiz: {error}");
    ExitCode::from(EXIT_FAILED)
}
