//! External etcd: a systemd unit and an environment file per member.

use std::net::IpAddr;

use serde::Serialize;

use super::pki::ETCD_PKI_DIR;
use super::{File, Layout, MODE_PUBLIC, Purpose, render_template};
use crate::spec::{HostSpec, PackageSource};

pub const UNIT: &str = "/etc/systemd/system/etcd.service";
pub const ENV_FILE: &str = "/etc/etcd/etcd.env";
/// Written on a member that joins a running cluster (the etcd phase's start step), read
/// after [`ENV_FILE`]: the cluster as it is, and `existing` instead of `new`.
pub const JOIN_ENV_FILE: &str = "/etc/etcd/etcd.join.env";
pub const DATA_DIR: &str = "/var/lib/etcd";
pub const CLIENT_PORT: u16 = 2379;
pub const PEER_PORT: u16 = 2380;

/// `https://addr:2379` (brackets for IPv6).
pub fn client_url(ip: IpAddr) -> String {
    url(ip, CLIENT_PORT)
}

/// The client URLs of `members`, comma-separated, as etcdctl's `--endpoints` and the
/// API server's `--etcd-servers` take them.
pub fn client_urls(members: &[&HostSpec]) -> String {
    let urls: Vec<String> = members.iter().map(|m| client_url(m.address)).collect();
    urls.join(",")
}

/// `https://addr:2380`
pub fn peer_url(ip: IpAddr) -> String {
    url(ip, PEER_PORT)
}

fn url(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V6(v6) => format!("https://[{v6}]:{port}"),
        IpAddr::V4(v4) => format!("https://{v4}:{port}"),
    }
}

#[derive(Serialize)]
struct Member<'a> {
    name: &'a str,
    cluster: &'a str,
    env_file: &'a str,
    join_env_file: &'a str,
    binary: &'a str,
    data_dir: &'a str,
    listen_client_urls: String,
    client_url: String,
    peer_url: String,
    initial_cluster: String,
    pki: &'a str,
}

/// The unit and environment file of every external etcd member.
pub fn files(layout: &Layout) -> Vec<File> {
    let initial_cluster: Vec<String> = layout
        .etcd
        .iter()
        .map(|m| format!("{}={}", m.name, peer_url(m.address)))
        .collect();
    let initial_cluster = initial_cluster.join(",");
    // Distribution packages put etcd in /usr/bin; the bundle installs to /usr/local/bin.
    let binary = match layout.spec.packages.source {
        PackageSource::Online => "/usr/bin/etcd",
        PackageSource::Bundle => "/usr/local/bin/etcd",
    };
    layout
        .etcd
        .iter()
        .flat_map(|member| {
            let context = member_context(layout, member, binary, &initial_cluster);
            [
                File::host(
                    Purpose::Etcd,
                    member.name.as_str(),
                    UNIT,
                    MODE_PUBLIC,
                    render_template(
                        "etcd/etcd.service.j2",
                        include_str!("../../assets/etcd/etcd.service.j2"),
                        &context,
                    ),
                ),
                File::host(
                    Purpose::Etcd,
                    member.name.as_str(),
                    ENV_FILE,
                    MODE_PUBLIC,
                    render_template(
                        "etcd/etcd.env.j2",
                        include_str!("../../assets/etcd/etcd.env.j2"),
                        &context,
                    ),
                ),
            ]
        })
        .collect()
}

fn member_context<'a>(
    layout: &'a Layout,
    member: &'a HostSpec,
    binary: &'a str,
    initial_cluster: &str,
) -> Member<'a> {
    let loopback = if member.address.is_ipv6() {
        IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)
    } else {
        IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
    };
    Member {
        name: member.name.as_str(),
        cluster: layout.spec.name.as_str(),
        env_file: ENV_FILE,
        join_env_file: JOIN_ENV_FILE,
        binary,
        data_dir: DATA_DIR,
        listen_client_urls: format!("{},{}", client_url(loopback), client_url(member.address)),
        client_url: client_url(member.address),
        peer_url: peer_url(member.address),
        initial_cluster: initial_cluster.to_owned(),
        pki: ETCD_PKI_DIR,
    }
}
