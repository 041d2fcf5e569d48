#!/usr/bin/env bash
# Builds the VM lab's guest image into DIR, offline from Debian packages (no downloaded
# cloud image): mmdebstrap of bookworm with what a kubeadm-style node and the project's
# stand-ins need, a small initrd, an ext4 root turned into a qcow2 base for per-VM
# overlays, the kernel (ELF vmlinux for direct boot) and its modules (libguestfs builds
# its appliance from them when the KVM host has no kernel of its own in /boot), and the
# lab's SSH key, which root in every VM accepts.
#
#   image.sh DIR      (DIR must not exist; written to DIR.tmp, then renamed)
#
# tests/vm/mod.rs keys DIR by a hash of this file, so any change here rebuilds.
set -euo pipefail
out=$1
[ ! -e "$out" ] || { echo "image.sh: $out exists" >&2; exit 1; }
work=$out.tmp
rm -rf "$work"
mkdir -p "$work"
root=$work/root
mirror=http://deb.debian.org/debian
security=http://deb.debian.org/debian-security

packages=(systemd-sysv udev dbus kmod iproute2 systemd-resolved openssh-server
  linux-image-cloud-amd64 initramfs-tools lz4 e2fsprogs procps iputils-ping less netbase
  python3 python3-yaml curl ca-certificates iptables nftables ipset containerd runc
  haproxy keepalived etcd-server etcd-client conntrack socat ebtables ethtool)
include=$(IFS=,; echo "${packages[*]}")

ssh-keygen -q -t ed25519 -N '' -C kubewiz-vm-lab -f "$work/id_ed25519"

# The initrd only needs to mount /dev/vda: list the virtio modules, lz4 for a fast unpack.
nice -n 10 mmdebstrap --quiet --mode=root --variant=minbase --include="$include" \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
  --setup-hook='mkdir -p "$1/etc/initramfs-tools/conf.d"' \
  --setup-hook='printf "MODULES=list\nCOMPRESS=lz4\n" > "$1/etc/initramfs-tools/conf.d/vm-lab.conf"' \
  --customize-hook='printf "virtio_pci\nvirtio_blk\nvirtio_net\n" >> "$1/etc/initramfs-tools/modules"' \
  --customize-hook='chroot "$1" update-initramfs -u -k all' \
  bookworm "$root" \
  "deb $mirror bookworm main" "deb $mirror bookworm-updates main" "deb $security bookworm-security main"

printf '/dev/vda / ext4 defaults,discard 0 1\n' > "$root/etc/fstab"
# No hostname in the image: tests/vm/mod.rs names each lab VM once it answers ssh, and a
# clone gets the one virt-sysprep writes.
rm -f "$root/etc/hostname"
printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' > "$root/etc/hosts"
# Every VM makes its own machine-id at first boot.
: > "$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
mkdir -p "$root/etc/systemd/network" "$root/etc/systemd/resolved.conf.d"
cat > "$root/etc/systemd/network/10-lab.network" <<'UNIT'
[Match]
Type=ether

[Network]
DHCP=ipv4
LinkLocalAddressing=no
IPv6AcceptRA=no

[DHCPv4]
ClientIdentifier=mac
SendHostname=yes
UseDomains=yes
UseHostname=yes
UNIT
cat > "$root/etc/systemd/resolved.conf.d/lab.conf" <<'UNIT'
[Resolve]
LLMNR=no
MulticastDNS=no
ResolveUnicastSingleLabel=yes
UNIT
ln -sfn ../run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"

# SSH: root with the lab key only; an ed25519 host key made at first boot (an RSA key
# costs about 9 s of boot under TCG).
install -d -m 700 "$root/root/.ssh"
install -m 600 "$work/id_ed25519.pub" "$root/root/.ssh/authorized_keys"
rm -f "$root"/etc/ssh/ssh_host_*
printf 'HostKey /etc/ssh/ssh_host_ed25519_key\nUseDNS no\n' > "$root/etc/ssh/sshd_config.d/lab.conf"
cat > "$root/etc/systemd/system/lab-hostkey.service" <<'UNIT'
[Unit]
Description=SSH host key of this VM
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/ssh_host_ed25519_key

[Install]
WantedBy=multi-user.target
UNIT
chroot "$root" systemctl enable systemd-networkd systemd-resolved ssh lab-hostkey >/dev/null 2>&1
# Node software is installed, not running: the install enables what it needs.
chroot "$root" systemctl disable containerd haproxy keepalived etcd >/dev/null 2>&1 || true
chroot "$root" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer \
  e2scrub_reap.service fstrim.timer systemd-timesyncd.service >/dev/null 2>&1 || true

kv=$(basename "$(ls "$root"/boot/vmlinuz-* | sort -V | tail -1)")
kv=${kv#vmlinuz-}
echo "$kv" > "$work/kernel-version"
install -m 644 "$root/boot/vmlinuz-$kv" "$work/vmlinuz"
install -m 644 "$root/boot/initrd.img-$kv" "$work/initrd.img"
mkdir -p "$work/modules"
cp -a "$root/lib/modules/$kv" "$work/modules/"
# The uncompressed ELF kernel inside the bzImage boots directly (PVH), faster under TCG.
python3 - "$work/vmlinuz" "$work/vmlinux" <<'PY'
import subprocess, sys
data = open(sys.argv[1], 'rb').read()
for magic, tool in [(b'\x02\x21\x4c\x18', ['unlz4', '-c']), (b'\x28\xb5\x2f\xfd', ['zstd', '-dc']),
                    (b'\xfd7zXZ\x00', ['xz', '-dc']), (b'\x1f\x8b\x08', ['gzip', '-dc'])]:
    pos = data.find(magic)
    while pos != -1:
        try:
            p = subprocess.run(tool, input=data[pos:], capture_output=True)
        except FileNotFoundError:
            break
        if p.stdout[:4] == b'\x7fELF':
            open(sys.argv[2], 'wb').write(p.stdout)
            sys.exit(0)
        pos = data.find(magic, pos + 1)
sys.exit('no ELF kernel inside ' + sys.argv[1])
PY

used=$(du -sm "$root" | cut -f1)
size=$(( (used * 13 / 10 + 2048) / 256 * 256 ))
mkfs.ext4 -q -F -L vm-lab-root -d "$root" "$work/root.raw" "${size}M"
qemu-img convert -f raw -O qcow2 "$work/root.raw" "$work/base.qcow2"
rm -rf "$root" "$work/root.raw"
chmod 644 "$work"/base.qcow2 "$work"/vmlinux "$work"/vmlinuz "$work"/initrd.img
chmod 755 "$work"
mv "$work" "$out"
