//! The SSH transport against real sshd servers on lab hosts (tests/lab): connections,
//! streamed output, exit codes, timeouts, the per-host channel limit, atomic uploads,
//! reads, host key checking, unreachable hosts and connections lost mid-command.
//! Every test builds its own lab (on its own subnet) and is skipped when not root.

#[path = "lab/mod.rs"]
mod lab;

use std::time::{Duration, Instant};

use kubewiz::exec::Stream;
use kubewiz::exec::ssh::Ssh;
use kubewiz::exec::transport::{Line, LocalFile};
use kubewiz::exec::{Session, Transport, TransportError};
use lab::{FAST_KEX, Lab};
use tokio::sync::mpsc;

fn transport(accept_new: bool) -> Ssh {
    Ssh::new(accept_new).with_option(FAST_KEX.0, FAST_KEX.1)
}

async fn connect(lab: &Lab, i: usize) -> Box<dyn Session> {
    match transport(false)
        .connect(&lab.host_spec(i), &lab.ssh_spec())
        .await
    {
        Ok(session) => session,
        Err(e) => panic!("connect to {}: {e}", lab.hosts[i].name),
    }
}

/// Runs `command`, returning its result and every line with when it arrived.
async fn run_timed(
    session: &dyn Session,
    command: &str,
    timeout: Duration,
) -> (Result<i32, TransportError>, Vec<(Line, Instant)>) {
    let (tx, mut rx) = mpsc::channel(64);
    let collect = async {
        let mut lines = Vec::new();
        while let Some(line) = rx.recv().await {
            lines.push((line, Instant::now()));
        }
        lines
    };
    tokio::join!(session.run(command, timeout, tx), collect)
}

async fn run(session: &dyn Session, command: &str) -> (Result<i32, TransportError>, Vec<Line>) {
    let (result, lines) = run_timed(session, command, Duration::from_secs(20)).await;
    (result, lines.into_iter().map(|(l, _)| l).collect())
}

