//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Canary computes KPIs declared as versioned specs over Parquet data products.
///
/// Run it inside a project (a folder with canary.yaml, or below one), or point at one with
/// --project. Results go to stdout (for `validate`, its diagnostics are its results);
/// errors, logs and progress go to stderr.
#[derive(Debug, Parser)]
#[command(name = "canary", version, propagate_version = true)]
pub struct Cli {
    /// Project folder (default: the nearest folder upwards holding canary.yaml).
    #[arg(long, short = 'p', global = true, value_name = "DIR", env = "CANARY_PROJECT")]
    pub project: Option<PathBuf>,

    /// When to color messages: auto colors a stream only if it is a terminal and NO_COLOR
    /// is unset.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new project with sample data, specs and KPIs that work as they are.
    Init {
        /// Folder to create (must not exist, or be empty).
        dir: PathBuf,
    },
    /// Check the specs and the data they describe; print every problem at once.
    ///
    /// Exit code 1 when there are problems.
    Validate {
        /// Extra contract or KPI files to check as if they were part of the project.
        #[arg(value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Diagnostics as text or as JSON.
        #[arg(long, value_enum, default_value_t = DiagFormat::Text)]
        format: DiagFormat,
    },
    /// List the project's KPIs, products or dimensions (each under the name --by takes).
    List {
        #[arg(value_enum)]
        what: ListWhat,
        /// With `dimensions`: only those this KPI can be grouped by.
        #[arg(long, value_name = "KPI")]
        kpi: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Compute KPIs and print them.
    Compute {
        #[command(flatten)]
        query: QueryArgs,
        /// Output format.
        #[arg(long, short = 'f', value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Write to this file instead of stdout (required for parquet on a terminal).
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
        /// wide: one column per KPI; long: one row per KPI with unit, target and status
        /// (ok, warn, critical) against the KPI's thresholds; auto: wide, or long when a
        /// table would be wider than the terminal.
        #[arg(long, value_enum, default_value_t = Layout::Auto)]
        layout: Layout,
    },
    /// MetricFlow (dbt semantic layer) manifests: query them in-process over Parquet.
    Mf {
        #[command(subcommand)]
        command: MfCommand,
    },
    /// Turn another tool's definitions into a native Canary project.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Show how KPIs are computed: the logical plan, the optimized plan, or SQL.
    Explain {
        #[command(flatten)]
        query: QueryArgs,
        /// Print the optimized plan instead of the plan as built.
        #[arg(long)]
        optimized: bool,
        /// Print SQL (through DataFusion's unparser) instead of a plan.
        #[arg(long)]
        sql: bool,
    },
    /// Compute KPIs, publish the result and record the evidence of the run in the
    /// project's hash-chained log (.canary/evidence).
    Run {
        #[command(flatten)]
        query: QueryArgs,
        /// Sign the record with this Ed25519 private key (PKCS#8 PEM).
        #[arg(long, value_name = "KEY")]
        sign_key: Option<PathBuf>,
        #[arg(long, short = 'f', value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Also write the result to this file.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Verify, export and replay the evidence of runs.
    Evidence {
        #[command(subcommand)]
        command: EvidenceCommand,
    },
    /// Classify the changes between two versions of a contract and list the KPIs and
    /// dimensions each affects (through their lineage). Exit code 1 when a breaking change
    /// affects a KPI.
    Impact {
        /// The contract before: a file, or REV:PATH for a git revision (e.g.
        /// HEAD:products/orders.yaml).
        old: String,
        /// The contract after: a file, or REV:PATH.
        new: String,
        #[arg(long, value_enum, default_value_t = DiagFormat::Text)]
        format: DiagFormat,
    },
    /// Column-level lineage of KPIs, read off the plan that computes them: raw sources ->
    /// data-product columns -> output columns, with OpenLineage's transformation kinds.
    Lineage {
        #[command(flatten)]
        query: QueryArgs,
        #[arg(long, short = 'f', value_enum, default_value_t = LineageArg::Text)]
        format: LineageArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum EvidenceCommand {
    /// Recompute every hash, the chain and the signatures of a log or a bundle; name the
    /// first broken record and what broke. Exit code 1 when anything does not verify.
    Verify {
        /// A project, its .canary/evidence folder, or an exported bundle (default: the project).
        path: Option<PathBuf>,
        /// Require every record to be signed with this key (SPKI PEM public key, or the
        /// private key file).
        #[arg(long, value_name = "KEY")]
        key: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = DiagFormat::Text)]
        format: DiagFormat,
    },
    /// List the recorded runs.
    Log {
        #[arg(long, value_enum, default_value_t = DiagFormat::Text)]
        format: DiagFormat,
    },
    /// Write the runs of a KPI, with their specs, results, lineage, the chain segment and a
    /// report, to a new folder that `verify` checks offline.
    Export {
        kpi: String,
        /// Runs started at or after this time.
        #[arg(long)]
        from: Option<String>,
        /// Runs started before this time.
        #[arg(long)]
        to: Option<String>,
        /// Report format.
        #[arg(long, value_enum, default_value_t = ReportArg::Markdown)]
        report: ReportArg,
        /// The bundle folder to create (must not exist, or be empty).
        out: PathBuf,
    },
    /// Recompute a recorded run from its recorded inputs and check the result hash; name
    /// every spec or input file that changed. Exit code 1 when it does not match.
    Replay {
        /// Run id (or a unique prefix), or record number.
        run: String,
    },
    /// Create an Ed25519 key pair for --sign-key: KEY (private, PKCS#8 PEM, mode 0600) and
    /// KEY.pub (public, SPKI PEM).
    Keygen { key: PathBuf },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportArg {
    Markdown,
    Html,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LineageArg {
    /// Aligned text for people.
    Text,
    /// Canary's lineage document (docs/lineage.md).
    Json,
    /// OpenLineage RunEvents (spec 2-0-2), one per line: the query's, then one per product
    /// declaring raw sources.
    Openlineage,
    /// A Graphviz graph.
    Dot,
    /// A Mermaid flowchart.
    Mermaid,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Write a MetricFlow manifest as a Canary project: a contract per semantic model
    /// (the columns it uses, typed as the data has them), a KPI per metric (same name).
    Metricflow {
        /// A folder of MetricFlow or dbt YAML files, or dbt's semantic_manifest.json.
        #[arg(value_name = "MANIFEST")]
        manifest: PathBuf,
        /// Folder of the tables: `DATA/<table>.parquet` (a file or a folder).
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        /// The project folder to create (must not exist, or be empty).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum MfCommand {
    /// Answer a MetricFlow query: metrics by group-bys named as MetricFlow names them.
    Query(MfQueryArgs),
}

#[derive(Debug, Args)]
pub struct MfQueryArgs {
    /// A folder of MetricFlow YAML files, or dbt's `semantic_manifest.json`.
    #[arg(long, value_name = "DIR")]
    pub manifest: PathBuf,
    /// Folder of the tables: the table a semantic model names with alias X is `DIR/X.parquet`.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Metric names, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub metrics: Vec<String>,
    /// Group-bys, comma-separated: `metric_time__day`, `listing__country_latest`, ...
    #[arg(long = "group-by", value_delimiter = ',')]
    pub group_by: Vec<String>,
    /// A filter in MetricFlow's filter language; repeated filters are combined with AND.
    #[arg(long = "where")]
    pub filters: Vec<String>,
    /// Order by an output column; `-NAME` for descending. Repeatable.
    #[arg(long = "order-by", allow_hyphen_values = true)]
    pub order_by: Vec<String>,
    #[arg(long)]
    pub limit: Option<usize>,
    /// Start of the time constraint (inclusive).
    #[arg(long = "start-time")]
    pub start_time: Option<String>,
    /// End of the time constraint (a date includes that whole day).
    #[arg(long = "end-time")]
    pub end_time: Option<String>,
    /// Run a saved query of the manifest.
    #[arg(long = "saved-query")]
    pub saved_query: Option<String>,
    /// Only the minimum and maximum of each group-by.
    #[arg(long = "min-max-only")]
    pub min_max_only: bool,
    /// Do not de-duplicate (MetricFlow's `apply_group_by: false`).
    #[arg(long = "no-dedupe")]
    pub no_dedupe: bool,
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Table)]
    pub format: Format,
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// KPI ids, in output order; `@TAG` selects every KPI with that tag.
    #[arg(required = true, value_name = "KPI")]
    pub kpis: Vec<String>,
    /// Time grain of the `period` column: millisecond, second, minute, hour, day, week, month, quarter, year.
    #[arg(long, short = 'g')]
    pub grain: Option<String>,
    /// Dimension to drill down by (repeatable): `channel` or `customers.segment`.
    #[arg(long = "by", short = 'b', value_name = "DIM")]
    pub by: Vec<String>,
    /// SQL condition over dimensions and columns, applied before aggregation.
    #[arg(long = "where", short = 'w', value_name = "EXPR")]
    pub filter: Option<String>,
    /// Start of the range, inclusive (YYYY-MM-DD, YYYY-MM or RFC 3339, UTC).
    #[arg(long)]
    pub from: Option<String>,
    /// End of the range, exclusive.
    #[arg(long)]
    pub to: Option<String>,
    /// Tenant whose rows are read; other tenants' rows are never seen.
    #[arg(long)]
    pub tenant: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Layout {
    Auto,
    Wide,
    Long,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListWhat {
    Kpis,
    Products,
    Dimensions,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
    Parquet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiagFormat {
    Text,
    Json,
}
