//! Panics of dependencies, contained where input reaches them.
//!
//! A few readers Canary builds on panic on some corrupt input instead of returning an
//! error (the Arrow schema embedded in a Parquet footer, for one). Where Canary hands them
//! input it has not checked itself, it runs them through [`contain`]: a panic becomes an
//! error with the panic's message, and the process's panic hook stays quiet for it (it
//! still speaks for every other panic, on every thread).

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;

thread_local! {
    /// Whether this thread is inside [`contain`].
    static CONTAINED: Cell<bool> = const { Cell::new(false) };
}

/// Run `f`; a panic inside it is returned as `Err` with its message.
///
/// ```
/// let r = canary_core::contain::contain(|| -> u32 { panic!("corrupt footer") });
/// assert_eq!(r.unwrap_err(), "corrupt footer");
/// assert_eq!(canary_core::contain::contain(|| 7), Ok(7));
/// ```
pub fn contain<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !CONTAINED.with(Cell::get) {
                previous(info);
            }
        }));
    });
    let outer = CONTAINED.with(|c| c.replace(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    CONTAINED.with(|c| c.set(outer));
    result.map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned())
    })
}