/// stdout of a command that must succeed.
async fn output(session: &dyn Session, command: &str) -> String {
    let (result, lines) = run(session, command).await;
    assert_eq!(result, Ok(0), "{command}: {lines:?}");
    lines
        .iter()
        .filter(|l| l.stream == Stream::Stdout)
        .map(|l| l.text.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connects_to_three_hosts_at_once() {
    let Some(lab) = Lab::start_or_skip(3) else {
        return;
    };
    let started = Instant::now();
    let ssh = transport(false);
    let spec = lab.ssh_spec();
    let hosts: Vec<_> = (0..3).map(|i| lab.host_spec(i)).collect();
    let sessions = futures_join_all(hosts.iter().map(|h| ssh.connect(h, &spec))).await;
    let elapsed = started.elapsed();
    for (i, session) in sessions.into_iter().enumerate() {
        let session = session.unwrap_or_else(|e| panic!("{}: {e}", lab.hosts[i].name));
        assert_eq!(output(&*session, "hostname").await, lab.hosts[i].name);
    }
    assert!(
        elapsed < Duration::from_secs(3),
        "connecting 3 hosts took {elapsed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_lines_arrive_while_the_command_runs() {
    let Some(lab) = Lab::start_or_skip(1) else {
        return;
    };
    let session = connect(&lab, 0).await;
    let started = Instant::now();
    let (result, lines) = run_timed(
        &*session,
        "echo a; sleep 1; echo b",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(result, Ok(0));
    let texts: Vec<&str> = lines.iter().map(|(l, _)| l.text.as_str()).collect();
    assert_eq!(texts, ["a", "b"]);
    let first = lines[0].1 - started;
    let gap = lines[1].1 - lines[0].1;
    assert!(
        first < Duration::from_millis(500),
        "the first line came after {first:?}"
    );
    assert!(
        gap > Duration::from_millis(800),
        "the lines came {gap:?} apart: buffered, not streamed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_come_back() {
    let Some(lab) = Lab::start_or_skip(1) else {
        return;
    };
    let session = connect(&lab, 0).await;
    for (command, code) in [
        ("true", 0),
        ("exit 3", 3),
        ("no-such-command-kubewiz", 127),
        ("sh -c 'kill -TERM $$'", 143),
    ] {
        let (result, lines) = run(&*session, command).await;
        assert_eq!(result, Ok(code), "{command}: {lines:?}");
    }
    // sh -c semantics whatever root's login shell is: POSIX syntax, quotes intact.
    assert_eq!(
        output(
            &*session,
            "x='it'\"'\"'s'; printf '%s\\n' \"$x\" | tr a-z A-Z"
        )
        .await,
        "IT'S"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stderr_lines_are_marked() {
    let Some(lab) = Lab::start_or_skip(1) else {
        return;
    };
    let session = connect(&lab, 0).await;
    // A 200 KB line without an end arrives whole, in pieces of at most 64 KiB.
    let (result, lines) = run(&*session, "head -c 200000 /dev/zero | tr '\\0' x").await;
    assert_eq!(result, Ok(0));
    assert_eq!(lines.iter().map(|l| l.text.len()).sum::<usize>(), 200_000);
    assert!(
        lines.iter().all(|l| l.text.len() <= 64 * 1024),
        "{}",
        lines.len()
    );
    let (result, lines) = run(&*session, "echo out; echo err >&2; printf 'no newline'").await;
    assert_eq!(result, Ok(0));
    let mut got: Vec<(Stream, &str)> = lines.iter().map(|l| (l.stream, l.text.as_str())).collect();
    got.sort_by_key(|(s, t)| (*s == Stream::Stderr, t.to_string()));
    assert_eq!(
        got,
        [
            (Stream::Stdout, "no newline"),
            (Stream::Stdout, "out"),
            (Stream::Stderr, "err")
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_kills_the_command_and_keeps_the_connection() {
    let Some(lab) = Lab::start_or_skip(1) else {
        return;
    };
    let session = connect(&lab, 0).await;
    let started = Instant::now();
    let (result, _) = run_timed(
        &*session,
        "echo started; sleep 37; echo never",
        Duration::from_secs(1),
    )
    .await;
    let elapsed = started.elapsed();
    assert_eq!(result, Err(TransportError::Timeout(Duration::from_secs(1))));
    assert!(
        elapsed < Duration::from_secs(3),
        "the timeout took {elapsed:?}"
    );
    assert_eq!(output(&*session, "echo still here").await, "still here");
    // The remote command was killed, not left behind.
    let mut left = String::new();
    for _ in 0..20 {
        left = output(&*session, "ps -eo args | grep -c '^sleep 37$' || true").await;
        if left == "0" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(left, "0", "the timed-out command still runs on the host");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_commands_at_once_on_one_host() {
    let Some(lab) = Lab::start_or_skip(1) else {
        return;
    };
    let session = connect(&lab, 0).await;
    let commands: Vec<String> = (0..20).map(|i| format!("sleep 0.3; echo {i}")).collect();
    let results = futures_join_all(commands.iter().map(|c| run(&*session, c))).await;
    for (i, (result, lines)) in results.into_iter().enumerate() {
        assert_eq!(result, Ok(0), "command {i}: {lines:?}");
        assert_eq!(lines.len(), 1, "command {i}: {lines:?}");
        assert_eq!(lines[0].text, i.to_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_atomic_idempotent_and_keep_modes() {
    let Some(lab) = Lab::start_or_skip(1) else {
        return;
    };
    let session = connect(&lab, 0).await;
    let path = "/opt/kubewiz-test/a/b/file.conf";
    let content = b"first version\nwith 'quotes' and $dollars\n".to_vec();
    assert_eq!(session.upload(path, 0o640, &content).await, Ok(true));
    assert_eq!(
        output(&*session, &format!("stat -c '%a %U:%G' {path}")).await,
        "640 root:root"
    );
    assert_eq!(
        output(
            &*session,
            "stat -c %a /opt/kubewiz-test /opt/kubewiz-test/a /opt/kubewiz-test/a/b"
        )
        .await,
        "755\n755\n755"
    );
    assert_eq!(
        output(&*session, "ls -A /opt/kubewiz-test/a/b").await,
        "file.conf",
        "a temporary file was left"
    );
    assert_eq!(session.read(path).await, Ok(Some(content.clone())));
    // Same content and mode: nothing written.
    let before = output(&*session, &format!("stat -c %i {path}")).await;
    assert_eq!(session.upload(path, 0o640, &content).await, Ok(false));
    assert_eq!(
        output(&*session, &format!("stat -c %i {path}")).await,
        before,
        "an identical upload rewrote the file"
    );
    // A new mode or new content: written again, through a new file (a new inode).
    assert_eq!(session.upload(path, 0o600, &content).await, Ok(true));
    assert_eq!(
        output(&*session, &format!("stat -c %a {path}")).await,
        "600"
    );
    let binary: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    assert_eq!(session.upload(path, 0o600, &binary).await, Ok(true));
    assert_ne!(
        output(&*session, &format!("stat -c %i {path}")).await,
        before
    );
    assert_eq!(session.read(path).await, Ok(Some(binary.clone())));
    // A large file is compared before it is sent.
    assert_eq!(session.upload(path, 0o600, &binary).await, Ok(false));
    assert_eq!(
        output(&*session, "ls -A /opt/kubewiz-test/a/b").await,
        "file.conf"
    );
    // An empty file is a file too.
    assert_eq!(
        session.upload("/opt/kubewiz-test/empty", 0o644, b"").await,
        Ok(true)
    );
    assert_eq!(
        session.read("/opt/kubewiz-test/empty").await,
        Ok(Some(Vec::new()))
    );
    assert_eq!(
        session.upload("/opt/kubewiz-test/empty", 0o644, b"").await,
        Ok(false)
    );
    // A directory in the way is not replaced, nor written into.
    match session.upload("/opt/kubewiz-test/a", 0o644, b"x").await {
        Err(TransportError::Remote(m)) => assert!(m.contains("is a directory"), "{m}"),
        other => panic!("upload over a directory: {other:?}"),
    }
    assert_eq!(output(&*session, "ls -A /opt/kubewiz-test/a").await, "b");
    // An upload that cannot happen says why.
    match session.upload("/proc/version/x", 0o644, b"x").await {
        Err(TransportError::Remote(m)) => assert!(m.contains("/proc/version/x"), "{m}"),
        other => panic!("upload below a file: {other:?}"),
    }
    // In a set-group-ID directory a new file would take the directory's group: it is
    // root's all the same. In a sticky one (/tmp), where another user may have taken
    // a temporary name first, the file still gets its mode.
    output(
        &*session,
        "mkdir -p /opt/kubewiz-test/sgid && chgrp daemon /opt/kubewiz-test/sgid && chmod 2775 /opt/kubewiz-test/sgid",
    )
    .await;
    assert_eq!(
        session
            .upload("/opt/kubewiz-test/sgid/f", 0o644, b"x")
            .await,
        Ok(true)
    );
    assert_eq!(session.upload("/tmp/sticky/f", 0o600, b"y").await, Ok(true));
    output(&*session, "chmod 1777 /tmp/sticky").await;
    assert_eq!(session.upload("/tmp/sticky/g", 0o640, b"z").await, Ok(true));
    assert_eq!(
        output(
            &*session,
            "stat -c '%a %U:%G %n' /opt/kubewiz-test/sgid/f /tmp/sticky/f /tmp/sticky/g; ls -A /tmp/sticky /opt/kubewiz-test/sgid"
        )
        .await,
        "644 root:root /opt/kubewiz-test/sgid/f\n600 root:root /tmp/sticky/f\n640 root:root /tmp/sticky/g\n/opt/kubewiz-test/sgid:\nf\n\n/tmp/sticky:\nf\ng"
    );
}

/// What `kubewiz reset` needs of every upload: the directories it created, a mark for a
/// file that was not there, and the first original of one that was, whichever way the
/// file went (small ones over SFTP, large ones and hosts without SFTP through a shell).
async fn uploads_keep_the_originals(lab: &Lab, session: &dyn Session) {
    let record = "/var/lib/kubewiz/files";
    lab.exec(
        0,
        "mkdir -p /opt/kubewiz-test/etc && printf old > /opt/kubewiz-test/etc/present && chmod 600 /opt/kubewiz-test/etc/present",
    );
    let binary: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    for (path, content) in [
        ("/opt/kubewiz-test/etc/present", &b"new\n"[..]),
        ("/opt/kubewiz-test/x/y/small", &b"small\n"[..]),
        ("/opt/kubewiz-test/z/large", &binary[..]),
    ] {
        assert_eq!(
            session.upload(path, 0o644, content).await,
            Ok(true),
            "{path}"
        );
        assert_eq!(
            session.read(path).await,
            Ok(Some(content.to_vec())),
            "{path}"
        );
    }
    // A second change keeps the first original.
    assert_eq!(
        session
            .upload("/opt/kubewiz-test/etc/present", 0o644, b"newer\n")
            .await,
        Ok(true)
    );
    assert_eq!(
        output(
            session,
            &format!(
                "cat {record}/dirs; stat -c '%a %s %n' {record}/orig/opt/kubewiz-test/etc/present \
                 {record}/new/opt/kubewiz-test/x/y/small {record}/new/opt/kubewiz-test/z/large; \
                 cat {record}/orig/opt/kubewiz-test/etc/present; echo; ls -A /opt/kubewiz-test/etc /opt/kubewiz-test/x/y"
            )
        )
        .await,
        format!(
            "/opt/kubewiz-test/x/y\n/opt/kubewiz-test/x\n/opt/kubewiz-test/z\n\
             600 3 {record}/orig/opt/kubewiz-test/etc/present\n\
             644 0 {record}/new/opt/kubewiz-test/x/y/small\n\
             644 0 {record}/new/opt/kubewiz-test/z/large\n\
             old\n/opt/kubewiz-test/etc:\npresent\n\n/opt/kubewiz-test/x/y:\nsmall"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_record_what_reset_puts_back() {
    let Some(lab) = Lab::start_or_skip(1) else {
        return;
    };
    let session = connect(&lab, 0).await;
    uploads_keep_the_originals(&lab, &*session).await;
    // Small files go over SFTP, inside sshd: ten uploads start no program on the host
    // (through a shell each starts about four, see the test below).
    let started = processes_for_ten_uploads(&lab, &*session).await;
    assert!(
        started <= 3,
        "{started} processes were started on the host for ten small uploads"
    );
}

/// How many processes the host started while ten small files were uploaded: its last
/// process id before and after, less the two processes reading it takes.
/// A POSIX login shell (root's bash here) runs each command itself, with no `sh`
/// started in between (the command sees bash); a login shell kubewiz does not know as
/// POSIX gets the command through `sh -c` (the command sees sh). Either way exit codes
/// come back the same, a signal's as 128+N.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_posix_login_shell_runs_commands_itself_any_other_through_sh() {
    let Some(lab) = Lab::start_or_skip(1) else {
        return;
    };
    let session = connect(&lab, 0).await;
    let shell = output(&*session, "echo \"[${BASH_VERSION:+bash}]\"").await;
    assert_eq!(shell, "[bash]", "root's login shell is bash here");
    let (result, _) = run(&*session, "sh -c 'kill -TERM $$'").await;
    assert_eq!(result, Ok(143));
    drop(session);

    // The same bash under a name kubewiz does not know: treated as any shell.
    let out = lab.exec(
        0,
        "ln -sf /bin/bash /usr/local/bin/kwshell && sed -i 's|^root:\\(.*\\):[^:]*$|root:\\1:/usr/local/bin/kwshell|' /etc/passwd && grep ^root: /etc/passwd",
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(":/usr/local/bin/kwshell"),
        "{out:?}"
    );
    let session = connect(&lab, 0).await;
    let shell = output(&*session, "echo \"[${BASH_VERSION:+bash}]\"").await;
    assert_eq!(shell, "[]", "the command ran in sh");
    let (result, _) = run(&*session, "sh -c 'kill -TERM $$'").await;
    assert_eq!(result, Ok(143));
}

async fn processes_for_ten_uploads(lab: &Lab, session: &dyn Session) -> u64 {
    let last_pid = || {
        let out = lab.exec(0, "cat /proc/sys/kernel/ns_last_pid");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse::<u64>()
            .unwrap()
    };
    let before = last_pid();
    for n in 0..10 {
        let path = format!("/opt/kubewiz-test/x/y/file{n}");
        assert_eq!(session.upload(&path, 0o644, b"x").await, Ok(true));
    }
    last_pid() - before
}

/// A host whose sshd offers no SFTP (no `Subsystem sftp`) gets every file through the
/// shell, with the same result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_without_sftp_gets_its_files_through_the_shell() {
    let Some(lab) = Lab::start_or_skip(1) else {
        return;
    };
    lab.stop_sshd(0);
    let out = lab.exec(0, "sed -i '/^Subsystem/d' /etc/ssh/sshd_config.lab");
    assert!(out.status.success(), "{out:?}");
    lab.start_sshd(0);
    let session = connect(&lab, 0).await;
    uploads_keep_the_originals(&lab, &*session).await;
    let log = lab.exec(0, "cat /var/log/sshd.log");
    assert!(
        String::from_utf8_lossy(&log.stdout).contains("subsystem request for sftp"),
        "the transport did not ask for SFTP: {log:?}"
    );
    let started = processes_for_ten_uploads(&lab, &*session).await;
    assert!(
        started >= 30,
        "only {started} processes were started on the host for ten uploads through the shell"
    );
}

/// An SFTP upload cut off with the connection leaves the old file, and its temporary
/// file goes with the next upload of the same file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_temporary_file_left_by_a_cut_upload_goes_with_the_next() {
    let Some(lab) = Lab::start_or_skip(1) else {
        return;
    };
    let session = connect(&lab, 0).await;
    let path = "/opt/kubewiz-test/cut/file";
    assert_eq!(session.upload(path, 0o644, b"old\n").await, Ok(true));
    // What a cut upload leaves: the temporary file, half written.
    lab.exec(
        0,
        "printf 'ne' > /opt/kubewiz-test/cut/.file.kubewiz-upload",
    );
    assert_eq!(session.read(path).await, Ok(Some(b"old\n".to_vec())));
    assert_eq!(session.upload(path, 0o644, b"new\n").await, Ok(true));
    assert_eq!(
        output(
            &*session,
            "ls -A /opt/kubewiz-test/cut; cat /opt/kubewiz-test/cut/file"
        )
        .await,
        "file\nnew"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_is_streamed_from_disk_checked_and_refused_when_it_changed() {
    let Some(lab) = Lab::start_or_skip(1) else {
        return;
    };
    let session = connect(&lab, 0).await;
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("program");
    // Several read pieces, and not a multiple of one.
    let content: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(&local, &content).unwrap();
    let file = LocalFile::hash(local.clone()).unwrap();
    assert_eq!(file.len, content.len() as u64);
    let path = "/opt/kubewiz-test/stream/program";
    assert_eq!(session.upload_file(path, 0o755, &file).await, Ok(true));
    assert_eq!(session.read(path).await, Ok(Some(content.clone())));
    assert_eq!(
        output(&*session, &format!("stat -c '%a %U' {path}")).await,
        "755 root"
    );
    // The same file again: compared on the host, not sent.
    assert_eq!(session.upload_file(path, 0o755, &file).await, Ok(false));
    // Changed on disk after it was hashed (same length): the host refuses what arrives,
    // nothing is written and no temporary file is left.
    let mut changed = content.clone();
    changed[1_500_000] ^= 1;
    std::fs::write(&local, &changed).unwrap();
    let other = "/opt/kubewiz-test/stream/other";
    match session.upload_file(other, 0o755, &file).await {
        Err(TransportError::Remote(m)) => {
            assert!(m.contains("does not match what was sent"), "{m}")
        }
        result => panic!("a changed file was written: {result:?}"),
    }
    // Shorter on disk than when it was hashed: said on this side, naming the file.
    std::fs::write(&local, &content[..1000]).unwrap();
    match session.upload_file(other, 0o755, &file).await {
        Err(TransportError::Remote(m)) => {
            assert!(m.contains("shrank while it was sent"), "{m}");
            assert!(m.contains(&local.display().to_string()), "{m}");
        }
        other => panic!("a shrunk file was written: {other:?}"),
    }
    // Gone: said on this side too.
    std::fs::remove_file(&local).unwrap();
    match session.upload_file(other, 0o755, &file).await {
        Err(TransportError::Remote(m)) => assert!(m.contains("cannot read"), "{m}"),
        other => panic!("a missing file was written: {other:?}"),
    }
    assert_eq!(session.read(path).await, Ok(Some(content)));
    assert_eq!(
        output(&*session, "ls -A /opt/kubewiz-test/stream").await,
        "program"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_a_missing_file_is_none() {
    let Some(lab) = Lab::start_or_skip(1) else {
        return;
    };
    let session = connect(&lab, 0).await;
    assert_eq!(session.read("/etc/kubewiz-does-not-exist").await, Ok(None));
    assert_eq!(
        session.read("/etc/hostname").await,
        Ok(Some(b"lab-1\n".to_vec()))
    );
    assert!(
        matches!(
            session.read("/root/.ssh").await,
            Err(TransportError::Remote(_))
        ),
        "reading a directory"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_host_key_is_refused_unless_accepted() {
    let Some(lab) = Lab::start_or_skip(1) else {
        return;
    };
    let known = lab.dir().join("empty_known_hosts");
    std::fs::write(&known, "").unwrap();
    let mut spec = lab.ssh_spec();
    spec.known_hosts = known.clone();
    let host = lab.host_spec(0);
    match transport(false).connect(&host, &spec).await {
        Err(e @ TransportError::UnknownHostKey { .. }) => {
            println!("unknown: {e}");
            assert_eq!(
                e,
                TransportError::UnknownHostKey {
                    fingerprint: lab.host_fingerprint(0)
                }
            );
        }
        Err(e) => panic!("expected UnknownHostKey, got {e:?}"),
        Ok(_) => panic!("connected to a host whose key is unknown"),
    }
    assert!(
        std::fs::read_to_string(&known).unwrap().is_empty(),
        "a refused key was recorded"
    );
    // Accepted: recorded in known_hosts, and later strict connections use it.
    let session = transport(true)
        .connect(&host, &spec)
        .await
        .unwrap_or_else(|e| panic!("accept-new: {e}"));
    assert_eq!(output(&*session, "hostname").await, "lab-1");
    let recorded = std::fs::read_to_string(&known).unwrap();
    let key = lab.host_key_line(0);
    let blob = key.split_whitespace().nth(2).unwrap();
    assert!(
        recorded.contains(blob),
        "known_hosts after accept-new: {recorded}"
    );
    let session = transport(false)
        .connect(&host, &spec)
        .await
        .unwrap_or_else(|e| panic!("strict after accept: {e}"));
    assert_eq!(output(&*session, "hostname").await, "lab-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirmed_fingerprint_is_recorded_only_if_it_matches() {
    let Some(lab) = Lab::start_or_skip(2) else {
        return;
    };
    let known = lab.dir().join("confirm/known_hosts");
    let mut spec = lab.ssh_spec();
    spec.known_hosts = known.clone();
    let host = lab.host_spec(0);
    let ssh = transport(false);
    let Err(TransportError::UnknownHostKey { fingerprint }) = ssh.connect(&host, &spec).await
    else {
        panic!("expected UnknownHostKey")
    };
    // A fingerprint the host does not have (here: the other host's): nothing recorded.
    match ssh
        .record_host_key(&host, &spec, &lab.host_fingerprint(1))
        .await
    {
        Err(TransportError::Connect(m)) => assert!(m.contains("nothing was recorded"), "{m}"),
        other => panic!("recorded a key the host does not offer: {other:?}"),
    }
    assert!(!known.exists() || std::fs::read_to_string(&known).unwrap().is_empty());
    // The one the operator saw: recorded, and strict connections work.
    ssh.record_host_key(&host, &spec, &fingerprint)
        .await
        .unwrap_or_else(|e| panic!("record: {e}"));
    let session = ssh
        .connect(&host, &spec)
        .await
        .unwrap_or_else(|e| panic!("after recording: {e}"));
    assert_eq!(output(&*session, "hostname").await, "lab-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_host_key_is_always_refused() {
    let Some(lab) = Lab::start_or_skip(2) else {
        return;
    };
    // known_hosts says host 1 has host 2's key.
    let known = lab.dir().join("wrong_known_hosts");
    let other = lab.host_key_line(1);
    let (_, key) = other.split_once(' ').unwrap();
    std::fs::write(&known, format!("{} {key}\n", lab.hosts[0].address)).unwrap();
    let mut spec = lab.ssh_spec();
    spec.known_hosts = known.clone();
    for accept_new in [false, true] {
        match transport(accept_new)
            .connect(&lab.host_spec(0), &spec)
            .await
        {
            Err(e @ TransportError::ChangedHostKey { .. }) => {
                println!("changed: {e}");
                let TransportError::ChangedHostKey { known, offered } = e else {
                    unreachable!()
                };
                assert_eq!(known, lab.host_fingerprint(1));
                assert_eq!(offered, lab.host_fingerprint(0));
            }
            Err(e) => panic!("expected ChangedHostKey (accept_new {accept_new}), got {e:?}"),
            Ok(_) => panic!("connected to a host whose key changed (accept_new {accept_new})"),
        }
    }
    assert_eq!(
        std::fs::read_to_string(&known).unwrap(),
        format!("{} {key}\n", lab.hosts[0].address)
    );
    // ssh stopped before logging in: nothing ran on the host.
    let log = String::from_utf8_lossy(&lab.host_file(0, "/var/log/sshd.log").unwrap_or_default())
        .into_owned();
    assert!(!log.contains("Accepted"), "the host saw a login: {log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_hosts_and_refused_logins_say_why() {
    let Some(lab) = Lab::start_or_skip(1) else {
        return;
    };
    let ssh = transport(false).with_connect_timeout(Duration::from_secs(5));
    // Nothing at this address on the lab subnet.
    let mut nobody = lab.host_spec(0);
    nobody.address = lab.unused_address();
    let started = Instant::now();
    match ssh.connect(&nobody, &lab.ssh_spec()).await {
        Err(TransportError::Connect(m)) => {
            println!("unreachable: {m}");
            assert!(
                m.contains("No route to host") || m.contains("timed out"),
                "{m}"
            );
            assert!(m.contains(&nobody.address.to_string()), "{m}");
        }
        Err(e) => panic!("expected Connect, got {e:?}"),
        Ok(_) => panic!("connected to nothing"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "took {:?}",
        started.elapsed()
    );
    // A key the host does not accept.
    let wrong = lab.dir().join("wrong_key");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&wrong)
        .status()
        .unwrap();
    assert!(status.success());
    let mut spec = lab.ssh_spec();
    spec.identity_file = wrong;
    match ssh.connect(&lab.host_spec(0), &spec).await {
        Err(TransportError::Connect(m)) => {
            println!("wrong key: {m}");
            assert!(m.contains("Permission denied (publickey)"), "{m}");
        }
        Err(e) => panic!("expected Connect, got {e:?}"),
        Ok(_) => panic!("logged in with a key the host does not know"),
    }
    // No sshd listening.
    lab.stop_sshd(0);
    match ssh.connect(&lab.host_spec(0), &lab.ssh_spec()).await {
        Err(TransportError::Connect(m)) => {
            println!("sshd stopped: {m}");
            assert!(m.contains("Connection refused"), "{m}");
        }
        Err(e) => panic!("expected Connect, got {e:?}"),
        Ok(_) => panic!("connected with sshd stopped"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sshd_killed_mid_command_is_lost() {
    let Some(lab) = Lab::start_or_skip(1) else {
        return;
    };
    let session = connect(&lab, 0).await;
    let (tx, mut rx) = mpsc::channel(16);
    let running = session.run("echo started; sleep 30", Duration::from_secs(20), tx);
    let kill = async {
        // Kill sshd once the command is surely running.
        let first = rx.recv().await;
        assert_eq!(first.map(|l| l.text), Some("started".to_owned()));
        lab.stop_sshd(0);
        while rx.recv().await.is_some() {}
    };
    let started = Instant::now();
    let (result, ()) = tokio::join!(running, kill);
    println!("killed mid-command: {result:?}");
    assert!(matches!(result, Err(TransportError::Lost(_))), "{result:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "noticed after {:?}",
        started.elapsed()
    );
    // Later use of the dead connection fails the same way, fast.
    let (result, _) = run(&*session, "true").await;
    println!("next command: {result:?}");
    assert!(
        matches!(
            result,
            Err(TransportError::Lost(_)) | Err(TransportError::Connect(_))
        ),
        "{result:?}"
    );
    // With sshd back, a new connection works.
    lab.start_sshd(0);
    let session = connect(&lab, 0).await;
    assert_eq!(output(&*session, "echo back").await, "back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_stops_answering_is_lost_before_the_step_timeout() {
    let Some(lab) = Lab::start_or_skip(1) else {
        return;
    };
    let session = connect(&lab, 0).await;
    let (tx, mut rx) = mpsc::channel(16);
    let running = session.run("echo started; sleep 120", Duration::from_secs(90), tx);
    let cut = async {
        let first = rx.recv().await;
        assert_eq!(first.map(|l| l.text), Some("started".to_owned()));
        lab.cut_link(0);
        while rx.recv().await.is_some() {}
    };
    let started = Instant::now();
    let (result, ()) = tokio::join!(running, cut);
    let elapsed = started.elapsed();
    println!("host silent: {result:?} after {elapsed:?}");
    assert!(matches!(result, Err(TransportError::Lost(_))), "{result:?}");
    // Keepalives every 5 s, 3 missed: about 15-20 s, far below the 90 s step timeout.
    assert!(
        elapsed < Duration::from_secs(30),
        "noticed after {elapsed:?}"
    );
    lab.restore_link(0);
    let session = connect(&lab, 0).await;
    assert_eq!(output(&*session, "echo back").await, "back");
}

/// Numbers for the report: `LAB_TIMING=1 cargo test --test ssh_transport measurements -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn measurements() {
    if !lab::available() {
        return;
    }
    for n in [3, 30] {
        let started = Instant::now();
        let lab = Lab::start(n);
        let up = started.elapsed();
        let ssh = transport(false);
        let spec = lab.ssh_spec();
        let hosts: Vec<_> = (0..n).map(|i| lab.host_spec(i)).collect();
        let started = Instant::now();
        let sessions: Vec<Box<dyn Session>> =
            futures_join_all(hosts.iter().map(|h| ssh.connect(h, &spec)))
                .await
                .into_iter()
                .map(|s| s.unwrap())
                .collect();
        let connect = started.elapsed();
        let mut latencies = Vec::new();
        for _ in 0..21 {
            let started = Instant::now();
            output(&*sessions[0], "true").await;
            latencies.push(started.elapsed());
        }
        latencies.sort();
        let content = vec![b'x'; 4096];
        let started = Instant::now();
        for i in 0..5 {
            sessions[0]
                .upload(&format!("/tmp/m/{i}"), 0o644, &content)
                .await
                .unwrap();
        }
        let upload = started.elapsed() / 5;
        let started = Instant::now();
        sessions[0]
            .upload("/tmp/m/0", 0o644, &content)
            .await
            .unwrap();
        let same = started.elapsed();
        let big = vec![7u8; 50 << 20];
        let started = Instant::now();
        sessions[0].upload("/tmp/m/big", 0o755, &big).await.unwrap();
        let big_time = started.elapsed();
        let started = Instant::now();
        drop(sessions);
        let close = started.elapsed();
        let started = Instant::now();
        drop(lab);
        let down = started.elapsed();
        println!(
            "{n} hosts: lab up {up:?}, connect all {connect:?}, command median {:?}, upload 4 KiB {upload:?}, identical re-upload {same:?}, upload 50 MiB {big_time:?}, close {close:?}, teardown {down:?}",
            latencies[latencies.len() / 2]
        );
    }
}

/// Runs futures concurrently on this task, results in order (no extra dependency).
async fn futures_join_all<F: std::future::Future>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut results: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, slot) in pinned.iter_mut().zip(results.iter_mut()) {
            if slot.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    results.into_iter().flatten().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_of_another_type_is_treated_as_changed() {
    let Some(lab) = Lab::start_or_skip(1) else {
        return;
    };
    // known_hosts knows the host only by an ECDSA key; the host offers ED25519.
    let ecdsa = lab.dir().join("ecdsa");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ecdsa", "-N", "", "-f"])
        .arg(&ecdsa)
        .status()
        .unwrap();
    assert!(status.success());
    let public = std::fs::read_to_string(ecdsa.with_extension("pub")).unwrap();
    let known = lab.dir().join("ecdsa_known_hosts");
    let line = format!("{} {}", lab.hosts[0].address, public.trim());
    std::fs::write(&known, format!("{line}\n")).unwrap();
    let mut spec = lab.ssh_spec();
    spec.known_hosts = known.clone();
    for accept_new in [false, true] {
        let result = transport(accept_new)
            .connect(&lab.host_spec(0), &spec)
            .await;
        println!(
            "other type (accept_new {accept_new}): {:?}",
            result.as_ref().err()
        );
        match result {
            Err(TransportError::ChangedHostKey { known, offered }) => {
                assert_eq!(offered, lab.host_fingerprint(0));
                let listed = std::process::Command::new("ssh-keygen")
                    .arg("-lf")
                    .arg(ecdsa.with_extension("pub"))
                    .output()
                    .unwrap();
                let expected = String::from_utf8_lossy(&listed.stdout)
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_owned();
                assert_eq!(known, expected);
            }
            Err(e) => panic!("expected ChangedHostKey (accept_new {accept_new}), got {e:?}"),
            Ok(_) => {
                panic!("connected although known_hosts has another key (accept_new {accept_new})")
            }
        }
    }
    assert_eq!(
        std::fs::read_to_string(&known).unwrap(),
        format!("{line}\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_facts_script_runs_over_ssh() {
    let Some(lab) = Lab::start_or_skip(1) else {
        return;
    };
    let session = connect(&lab, 0).await;
    let (result, lines) = run(&*session, kubewiz::exec::facts::SCRIPT).await;
    assert_eq!(result, Ok(0), "{lines:?}");
    let raw: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let facts = kubewiz::exec::facts::parse(&raw.join("\n"), now)
        .unwrap_or_else(|e| panic!("{e}: {raw:?}"));
    let text = format!("{facts:?}");
    assert!(text.contains("lab-1"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_cut_off_leaves_the_old_file() {
    let Some(lab) = Lab::start_or_skip(1) else {
        return;
    };
    let session = connect(&lab, 0).await;
    let path = "/var/lib/kubewiz-upload-test/big";
    let old = vec![b'o'; 1 << 20];
    assert_eq!(session.upload(path, 0o644, &old).await, Ok(true));
    let new = vec![b'n'; 150 << 20];
    let upload = session.upload(path, 0o644, &new);
    let cut = async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        lab.stop_sshd(0);
    };
    let (result, ()) = tokio::join!(upload, cut);
    println!("upload cut off: {result:?}");
    lab.start_sshd(0);
    let session = connect(&lab, 0).await;
    let sum = output(&*session, &format!("sha256sum < {path}")).await;
    let sums = |content: &[u8]| {
        let mut child = std::process::Command::new("sha256sum")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        child.stdin.take().unwrap().write_all(content).unwrap();
        String::from_utf8(child.wait_with_output().unwrap().stdout)
            .unwrap()
            .trim()
            .to_owned()
    };
    if result.is_ok() {
        assert_eq!(
            sum,
            sums(&new),
            "the upload succeeded but the file is not the new content"
        );
    } else {
        assert_eq!(sum, sums(&old), "a cut-off upload changed the file");
    }
    // No temporary file is left behind, whichever way it ended (the host's shell removes
    // it once its input ends).
    let mut left = String::new();
    for _ in 0..50 {
        left = output(&*session, "ls -A /var/lib/kubewiz-upload-test").await;
        if left == "big" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(left, "big");
}
