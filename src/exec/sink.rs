//! Where the runner's events go before any view sees them: the records that must be
//! whole even when no one is watching (the audit log, the resume journal). They are
//! written in the order the events happen, each before the event reaches the channel.

use std::io;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::events::{Event, Stamped};

/// A record the runner writes as it goes.
pub trait EventSink: Send {
    /// What it is, for the message when it cannot be written ("the audit log").
    fn name(&self) -> &'static str;

    /// Every event, in order.
    fn event(&mut self, _event: &Stamped) -> io::Result<()> {
        Ok(())
    }

    /// A step that may be skipped on resume finished with `inputs` (its hash), just
    /// before its `StepFinished` event.
    fn step_done(&mut self, _step: &str, _inputs: &str, _at: &str) -> io::Result<()> {
        Ok(())
    }
}

/// The time of an event, RFC 3339 UTC.
pub fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Stamps events, hands them to every sink, then to the channel.
#[derive(Clone)]
pub(super) struct Emitter {
    tx: mpsc::Sender<Stamped>,
    sinks: Arc<Mutex<Vec<Box<dyn EventSink>>>>,
}

impl Emitter {
    pub(super) fn new(tx: mpsc::Sender<Stamped>, sinks: Vec<Box<dyn EventSink>>) -> Self {
        Emitter {
            tx,
            sinks: Arc::new(Mutex::new(sinks)),
        }
    }

    /// Calls `write` on every sink; a sink that fails is reported and the run goes
    /// on (the other records and the views still get everything).
    fn each(&self, mut write: impl FnMut(&mut dyn EventSink) -> io::Result<()>) {
        let mut sinks = self.sinks.lock().unwrap_or_else(|e| e.into_inner());
        for sink in sinks.iter_mut() {
            if let Err(e) = write(sink.as_mut()) {
                tracing::warn!(sink = sink.name(), error = %e, "a record could not be written");
                eprintln!("kubewiz: cannot write {}: {e}", sink.name());
            }
        }
    }

    /// Records a finished step, before its event is emitted.
    pub(super) fn step_done(&self, step: &str, inputs: &str) {
        let at = now();
        self.each(|sink| sink.step_done(step, inputs, &at));
    }

    pub(super) async fn emit(&self, event: Event) {
        let stamped = Stamped { at: now(), event };
        self.each(|sink| sink.event(&stamped));
        // A consumer that went away (the TUI closed) does not stop the run.
        let _ = self.tx.send(stamped).await;
    }
}
