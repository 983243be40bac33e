//! Canary's engine: KPI specs over governed Parquet data products, validated, compiled to
//! Apache DataFusion logical plans and computed in-process.
//!
//! ```no_run
//! # async fn demo() -> canary_core::Result<()> {
//! use canary_core::{Engine, Grain, Query};
//!
//! let engine = Engine::open(std::path::Path::new("examples/retail")).await?;
//! let result = engine
//!     .compute(&Query {
//!         kpis: vec!["revenue".into(), "orders".into()],
//!         grain: Some(Grain::Month),
//!         by: vec!["channel".into()],
//!         ..Query::default()
//!     })
//!     .await?;
//! println!("{} rows", result.num_rows());
//! # Ok(())
//! # }
//! ```

pub mod atomic;
pub mod catalog;
pub mod clock;
pub mod contain;
pub mod diagnostic;
pub mod environment;
pub mod error;
pub mod evidence;
pub mod exec;
pub mod expr;
pub mod impact;
pub mod lineage;
pub mod mf;
pub mod model;
pub mod plan;
pub mod scaffold;
pub mod schema;
pub mod spec;
pub mod validate;

pub use catalog::StorageOptions;
pub use diagnostic::{Code, Diagnostic, Location};
pub use environment::Environment;
pub use error::{CanaryError, Result};
pub use exec::{Engine, Explanation, OpenOptions, QueryResult, Status, Traced, Validation};
pub use model::{Grain, Project};
pub use plan::{PlannedQuery, Query, QueryRequest};
