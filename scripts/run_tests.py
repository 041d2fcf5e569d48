#!/usr/bin/env python3
"""Runs the test programs cargo built, two at a time, and the VM tests apart.

`cargo test` runs its test programs one after another. Most of ours wait on sshd, the
lab's namespace hosts and the stand-ins for much of their time, so two of them share the
machine's cores well. The VM tests keep the cores busy on their own; they run one after
another (each starts its own VMs; at most 4 run at once), either in a lane of their own
beside the others from the start (--vm beside: the VMs take the CPU the others leave,
and the suite ends when the longer of the two ends) or alone once the others ended
(--vm after).

Usage: run_tests.py [--jobs N] [--vm after|beside] < cargo-messages.json
  (the JSON messages of `cargo test --all-targets --no-run --message-format=json`)

Each program's output is printed whole when it ends, under cargo's "Running" line with
its time; with --vm after the VM tests' output as it comes. Every program runs even
when one fails (cargo's --no-fail-fast); the exit status is 1 when any failed, and the
summary names them.
"""

import collections
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

# Test programs that start VMs: alone, after the others.
VM_PREFIX = "vm_"
# The VM tests' order: the quick ones first, the stacked install (the longest, and the
# one most sensitive to a busy machine) last.
VM_ORDER = ("vm_libvirt", "vm_install", "vm_stacked")
# Started first, beside the others: the VM lab's guest image, built from Debian packages
# on a fresh machine (minutes of downloads and unpacking that need little CPU).
IMAGE = ("vm_libvirt", "the_guest_image_is_built_and_cached")
# Then the longest ones, so that the two slots end close together.
FIRST = ("lab_", "redaction", "tui_pty", "standins_kubeadm")


# A test program: how the output names it, its executable, its target's name and kind,
# and the arguments it runs with.
Program = collections.namedtuple("Program", "label exe name kind args")


def programs(messages):
    """The test programs in cargo's messages."""
    found = []
    for line in messages:
        line = line.strip()
        if not line.startswith("{"):
            continue
        msg = json.loads(line)
        if msg.get("reason") != "compiler-artifact" or not msg.get("executable"):
            continue
        target = msg["target"]
        # What cargo test runs: programs built as tests of targets that have tests
        # (benchmarks and examples are only built).
        if not msg.get("profile", {}).get("test") or not target.get("test"):
            continue
        src = os.path.relpath(target["src_path"])
        kind = target["kind"][0]
        label = src if kind in ("test", "bench") else "unittests " + src
        found.append(Program(label, msg["executable"], target["name"], kind, []))
    return found


def order(progs):
    def rank(p):
        for i, prefix in enumerate(FIRST):
            if p.kind == "test" and p.name.startswith(prefix):
                return (i, p.name)
        return (len(FIRST), p.name)

    return sorted(progs, key=rank)


class Runner:
    def __init__(self, jobs):
        self.jobs = jobs
        self.lock = threading.Lock()
        self.results = []  # (label, seconds, ok)
        self.children = set()

    def run(self, exe, args, **streams):
        """Runs one program to its end: (exit status, seconds taken)."""
        start = time.monotonic()
        child = subprocess.Popen([exe, *args], stdin=subprocess.DEVNULL, **streams)
        with self.lock:
            self.children.add(child)
        code = child.wait()
        with self.lock:
            self.children.discard(child)
        return code, time.monotonic() - start

    def run_captured(self, prog):
        with tempfile.TemporaryFile() as out:
            code, took = self.run(prog.exe, prog.args, stdout=out, stderr=subprocess.STDOUT)
            with self.lock:
                out.seek(0)
                sys.stdout.write("     Running %s (%s) [%.1f s]\n" % (prog.label, os.path.relpath(prog.exe), took))
                sys.stdout.flush()
                sys.stdout.buffer.write(out.read())
                sys.stdout.buffer.flush()
                self.results.append((prog.label, took, code == 0))

    def run_streamed(self, prog):
        print("     Running %s (%s)" % (prog.label, os.path.relpath(prog.exe)), flush=True)
        code, took = self.run(prog.exe, prog.args)
        with self.lock:
            self.results.append((prog.label, took, code == 0))
        print("     Ended %s [%.1f s]" % (prog.label, took), flush=True)

    def pool(self, progs):
        queue = list(progs)

        def worker():
            while True:
                with self.lock:
                    if not queue:
                        return
                    prog = queue.pop(0)
                self.run_captured(prog)

        threads = [threading.Thread(target=worker) for _ in range(self.jobs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def stop_children(self):
        with self.lock:
            for child in self.children:
                child.terminate()


def main():
    import argparse

    parser = argparse.ArgumentParser(description="Runs the test programs in cargo's JSON messages (stdin).")
    parser.add_argument("--jobs", type=int, default=2, help="test programs at a time, the VM tests apart")
    parser.add_argument("--vm", choices=("after", "beside"), default="after",
                        help="the VM tests one after another once the others ended, or from the start beside them")
    opts = parser.parse_args()
    if opts.jobs < 1:
        parser.error("--jobs must be at least 1")
    progs = programs(sys.stdin)
    if not progs:
        sys.exit("run_tests.py: cargo built no test programs (were its JSON messages piped in?)")
    vm = sorted((p for p in progs if p.kind == "test" and p.name.startswith(VM_PREFIX)),
                key=lambda p: (VM_ORDER.index(p.name) if p.name in VM_ORDER else len(VM_ORDER), p.name))
    rest = order([p for p in progs if p not in vm])
    if opts.vm == "after":
        rest = [
            p._replace(label="%s %s" % (p.label, IMAGE[1]), args=["--exact", IMAGE[1]])
            for p in vm
            if p.name == IMAGE[0]
        ] + rest
    # The VM tests say where their time went (boots, applies, reboots) on stderr, which
    # the test harness shows only for a failed test otherwise.
    vm = [p._replace(args=p.args + ["--nocapture"]) for p in vm]
    runner = Runner(opts.jobs)
    started = time.monotonic()
    try:
        if opts.vm == "beside":
            lane = threading.Thread(target=lambda: [runner.run_captured(p) for p in vm])
            lane.start()
            runner.pool(rest)
            lane.join()
        else:
            runner.pool(rest)
            for prog in vm:
                runner.run_streamed(prog)
    except KeyboardInterrupt:
        runner.stop_children()
        raise
    total = time.monotonic() - started
    failed = [label for label, _, ok in runner.results if not ok]
    print("\ntest programs: %d, %d at a time with the VM tests %s, in %.0f s"
          % (len(runner.results), opts.jobs, "beside them" if opts.vm == "beside" else "alone after them", total))
    for label, took, ok in sorted(runner.results, key=lambda r: -r[1])[:12]:
        print("  %7.1f s  %s%s" % (took, label, "" if ok else "  FAILED"))
    if failed:
        print("\nfailed: %s" % ", ".join(failed))
        sys.exit(1)


if __name__ == "__main__":
    main()
