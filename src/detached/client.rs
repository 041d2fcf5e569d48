//! A client of a run's engine: its events (every one so far, then the live ones) on a
//! channel, and a way to cancel the run.

use std::io::{self, Write};
use std::os::unix::net::UnixStream as StdStream;
use std::path::{Path, PathBuf};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::exec::{Event, Stamped};
use crate::state::ClusterState;

/// A connection to a running engine.
pub struct Attached {
    /// The run's events; the channel ends when the engine lets the client go (after
    /// the run's last event) or goes away.
    pub events: mpsc::Receiver<Stamped>,
    control: StdStream,
    /// Ends with the stream: the run's readable audit log (from its last event), or
    /// an error when a line could not be read.
    pub task: JoinHandle<Result<Option<PathBuf>, String>>,
}

impl Attached {
    /// Asks the engine to cancel the run: running steps finish, nothing new starts.
    pub fn cancel(&self) -> io::Result<()> {
        (&self.control).write_all(b"cancel\n")
    }
}

/// Connects to the engine listening on `socket`. Call it inside a tokio runtime.
pub fn connect(socket: &Path) -> io::Result<Attached> {
    let stream = StdStream::connect(socket)?;
    let control = stream.try_clone()?;
    stream.set_nonblocking(true)?;
    let stream = UnixStream::from_std(stream)?;
    let (tx, events) = mpsc::channel(4096);
    let task = tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        let mut log = None;
        loop {
            let line = match lines.next_line().await {
                Ok(Some(line)) => line,
                Ok(None) => return Ok(log),
                Err(e) => return Err(format!("the connection to the run broke: {e}")),
            };
            let stamped: Stamped = serde_json::from_str(&line)
                .map_err(|e| format!("the run sent an event this kubewiz does not read: {e}"))?;
            if let Event::RunFinished {
                log_path: Some(path),
                ..
            } = &stamped.event
            {
                log = Some(PathBuf::from(path));
            }
            if tx.send(stamped).await.is_err() {
                return Ok(log);
            }
        }
    });
    Ok(Attached {
        events,
        control,
        task,
    })
}

/// Connects to the run going on for cluster `name` in `state_dir`, or says there is none.
pub fn attach(state_dir: &Path, name: &str) -> Result<Attached, String> {
    let cluster = ClusterState::new(state_dir, name);
    let socket = super::socket_path(&cluster);
    connect(&socket).map_err(|e| {
        let why = match e.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
                "no run is going on".to_owned()
            }
            _ => e.to_string(),
        };
        format!(
            "cannot attach to cluster {name}: {why} ({}); `kubewiz audit show {name}` shows its last run",
            socket.display()
        )
    })
}
