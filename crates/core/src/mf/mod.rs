//! MetricFlow (dbt semantic layer) manifests as a second input format: read them, turn
//! them into Canary's validated model, and answer MetricFlow-style queries.

mod convert;
mod export;
mod filter;
mod load;
mod manifest;
mod names;
mod query;
mod saved;

pub use convert::{Imported, import, table_location};
pub use export::{ImportReport, to_yaml, write_project};
pub use filter::render as render_filter;
pub use load::load_manifest;
pub use manifest::Manifest;
pub use names::{MfName, Resolved, resolve};
pub use query::{MfProject, MfQuery, run_query, validate_imported};
