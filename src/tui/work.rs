//! Work the wizard does off the UI thread, and how it comes back. Every job is
//! watched to its end: a result, an error, or a panic (turned into an error naming
//! it), so the screen that waits for a job always learns how it ended instead of
//! waiting forever.

use std::any::Any;
use std::future::Future;

use tokio::sync::mpsc::UnboundedSender;
use tokio::task::{JoinError, JoinHandle};

use super::app::App;
use super::prepare::Prepared;

/// A finished job, on its way to the event loop.
pub enum Done {
    /// The PKI, files and plan, or why nothing was generated.
    Prepared(Box<Result<Prepared, String>>),
    /// The confirmed host keys were recorded, or why not.
    KeysRecorded(Result<(), String>),
    /// The VMs of the libvirt network, or why they could not be read.
    Imported(Box<Result<crate::kvm::Import, String>>),
    /// The install's engine stopped (its events have all been seen) and how its audit
    /// log ended, or why it broke.
    RunEnded(Result<super::flow::RunEnd, String>),
    /// What the API of the managed cluster said of its nodes.
    NodeStates(Result<Vec<(String, String)>, String>),
    /// What `certs check` found on the managed cluster.
    CertsChecked(Result<(Vec<String>, String), String>),
}

impl Done {
    /// Hands the result to the part of the app that waits for it.
    pub fn apply(self, app: &mut App) {
        match self {
            Done::Prepared(result) => app.prepared(*result),
            Done::KeysRecorded(result) => app.host_keys_recorded(result),
            Done::Imported(result) => app.imported(*result),
            Done::RunEnded(result) => app.run_ended(result),
            Done::NodeStates(result) => app.node_states(result),
            Done::CertsChecked(result) => app.certs_checked(result),
        }
    }
}

/// Starts jobs on the tokio runtime and sends each one's [`Done`] to the event loop.
#[derive(Clone)]
pub struct Jobs {
    done: UnboundedSender<Done>,
}

impl Jobs {
    /// Jobs whose results go to `done`.
    pub fn new(done: UnboundedSender<Done>) -> Self {
        Jobs { done }
    }

    /// Runs `job`, which blocks (files, virsh), on the blocking pool; `wrap` makes its
    /// result, or its panic as an error, into what the event loop receives.
    pub fn blocking<T, J>(&self, job: J, wrap: fn(Result<T, String>) -> Done)
    where
        T: Send + 'static,
        J: FnOnce() -> Result<T, String> + Send + 'static,
    {
        self.watch(tokio::task::spawn_blocking(job), wrap);
    }

    /// Runs the async `job` as a task; as [`Jobs::blocking`] otherwise.
    pub fn spawn<T, F>(&self, job: F, wrap: fn(Result<T, String>) -> Done)
    where
        T: Send + 'static,
        F: Future<Output = Result<T, String>> + Send + 'static,
    {
        self.watch(tokio::spawn(job), wrap);
    }

    fn watch<T: Send + 'static>(
        &self,
        handle: JoinHandle<Result<T, String>>,
        wrap: fn(Result<T, String>) -> Done,
    ) {
        let done = self.done.clone();
        tokio::spawn(async move {
            let result = handle.await.unwrap_or_else(|e| Err(not_finished(e)));
            // The loop has gone when the wizard is leaving: nothing waits any more.
            let _ = done.send(wrap(result));
        });
    }
}

/// Why a job gave no result, for the operator: its panic message when it panicked.
fn not_finished(e: JoinError) -> String {
    if e.is_panic() {
        format!(
            "kubewiz stopped on an internal error ({}); this is a bug, and the details are \
             printed when the wizard exits",
            panic_text(e.into_panic().as_ref())
        )
    } else {
        "the work was stopped before it finished".to_owned()
    }
}

/// The message a panic was raised with (`panic!` gives a `&str` or a `String`).
fn panic_text(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "no message"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_comes_back_as_an_error_with_its_message() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let jobs = Jobs::new(tx);
        let n = 7;
        jobs.blocking(
            move || -> Result<(), String> { panic!("step {n} broke") },
            Done::KeysRecorded,
        );
        jobs.spawn(
            async { Err::<(), _>("no route to host".to_owned()) },
            Done::KeysRecorded,
        );
        let mut errors = Vec::new();
        for _ in 0..2 {
            match rx.recv().await {
                Some(Done::KeysRecorded(Err(e))) => errors.push(e),
                _ => panic!("every job reports back with its error"),
            }
        }
        errors.sort();
        assert!(
            errors[0].contains("internal error (step 7 broke)"),
            "{errors:?}"
        );
        assert_eq!(errors[1], "no route to host");
    }
}
