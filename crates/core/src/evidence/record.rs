//! The evidence record of one run.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::canonical::{canonical_json, sha256_hex};
use crate::error::{CanaryError, Result};

/// The previous hash of the first record.
pub const ZERO_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Format tag of records.
pub const RECORD_FORMAT: &str = "canary-evidence/1";

/// What was computed, how, from what, with what result. Serialized as canonical JSON; its
/// `hash` is the SHA-256 of the canonical JSON of every other field (`signature` excluded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub format: String,
    /// Position in the log, from 1.
    pub seq: u64,
    /// Hash of the previous record ([`ZERO_HASH`] for the first).
    pub prev: String,
    /// UUIDv7 of the run.
    pub run_id: String,
    /// When the run started, by the injectable clock (RFC 3339, UTC).
    pub time: String,
    pub engine: EngineInfo,
    /// The query as the run received it, its KPI selection expanded to ids.
    pub query: crate::plan::QueryRequest,
    /// Every spec involved: the project file, the KPIs (with their inputs), the products.
    pub specs: Vec<SpecRef>,
    pub plan: PlanRef,
    /// Every file of every product the plan scans.
    pub inputs: Vec<InputFile>,
    /// Rows the Parquet scans produced.
    pub rows_read: u64,
    pub result: ResultRef,
    /// Column-level lineage of the result (docs/lineage.md).
    pub lineage: Value,
    pub hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineInfo {
    pub name: String,
    pub version: String,
    pub datafusion: String,
}

impl EngineInfo {
    pub fn current() -> EngineInfo {
        EngineInfo {
            name: "canary".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            datafusion: datafusion::DATAFUSION_VERSION.into(),
        }
    }
}

/// A spec involved in a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecRef {
    /// `project`, `product` or `kpi`.
    pub kind: String,
    pub id: String,
    pub version: String,
    /// The file it was declared in, relative to the project.
    pub file: String,
    /// SHA-256 of the spec's canonical JSON (formatting and key order do not change it).
    pub sha256: String,
    /// SHA-256 of the file's bytes: its name under `objects/`.
    pub object: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanRef {
    /// The optimized logical plan, as DataFusion displays it.
    pub text: String,
    pub sha256: String,
}

/// An input file as the run read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputFile {
    pub product: String,
    /// Relative to the project when inside it, else the URL.
    pub path: String,
    pub size: u64,
    /// Last modification time the store reported (RFC 3339).
    pub modified: String,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultRef {
    pub rows: u64,
    pub columns: Vec<String>,
    /// SHA-256 of the result's canonical encoding ([`super::result_hash`]).
    pub sha256: String,
    /// The published result file.
    pub file: Artifact,
}

/// A file Canary wrote, relative to the evidence folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Artifact {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    /// `ed25519`.
    pub algorithm: String,
    /// Hex of the 32-byte public key.
    pub public_key: String,
    /// Hex of the signature of the record's hash (its 32 bytes).
    pub value: String,
}

impl Record {
    /// The hash this record should carry: over everything but `hash` and `signature`.
    pub fn compute_hash(&self) -> Result<String> {
        let mut v = serde_json::to_value(self).map_err(|e| CanaryError::internal(e.to_string()))?;
        if let Some(o) = v.as_object_mut() {
            o.remove("hash");
            o.remove("signature");
        }
        Ok(sha256_hex(canonical_json(&v).as_bytes()))
    }

    /// The record's file content: canonical JSON and a newline.
    pub fn to_canonical(&self) -> Result<String> {
        let v = serde_json::to_value(self).map_err(|e| CanaryError::internal(e.to_string()))?;
        Ok(canonical_json(&v) + "\n")
    }

    /// Whether the record covers KPI `kpi`.
    pub fn covers(&self, kpi: &str) -> bool {
        self.query.kpis.iter().any(|k| k == kpi)
    }
}
