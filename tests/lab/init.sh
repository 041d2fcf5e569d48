#!/bin/bash
# PID 1 of one lab host (see tests/lab/mod.rs). It runs inside the host's network
# namespace, with its own PID and UTS namespaces and a private mount namespace.
# $1 host name, $2 host directory (upper/, work/, root/), $3 address/prefix.
# Prints "ready" on stdout once sshd listens; any failure ends the host (set -e) and
# the reason is in $2/init.log.
set -eu
name=$1 dir=$2 addr=$3
R=$dir/root
hostname "$name"
mount --make-rprivate /
ip link set lo up
ip addr add "$addr" dev eth0
ip link set eth0 up
mount -t overlay overlay -o "lowerdir=/,upperdir=$dir/upper,workdir=$dir/work" "$R"
mount -t proc proc "$R/proc"
# /proc/sys read-only except the per-namespace net.* keys.
mount --bind "$R/proc/sys" "$R/proc/sys"
mount --bind "$R/proc/sys/net" "$R/proc/sys/net"
mount -o remount,bind,ro "$R/proc/sys"
mount -t sysfs -o ro sysfs "$R/sys"
mount -t tmpfs -o mode=755,size=16m tmpfs "$R/dev"
for d in null zero full random urandom tty; do
  touch "$R/dev/$d"
  mount --bind "/dev/$d" "$R/dev/$d"
done
mkdir -p "$R/dev/pts" "$R/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"
mount -t tmpfs -o mode=1777,size=64m tmpfs "$R/dev/shm"
mount -t tmpfs -o mode=755,size=64m tmpfs "$R/run"
mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"
# containerd's own disk, as on a node: its overlayfs snapshotter cannot keep its layers
# on the overlay root.
mkdir -p "$R/var/lib/containerd"
mount -t tmpfs -o mode=711 tmpfs "$R/var/lib/containerd"
mkdir -p "$R/run/sshd"
# sshd daemonizes once it listens, and becomes a child of this PID 1.
chroot "$R" /usr/sbin/sshd -f /etc/ssh/sshd_config.lab -E /var/log/sshd.log
# sshd may go to the background before its socket listens: wait for the listener.
i=0
until grep -q ' 00000000:0016 00000000:0000 0A' /proc/net/tcp; do
  i=$((i + 1))
  if [ $i -gt 500 ]; then echo "sshd does not listen on port 22" >&2; exit 1; fi
  sleep 0.01
done
echo ready
exec 0</dev/null >/dev/null 2>&1
# Stay PID 1: bash reaps every orphan that is reparented to it.
while :; do
  sleep 3600 &
  wait $! || true
done
