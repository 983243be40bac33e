//! Panics of dependencies, contained where input reaches them.
//!
//! A few readers Canary builds on panic on some corrupt input instead of returning an
//! error (the Arrow schema embedded in a Parquet footer; a run-length integer too long in
//! a data page). Where Canary hands them input it has not checked itself, it runs them
//! through [`contain`] or [`contain_async`]: a panic becomes an error with the panic's
//! message. While any contained work runs, the process's panic hook stays quiet (the
//! panic may happen on a worker thread of the runtime), and for two seconds after it for
//! panics in dependencies (tasks of a stopped query still decoding); otherwise, and for
//! Canary's own code, it speaks as before.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use futures::FutureExt;

/// How many contained sections are running, on any thread.
static CONTAINED: AtomicUsize = AtomicUsize::new(0);
/// When the last contained section ended, in milliseconds since the Unix epoch.
static LAST_ENDED: AtomicU64 = AtomicU64::new(0);
/// How long after a contained section a dependency's panic is still its own: a query that
/// stopped on one corrupt page leaves its other tasks decoding until they are cancelled.
const LINGER_MS: u64 = 2_000;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Whether a panic is one contained work causes: inside a section, or a dependency's
/// (a crate from the registry, not Canary's code) just after one.
fn contained(info: &std::panic::PanicHookInfo<'_>) -> bool {
    if CONTAINED.load(Ordering::SeqCst) > 0 {
        return true;
    }
    let dependency = info
        .location()
        .is_some_and(|l| l.file().contains("/registry/src/") || l.file().contains("\\registry\\src\\"));
    dependency && now_ms().saturating_sub(LAST_ENDED.load(Ordering::SeqCst)) < LINGER_MS
}

fn quiet_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !contained(info) {
                previous(info);
            }
        }));
    });
}

/// A contained section: counted while it lives.
struct Section;

impl Section {
    fn enter() -> Section {
        quiet_hook();
        CONTAINED.fetch_add(1, Ordering::SeqCst);
        Section
    }
}

impl Drop for Section {
    fn drop(&mut self) {
        LAST_ENDED.store(now_ms(), Ordering::SeqCst);
        CONTAINED.fetch_sub(1, Ordering::SeqCst);
    }
}

fn message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// Await `f`; a panic while it runs (on this thread, or resumed here from a task it
/// awaited) is returned as `Err` with its message.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let r = canary_core::contain::contain_async(async { panic!("corrupt page") }).await;
/// assert_eq!(r.unwrap_err(), "corrupt page");
/// # });
/// ```
pub async fn contain_async<T>(f: impl Future<Output = T>) -> Result<T, String> {
    let _section = Section::enter();
    AssertUnwindSafe(f).catch_unwind().await.map_err(message)
}

/// Run `f`; a panic inside it is returned as `Err` with its message.
///
/// ```
/// let r = canary_core::contain::contain(|| -> u32 { panic!("corrupt footer") });
/// assert_eq!(r.unwrap_err(), "corrupt footer");
/// assert_eq!(canary_core::contain::contain(|| 7), Ok(7));
/// ```
pub fn contain<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    let _section = Section::enter();
    catch_unwind(AssertUnwindSafe(f)).map_err(message)
}
