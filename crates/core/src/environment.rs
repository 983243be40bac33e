//! What the front doors take from their process's environment, read from a key-value map so
//! that the library itself reads no environment: object-store settings and the clock.

use std::sync::Arc;

use crate::catalog::StorageOptions;
use crate::clock::{Clock, FixedClock, SystemClock};
use crate::error::{CanaryError, Result};
use crate::exec::OpenOptions;
use crate::model::parse_instant;

/// The variable that fixes the clock (RFC 3339 or a date, UTC), for reproducible output.
pub const NOW_VAR: &str = "CANARY_NOW";

/// Settings a front door fills from its environment, the same way in the CLI and the wheel.
///
/// ```
/// use canary_core::Environment;
/// let env = Environment::from_vars([
///     ("CANARY_NOW".to_owned(), "2026-01-31".to_owned()),
///     ("AWS_REGION".to_owned(), "eu-west-1".to_owned()),
///     ("HOME".to_owned(), "/home/me".to_owned()),
/// ])
/// .unwrap();
/// assert_eq!(env.clock.now().to_rfc3339(), "2026-01-31T00:00:00+00:00");
/// assert_eq!(env.storage.options.get("aws_region").map(String::as_str), Some("eu-west-1"));
/// assert_eq!(env.storage.options.len(), 1);
/// ```
#[derive(Clone)]
pub struct Environment {
    /// Object-store settings: every `AWS_*` variable (see [`StorageOptions::from_vars`]).
    pub storage: StorageOptions,
    /// `CANARY_NOW` when set and not empty, else the system clock.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Environment")
            .field("storage", &self.storage.options.keys().collect::<Vec<_>>())
            .field("now", &self.clock.now())
            .finish()
    }
}

impl Default for Environment {
    fn default() -> Self {
        Environment {
            storage: StorageOptions::default(),
            clock: Arc::new(SystemClock),
        }
    }
}

impl Environment {
    /// The settings among `vars` (a front door passes its process's variables).
    ///
    /// # Errors
    /// A query error naming `CANARY_NOW` when it is set but is not a time.
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Result<Environment> {
        let vars: Vec<(String, String)> = vars.into_iter().collect();
        let clock: Arc<dyn Clock> = match vars.iter().find(|(k, v)| k == NOW_VAR && !v.is_empty()) {
            Some((_, now)) => {
                let at = parse_instant(now).map_err(|e| {
                    CanaryError::query_hint(format!("{NOW_VAR}: {e}"), "unset it to use the system clock")
                })?;
                Arc::new(FixedClock(at))
            }
            None => Arc::new(SystemClock),
        };
        Ok(Environment {
            storage: StorageOptions::from_vars(vars),
            clock,
        })
    }

    /// Options to open a project with these settings.
    pub fn open_options(&self) -> OpenOptions {
        OpenOptions {
            storage: self.storage.clone(),
            ..OpenOptions::default()
        }
    }
}
