#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and integration tests, and the tests
# that use real tools. Run as root on a fresh Debian machine, it installs what the
# tests need first.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests run (real tools, never stand-ins for them).
packages=(openssl haproxy keepalived etcd-server etcd-client libxml2-utils containerd curl iproute2 tmux libvirt-clients openssh-server openssh-client)

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

for component in rustfmt clippy; do
  rustup component list --installed 2>/dev/null | grep -q "^$component" || rustup component add "$component"
done

cargo fmt --check
cargo clippy --all-targets -- -D warnings
cargo test --all-targets --no-fail-fast
