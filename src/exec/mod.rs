//! The install engine: transports (SSH, dry-run), the runner that executes a plan phase
//! by phase with every host at once, and the event stream it emits. Consumers of the
//! stream: the TUI, the line output, and the sinks every event passes first (the audit
//! log and the resume journal, behind [`sink::EventSink`]).

pub mod api_check;
pub mod bundle;
pub mod certs;
pub mod dry_run;
pub mod events;
pub mod facts;
pub mod journal;
pub mod kubeconfig;
mod libvirt;
pub mod lines;
pub mod preflight;
pub mod redact;
pub mod runner;
pub mod sftp;
pub mod sink;
pub mod ssh;
pub mod transport;

pub use events::{Event, RunOutcome, Stamped, StepOutcome, Stream};
pub use transport::{Session, Transport, TransportError};
