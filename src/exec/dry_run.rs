//! The dry-run transport: executes nothing, answers every command as if it had
//! succeeded with plausible output and timing, so the whole execution screen and the
//! line output can be tried with no hosts. The audit log records what would have run.

use std::time::Duration;

use tokio::sync::mpsc;

use super::events::Stream;
use super::facts;
use super::transport::{BoxFuture, Line, LocalFile, Session, Transport, TransportError};
use crate::spec::{HostSpec, SshSpec};

/// A transport that runs nothing.
pub struct DryRun {
    /// Multiplies the pretend durations: 1.0 feels like a real install in fast motion,
    /// 0.0 is instant (for tests and benchmarks).
    pub pace: f64,
}

impl DryRun {
    pub fn new(pace: f64) -> Self {
        DryRun { pace }
    }
}

struct DrySession {
    host: HostSpec,
    pace: f64,
}

impl Transport for DryRun {
    fn connect<'a>(
        &'a self,
        host: &'a HostSpec,
        _ssh: &'a SshSpec,
    ) -> BoxFuture<'a, Result<Box<dyn Session>, TransportError>> {
        let pace = self.pace;
        Box::pin(async move {
            pause(pace, 150).await;
            Ok(Box::new(DrySession {
                host: host.clone(),
                pace,
            }) as Box<dyn Session>)
        })
    }

    fn is_dry_run(&self) -> bool {
        true
    }
}

async fn pause(pace: f64, millis: u64) {
    if pace > 0.0 {
        tokio::time::sleep(Duration::from_millis((millis as f64 * pace) as u64)).await;
    }
}

/// How long a command of this kind takes on a real host, roughly, in milliseconds.
fn typical_millis(command: &str) -> u64 {
    if command.contains("apt-get install") || command.contains("dnf install") {
        4000
    } else if command.contains("kubeadm init") {
        5000
    } else if command.contains("kubeadm join") {
        3000
    } else if command.contains("systemctl restart") || command.contains("helm ") {
        1200
    } else {
        // Spread the small ones a little, so panes do not move in lockstep.
        150 + (command.len() as u64 * 7) % 250
    }
}

impl DrySession {
    /// What the facts script would print on a freshly installed VM of this name.
    fn facts(&self) -> String {
        let machine_id: String = self
            .host
            .name
            .as_str()
            .bytes()
            .fold(0xcbf29ce484222325u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
            })
            .to_le_bytes()
            .iter()
            .chain(self.host.address.to_string().as_bytes().iter().take(8))
            .map(|b| format!("{b:02x}"))
            .collect();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        format!(
            "os=dry run (no host contacted)\nmachine_id={machine_id}\nhostname={}\nkernel=dry-run\ncgroup=cgroup2fs\nswap_kb=0\ncpus=2\nmem_kb=4194304\napt=yes\ndnf=\nhelm=yes\nlistening=22\nkubelet_conf=\ncluster_ca=\netcd_ca=\ntime={now}\n",
            self.host.name
        )
    }
}

impl Session for DrySession {
    fn run<'a>(
        &'a self,
        command: &'a str,
        _timeout: Duration,
        lines: mpsc::Sender<Line>,
    ) -> BoxFuture<'a, Result<i32, TransportError>> {
        Box::pin(async move {
            let output = if command == facts::SCRIPT {
                self.facts()
            } else {
                format!("dry run: not executed on {}\n", self.host.name)
            };
            pause(self.pace, typical_millis(command)).await;
            for text in output.lines() {
                let _ = lines
                    .send(Line {
                        stream: Stream::Stdout,
                        text: text.to_owned(),
                    })
                    .await;
            }
            Ok(0)
        })
    }

    fn upload<'a>(
        &'a self,
        _path: &'a str,
        _mode: u32,
        _content: &'a [u8],
    ) -> BoxFuture<'a, Result<bool, TransportError>> {
        Box::pin(async move {
            pause(self.pace, 40).await;
            Ok(true)
        })
    }

    fn upload_file<'a>(
        &'a self,
        _path: &'a str,
        _mode: u32,
        _file: &'a LocalFile,
    ) -> BoxFuture<'a, Result<bool, TransportError>> {
        Box::pin(async move {
            pause(self.pace, 40).await;
            Ok(true)
        })
    }

    fn read<'a>(
        &'a self,
        _path: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, TransportError>> {
        Box::pin(async { Ok(None) })
    }

    /// Nothing was written.
    fn sync_disks(&self) -> BoxFuture<'_, Result<(), TransportError>> {
        Box::pin(async { Ok(()) })
    }
}
