//! Evidence: what proves a published number — spec versions, input files, plan, result,
//! lineage — in a hash-chained, optionally signed log under `PROJECT/.canary/evidence/`.
//!
//! Layout (every file written to a temporary name, synced, then renamed into place):
//!
//! ```text
//! .canary/evidence/
//!   HEAD                   {"hash":…,"seq":N}: the last committed record (the commit point)
//!   log/00000001.json      one record per run, canonical JSON, each naming the previous hash
//!   runs/<run-id>.parquet  the published result of each run
//!   objects/<sha256>       the spec files of each run, by the SHA-256 of their bytes
//! ```
//!
//! See docs/evidence.md for the record format and the threat model.

mod bundle;
mod canonical;
mod chain;
mod log_check;
mod record;
mod run;
mod sign;
mod store;
mod text;
mod verify;

pub use bundle::{ExportOptions, ReportFormat, export};
pub use canonical::{canonical_json, result_hash, sha256_hex};
pub use chain::{Problem, Verification};
pub use record::{Artifact, EngineInfo, InputFile, PlanRef, Record, ResultRef, Signature, SpecRef, ZERO_HASH};
pub use run::{Published, Replay, ReplayOutcome, publish, replay};
pub use sign::{PublicKeyFile, SigningKey, VerifyingKey, generate_key, write_key_pair};
pub use store::{EVIDENCE_DIR, Store};
pub use text::{log_json, log_text};
pub use verify::verify;
