//! A tmux server of its own for tests that drive a program in a real terminal (80x24),
//! so a test never touches anyone else's sessions. Include with
//! `#[path = "tmux/mod.rs"] mod tmux;`.
#![allow(dead_code)]

use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux server of its own, so the test never touches anyone else's sessions.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// A detached 80x24 session running a plain bash with the prompt `PROMPT$ `.
    pub fn start(tag: &str) -> Tmux {
        let tmux = Tmux {
            socket: format!("kubewiz-test-{tag}-{}", std::process::id()),
        };
        let out = tmux.run(&[
            "new-session",
            "-d",
            "-s",
            "kw",
            "-x",
            "80",
            "-y",
            "24",
            "env",
            "-u",
            "NO_COLOR",
            "TERM=xterm-256color",
            "RUST_BACKTRACE=0",
            "PS1=PROMPT$ ",
            "bash",
            "--norc",
            "--noprofile",
        ]);
        assert!(out.status.success(), "tmux new-session: {out:?}");
        tmux.wait_for("PROMPT$", Duration::from_secs(10));
        tmux
    }

    pub fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux")
    }

    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            let out = self.run(&["send-keys", "-t", "kw", k]);
            assert!(out.status.success(), "send-keys {k}: {out:?}");
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    /// Types into the session's shell the command line that runs the kubewiz under test
    /// with `args`, then `echo EXIT=$?` (which [`Tmux::wait_for_exit`] reads).
    pub fn run_kubewiz(&self, args: &str) {
        let command = format!("{} {args}; echo EXIT=$?", env!("CARGO_BIN_EXE_kubewiz"));
        self.keys(&[&command, "Enter"]);
    }

    pub fn capture(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "kw"]).stdout).into_owned()
    }

    /// Waits until the screen shows `text`; fails with the screen if it never does.
    pub fn wait_for(&self, text: &str, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let screen = self.capture();
            if screen.contains(text) {
                return screen;
            }
            if start.elapsed() > timeout {
                panic!("waited {timeout:?} for {text:?}; the screen shows:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits until the shell has printed `EXIT=<code>` on a line of its own (what
    /// `...; echo EXIT=$?` prints once the program has ended) and returns the code with
    /// the screen. The typed command line itself never matches, even where the
    /// terminal's width wraps it right before `EXIT=$?`.
    pub fn wait_for_exit(&self, timeout: Duration) -> (i32, String) {
        let start = Instant::now();
        loop {
            let screen = self.capture();
            let code = screen.lines().find_map(|line| {
                line.trim_end()
                    .strip_prefix("EXIT=")
                    .and_then(|code| code.parse::<i32>().ok())
            });
            if let Some(code) = code {
                return (code, screen);
            }
            if start.elapsed() > timeout {
                panic!(
                    "waited {timeout:?} for the program's exit code; the screen shows:\n{screen}"
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

pub fn tmux_available() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}
