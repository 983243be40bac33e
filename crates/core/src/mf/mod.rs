//! MetricFlow (dbt semantic layer) manifests as a second input format: read them, turn
//! them into Canary's validated model, and answer MetricFlow-style queries.

mod convert;
mod dimensions;
mod export;
mod filter;
mod load;
mod manifest;
mod names;
mod project;
mod query;
mod request;
mod saved;
mod spine;

pub use convert::{Imported, import, table_location};
pub use export::{ImportReport, to_yaml, write_project};
pub use filter::render as render_filter;
pub use load::load_manifest;
pub use manifest::Manifest;
pub use names::{MfName, Resolved, resolve};
pub use project::{MfProject, validate_imported};
pub use query::run_query;
pub use request::MfQuery;
