use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `canary.yaml`: the root of a Canary project.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectSpec {
    /// Project name, shown in reports and evidence.
    pub project: String,
    /// Semantic version of the project as a whole.
    #[serde(default)]
    pub version: Option<String>,
    /// Team or person accountable for the project.
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Glob patterns, relative to the project folder, of data-product contract files.
    #[serde(default = "default_products")]
    pub products: Vec<String>,
    /// Glob patterns, relative to the project folder, of KPI spec files.
    #[serde(default = "default_kpis")]
    pub kpis: Vec<String>,
    /// When true, every query must name a tenant (`--tenant`); a query without one is refused.
    #[serde(default)]
    pub require_tenant: bool,
    #[serde(default)]
    pub settings: SettingsSpec,
}

fn default_products() -> Vec<String> {
    vec!["products/**/*.yaml".to_owned()]
}

fn default_kpis() -> Vec<String> {
    vec!["kpis/**/*.yaml".to_owned()]
}

/// Execution settings.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsSpec {
    /// Memory the engine may use before spilling to disk, e.g. `512MiB`, `2GiB`.
    #[serde(default)]
    pub memory_limit: Option<String>,
    /// Folder for spill files (default: the system temporary folder).
    #[serde(default)]
    pub spill_dir: Option<String>,
    /// Number of partitions DataFusion plans with (default: the number of cores).
    #[serde(default)]
    pub target_partitions: Option<usize>,
    /// The calendar: the days cumulative and `every_period` KPIs cover when a query gives no
    /// range (default: the data's first to last period), e.g. a time spine's range.
    #[serde(default)]
    pub calendar: Option<CalendarSpec>,
    /// Bounds of object-store requests (`s3://` locations).
    #[serde(default)]
    pub object_store: Option<ObjectStoreSpec>,
}

/// How long an object store may take before a command fails.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectStoreSpec {
    /// The most one request may take, its body included, e.g. `30s` (default), `2m`.
    #[serde(default)]
    pub timeout: Option<String>,
    /// The most connecting may take, e.g. `5s` (default).
    #[serde(default)]
    pub connect_timeout: Option<String>,
    /// How many times a failed request is tried again (default 2, at most 10).
    #[serde(default)]
    pub retries: Option<usize>,
}

/// A range of days, both ends included.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarSpec {
    /// First day, `YYYY-MM-DD`.
    pub from: String,
    /// Last day, `YYYY-MM-DD`.
    pub to: String,
}
