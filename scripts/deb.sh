#!/usr/bin/env bash
# Builds the Debian package of kubewiz with Debian's own tools (dpkg-deb,
# dpkg-shlibdeps): the binary, the shipped presets and their JSON Schema, man pages,
# shell completions, README and copyright.
#
#   scripts/deb.sh [--binary PATH] [--out DIR] [--fast]
#
# --fast compresses least (gzip -1): for tests, where the package is thrown away.
# Without --binary it builds the release binary first (cargo build --release). The
# package is written to DIR (default: target/debian) as kubewiz_VERSION_ARCH.deb and
# its path printed last. Install it with: apt-get install ./kubewiz_*.deb
set -euo pipefail
cd "$(dirname "$0")/.."

binary=""
level=9
out="${CARGO_TARGET_DIR:-target}/debian"
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --fast) level=1; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "scripts/deb.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
for tool in dpkg-deb dpkg-shlibdeps strip gzip; do
  command -v "$tool" >/dev/null || { echo "scripts/deb.sh: $tool is missing; apt-get install dpkg-dev binutils gzip" >&2; exit 1; }
done
if [ -z "$binary" ]; then
  cargo build --release --locked
  binary="${CARGO_TARGET_DIR:-target}/release/kubewiz"
fi
[ -x "$binary" ] || { echo "scripts/deb.sh: $binary is not an executable" >&2; exit 1; }

# Dates in the package (man pages, changelog) from the last commit, so a rebuild of
# the same commit gives the same files.
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}"
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
arch=$(dpkg --print-architecture)
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/root"
umask 022

install -D -m 0755 "$binary" "$root/usr/bin/kubewiz"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/bin/kubewiz"
kubewiz="$root/usr/bin/kubewiz"

# Presets and their schema; the presets' #:schema line points at the installed schema.
share="$root/usr/share/kubewiz"
install -d "$share/presets"
"$kubewiz" schema > "$share/preset.schema.json"
chmod 0644 "$share/preset.schema.json"
for preset in presets/*.toml; do
  sed 's|^#:schema \.\./assets/preset\.schema\.json$|#:schema ../preset.schema.json|' "$preset" > "$share/presets/$(basename "$preset")"
  chmod 0644 "$share/presets/$(basename "$preset")"
done

# Man pages, gzipped without a timestamp so the package builds reproducibly.
man="$root/usr/share/man/man1"
install -d "$man"
"$kubewiz" man "$man" 2>/dev/null
for page in "$man"/*.1; do chmod 0644 "$page"; gzip -9n "$page"; done

# Completions where bash-completion, zsh and fish look for them.
install -d "$root/usr/share/bash-completion/completions" "$root/usr/share/zsh/vendor-completions" "$root/usr/share/fish/vendor_completions.d"
"$kubewiz" completions bash > "$root/usr/share/bash-completion/completions/kubewiz"
"$kubewiz" completions zsh > "$root/usr/share/zsh/vendor-completions/_kubewiz"
"$kubewiz" completions fish > "$root/usr/share/fish/vendor_completions.d/kubewiz.fish"
chmod 0644 "$root/usr/share/bash-completion/completions/kubewiz" "$root/usr/share/zsh/vendor-completions/_kubewiz" "$root/usr/share/fish/vendor_completions.d/kubewiz.fish"

# README, the copyright file (machine-readable, the licence from LICENSE) and a changelog.
doc="$root/usr/share/doc/kubewiz"
install -d "$doc"
install -m 0644 README.md "$doc/README.md"
{
  echo "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
  echo "Upstream-Name: kubewiz"
  echo
  echo "Files: *"
  echo "Copyright: $(sed -n 's/^Copyright (c) //p' LICENSE | head -n 1)"
  echo "License: Expat"
  sed -e '/^MIT License$/d' -e 's/^$/./' -e 's/^/ /' LICENSE | sed '1{/^ \.$/d}'
} > "$doc/copyright"
chmod 0644 "$doc/copyright"
maintainer="${DEBFULLNAME:-kubewiz maintainers} <${DEBEMAIL:-kubewiz-maintainers@example.org}>"
date_r=$(date -R -u -d "@$SOURCE_DATE_EPOCH")
printf 'kubewiz (%s) unstable; urgency=medium\n\n  * Package of kubewiz %s.\n\n -- %s  %s\n' \
  "$version" "$version" "$maintainer" "$date_r" | gzip -9n > "$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"

# serde_yaml_ng parses YAML with unsafe-libyaml, a Rust translation of libyaml
# linked in like every Rust crate; there is no system libyaml to use instead.
install -d "$root/usr/share/lintian/overrides"
printf '%s\n' "kubewiz: embedded-library libyaml [usr/bin/kubewiz]" > "$root/usr/share/lintian/overrides/kubewiz"
chmod 0644 "$root/usr/share/lintian/overrides/kubewiz"

# The shared libraries the binary needs, as dpkg-shlibdeps computes them (it reads
# debian/control, so it runs in a scratch source tree of its own).
mkdir -p "$work/src/debian"
printf 'Source: kubewiz\n\nPackage: kubewiz\nArchitecture: any\n' > "$work/src/debian/control"
shlibs=$(cd "$work/src" && dpkg-shlibdeps -O -e "$kubewiz" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
depends="openssh-client${shlibs:+, $shlibs}"

install -d "$root/DEBIAN"
(cd "$root" && find usr -type f -print0 | sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/md5sums"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<EOF
Package: kubewiz
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: $depends
Recommends: libvirt-clients, virtinst, openssl
Section: admin
Priority: optional
Homepage: https://kubewiz.invalid/
Description: terminal wizard that installs Kubernetes with kubeadm
 kubewiz installs a Kubernetes cluster with kubeadm onto a set of hosts,
 usually KVM virtual machines, over SSH. It checks the whole cluster
 description first, generates the cluster's PKI and every configuration
 file itself, shows them, and then installs on all hosts at once with an
 audit log of every command. It also looks after the cluster afterwards.
EOF
chmod 0644 "$root/DEBIAN/control"

deb="$out/kubewiz_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zgzip -z"$level" --build "$root" "$deb" >/dev/null
echo "$deb"
