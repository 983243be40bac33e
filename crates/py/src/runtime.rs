//! One tokio runtime for the whole process, and the one way Python calls wait on it: with
//! the GIL released, checking for Ctrl-C every 50 ms and cancelling the work when it comes.

use std::future::Future;
use std::sync::OnceLock;
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::time::Duration;

use pyo3::prelude::*;
use tokio::runtime::Runtime;

use crate::errors::{CanaryError, InternalError, to_py};

struct Shared {
    /// The process that started the runtime's threads; a forked child has none of them.
    pid: u32,
    runtime: Runtime,
}

static SHARED: OnceLock<Result<Shared, String>> = OnceLock::new();

/// How often a waiting call looks for signals (Ctrl-C).
const SIGNAL_POLL: Duration = Duration::from_millis(50);

fn runtime() -> PyResult<&'static Runtime> {
    let shared = SHARED.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .thread_name("canary")
            .enable_all()
            .build()
            .map(|runtime| Shared {
                pid: std::process::id(),
                runtime,
            })
            .map_err(|e| e.to_string())
    });
    let shared = shared
        .as_ref()
        .map_err(|e| InternalError::new_err(format!("cannot start the engine's threads: {e}")))?;
    if shared.pid != std::process::id() {
        return Err(CanaryError::new_err(
            "canary was used before this process was forked, and its engine threads do not \
             survive fork(); use canary only in the child, or start workers with \
             multiprocessing's 'spawn' or 'forkserver' method",
        ));
    }
    Ok(&shared.runtime)
}

/// Run `work` to completion on the shared runtime without holding the GIL. A signal handler
/// that raises (Ctrl-C: `KeyboardInterrupt`) cancels the work and its error is returned.
pub fn run<T, F>(py: Python<'_>, work: F) -> PyResult<T>
where
    T: Send + 'static,
    F: Future<Output = canary_core::Result<T>> + Send + 'static,
{
    let runtime = runtime()?;
    let (tx, rx) = channel();
    let task = runtime.spawn(async move {
        // The receiver is gone only when the caller was interrupted: nothing to report.
        let _ = tx.send(work.await);
    });
    let mut rx = rx;
    loop {
        // The receiver goes into the GIL-free closure and comes back (it is not `Sync`).
        let (outcome, back) = py.detach(move || (rx.recv_timeout(SIGNAL_POLL), rx));
        rx = back;
        match outcome {
            Ok(result) => return result.map_err(to_py),
            Err(RecvTimeoutError::Timeout) => {
                if let Err(interrupted) = py.check_signals() {
                    task.abort();
                    return Err(interrupted);
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(InternalError::new_err(
                    "the computation stopped without a result (a panic in the engine)",
                ));
            }
        }
    }
}
