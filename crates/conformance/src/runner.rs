//! One case: render and run its check query (the expected result), run the engine (or, for
//! `--self-check`, the check query again), compare.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use datafusion::common::TableReference;
use datafusion::execution::context::{SQLOptions, SessionConfig, SessionContext};
use datafusion::prelude::ParquetReadOptions;
use tokio::runtime::Runtime;

use crate::compare::{Table, compare};
use crate::engine;
use crate::error::{HarnessError, Result};
use crate::render::{Renderer, SOURCE_SCHEMA};
use crate::suite::{LoadedCase, manifest_folder};

/// Required features DataFusion (the "warehouse" of the check queries) can render.
const SUPPORTED_FEATURES: &[&str] = &[
    "CONTINUOUS_PERCENTILE_AGGREGATION",
    "DISCRETE_PERCENTILE_AGGREGATION",
    "APPROXIMATE_CONTINUOUS_PERCENTILE_AGGREGATION",
];
/// Required features it cannot: such cases are skipped, as upstream skips them.
const UNSUPPORTED_FEATURES: &[&str] = &["APPROXIMATE_DISCRETE_PERCENTILE_AGGREGATION"];

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// With the number of rows compared.
    Pass(usize),
    Fail(String),
    Skip(String),
}

/// What the other side of the comparison is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Canary's engine.
    Engine,
    /// The check query again: validates the harness itself.
    SelfCheck,
    /// Through Canary, with SIMPLE_MODEL's manifest given as the `semantic_manifest.json`
    /// dbt writes (`dbt/simple_manifest/`).
    DbtJson,
    /// Through Canary, with SIMPLE_MODEL's manifest given as the dbt project's property
    /// file (`dbt/simple_manifest/schema.yml`).
    DbtYaml,
}

impl Mode {
    /// The file of `crates/conformance/passing/` listing the cases that pass in this mode
    /// (`None` for the self-check, which checks the harness, not the engine).
    pub fn passing_file(self) -> Option<&'static str> {
        match self {
            Mode::Engine => Some("metricflow_yaml.txt"),
            Mode::DbtJson => Some("dbt_json.txt"),
            Mode::DbtYaml => Some("dbt_yaml.txt"),
            Mode::SelfCheck => None,
        }
    }
}

pub struct Runner {
    runtime: Runtime,
    ctx: SessionContext,
    renderer: Renderer,
    registered_percentiles: Mutex<BTreeSet<String>>,
    suite: PathBuf,
    data_dir: PathBuf,
    mode: Mode,
    /// Each manifest is read, imported and validated once, not once per case.
    projects: Mutex<BTreeMap<PathBuf, Result<Arc<canary_core::mf::MfProject>, String>>>,
}

impl Runner {
    /// A DataFusion session (UTC) with every table registered as `public.<table>`.
    pub fn new(suite: &Path, data_dir: &Path, tables: &BTreeMap<String, PathBuf>, mode: Mode) -> Result<Runner> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| HarnessError::io("tokio runtime", e))?;
        let mut config = SessionConfig::new().with_information_schema(false);
        config.options_mut().execution.time_zone = Some("UTC".to_owned());
        let ctx = SessionContext::new_with_config(config);
        runtime.block_on(async {
            for (name, path) in tables {
                let location = path
                    .to_str()
                    .ok_or_else(|| HarnessError::suite(path, "the path is not UTF-8"))?;
                ctx.register_parquet(
                    TableReference::partial(SOURCE_SCHEMA, name.as_str()),
                    location,
                    ParquetReadOptions::default(),
                )
                .await?;
            }
            Ok::<_, HarnessError>(())
        })?;
        Ok(Runner {
            runtime,
            ctx,
            renderer: Renderer::new(),
            registered_percentiles: Mutex::default(),
            suite: suite.to_owned(),
            data_dir: data_dir.to_owned(),
            mode,
            projects: Mutex::default(),
        })
    }

    pub fn run(&self, loaded: &LoadedCase) -> Outcome {
        match self.try_run(loaded) {
            Ok(outcome) => outcome,
            Err(reason) => Outcome::Fail(reason),
        }
    }

    fn try_run(&self, loaded: &LoadedCase) -> Result<Outcome, String> {
        let case = &loaded.case;
        for feature in case.required_features.iter().flatten() {
            if UNSUPPORTED_FEATURES.contains(&feature.as_str()) {
                return Ok(Outcome::Skip(format!("DataFusion cannot compute {feature}")));
            }
            if !SUPPORTED_FEATURES.contains(&feature.as_str()) {
                return Err(format!("unknown required feature `{feature}`"));
            }
        }
        let folder = manifest_folder(&case.model).ok_or_else(|| format!("unknown model `{}`", case.model))?;
        let manifest_dir = self.suite.join("semantic_manifest_yamls").join(folder);
        if !manifest_dir.is_dir() {
            return Err(format!("no manifest folder {}", manifest_dir.display()));
        }
        let sql = self
            .renderer
            .check_query(&case.check_query)
            .map_err(|e| format!("check query: {e}"))?;
        self.register_percentiles();
        let expected = self.execute(&sql).map_err(|e| format!("check query: {e}"))?;
        let where_filter = case
            .where_filter
            .as_deref()
            .map(|w| self.renderer.where_filter(w))
            .transpose()
            .map_err(|e| format!("where_filter: {e}"))?;
        let actual = match self.mode {
            Mode::SelfCheck => self
                .execute(&sql)
                .map_err(|e| format!("check query, second run: {e}"))?,
            Mode::Engine | Mode::DbtJson | Mode::DbtYaml => {
                let dbt = self.suite.join("dbt/simple_manifest");
                let manifest = match self.mode {
                    Mode::DbtJson if case.model == "SIMPLE_MODEL" => dbt.join("semantic_manifest.json"),
                    // The folder: its YAML files are read (schema.yml), not the JSON.
                    Mode::DbtYaml if case.model == "SIMPLE_MODEL" => dbt,
                    _ => manifest_dir.clone(),
                };
                let project = self.project(&manifest)?;
                engine::run(&self.runtime, &project, &engine::query_of(case, where_filter))?
            }
        };
        Ok(match compare(&expected, &actual, case.check_order, case.allow_empty) {
            Ok(()) => Outcome::Pass(expected.rows.len()),
            Err(difference) => Outcome::Fail(difference),
        })
    }

    /// The opened manifest in `dir`, opened on first use.
    fn project(&self, dir: &Path) -> std::result::Result<Arc<canary_core::mf::MfProject>, String> {
        let mut projects = self.projects.lock().unwrap_or_else(PoisonError::into_inner);
        projects
            .entry(dir.to_path_buf())
            .or_insert_with(|| engine::open(&self.runtime, dir, &self.data_dir).map(Arc::new))
            .clone()
    }

    /// Register a `percentile_disc_<fraction>` UDAF for each fraction rendered so far.
    fn register_percentiles(&self) {
        let mut registered = self
            .registered_percentiles
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (name, fraction) in self.renderer.discrete_percentiles() {
            if registered.insert(name.clone()) {
                // DataFusion wants 'static aliases; there is one per distinct fraction.
                let alias: &'static str = name.leak();
                let udaf = canary_core::plan::Percentile::udaf(fraction, true).with_aliases([alias]);
                self.ctx.register_udaf(udaf);
            }
        }
    }

    /// Run one SELECT in the session.
    fn execute(&self, sql: &str) -> Result<Table, String> {
        let options = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        let ctx = self.ctx.clone();
        let sql = sql.to_owned();
        let result = self.runtime.block_on(async move {
            let frame = ctx.sql_with_options(&sql, options).await?;
            let schema = Arc::new(frame.schema().as_arrow().clone());
            let batches = frame.collect().await?;
            Ok::<_, datafusion::error::DataFusionError>((schema, batches))
        });
        let (schema, batches) = result.map_err(|e| one_line(&e.to_string()))?;
        Table::from_batches(&schema, &batches)
    }
}

/// A message on one line, whitespace collapsed.
pub fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}
