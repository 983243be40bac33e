//! Running plans in-process: the session, the opened catalog, results as Arrow.

pub mod display;
mod status;

pub use status::{Status, long_layout, status};

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{SchemaRef, TimestampMicrosecondType};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::execution::context::{SessionConfig, SessionContext};
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::execute_stream;
use futures::TryStreamExt;

use crate::catalog::{Catalog, StorageOptions};
use crate::error::{CanaryError, Result};
use crate::model::Project;
use crate::plan::{OutputColumn, PlannedQuery, Planner, Query};
use crate::validate::Origins;

/// A project opened for querying: validated specs, checked data, one DataFusion session.
pub struct Engine {
    project: Project,
    origins: Origins,
    catalog: Catalog,
    ctx: SessionContext,
    /// Tenants found to have rows (see `check_tenant`), asked once per engine: the files
    /// were listed when it opened, so the answer holds for its life.
    tenants_with_rows: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

/// How to open a project.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Extra contract or KPI files validated as part of the project.
    pub extra_files: Vec<std::path::PathBuf>,
    /// Object-store settings (credentials, region, endpoint).
    pub storage: StorageOptions,
    /// Spec texts used instead of the files on disk (see [`crate::validate::Overlay`]).
    pub overlay: crate::validate::Overlay,
}

/// The outcome of [`Engine::validate`].
#[derive(Debug, Clone, PartialEq)]
pub struct Validation {
    /// Every problem, sorted by file, line, column and code; empty when the project is valid.
    pub diagnostics: Vec<crate::diagnostic::Diagnostic>,
    /// Products and KPIs of a valid project (0 when there are problems).
    pub products: usize,
    pub kpis: usize,
    /// Data files whose footers were read and checked against their contracts (0 when
    /// there are problems).
    pub files: usize,
}

impl Validation {
    pub fn ok(&self) -> bool {
        self.diagnostics.is_empty()
    }

    /// `ok: N products, M KPIs`, or every problem then their count.
    pub fn to_text(&self, h: &dyn crate::diagnostic::Highlight) -> String {
        if self.ok() {
            format!(
                "ok: {} products, {} KPIs\nnote: the footers of {} data files were read and match their contracts; \
                 their pages (values, encodings, text, timestamps) are read only when KPIs are computed\n",
                self.products, self.kpis, self.files
            )
        } else {
            crate::diagnostic::render_all(&self.diagnostics, h)
        }
    }

    /// The diagnostics as a JSON array, indented.
    pub fn to_json(&self) -> String {
        // Serializing plain data cannot fail.
        serde_json::to_string_pretty(&self.diagnostics).unwrap_or_default() + "\n"
    }
}

/// Computed KPI values.
#[derive(Debug, Clone)]
pub struct QueryResult {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    /// Meaning of each column, in order.
    pub columns: Vec<OutputColumn>,
}

impl QueryResult {
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// A query's plan, optimized plan and lineage.
#[derive(Debug, Clone)]
pub struct Traced {
    pub planned: PlannedQuery,
    pub optimized: LogicalPlan,
    pub lineage: crate::lineage::Lineage,
}

impl Traced {
    /// Output columns as (name, type name), for schema facets.
    pub fn output_schema(&self) -> Vec<(String, String)> {
        self.planned
            .plan
            .schema()
            .fields()
            .iter()
            .map(|f| (f.name().clone(), crate::model::type_name(f.data_type())))
            .collect()
    }
}

/// Plans as text, for `explain`.
#[derive(Debug, Clone)]
pub struct Explanation {
    pub logical: String,
    pub optimized: String,
    /// SQL for the optimized plan, through DataFusion's unparser.
    pub sql: std::result::Result<String, String>,
}

impl Engine {
    /// Open the project in `root`: validate the specs, then open and check the data.
    /// Every problem found is returned at once as [`CanaryError::Spec`].
    pub async fn open(root: &Path) -> Result<Engine> {
        Self::open_with(root, &OpenOptions::default()).await
    }

    /// An engine over a project validated elsewhere (e.g. imported by [`crate::mf`]).
    pub async fn from_project(project: Project, origins: Origins, storage: &StorageOptions) -> Result<Engine> {
        let ctx = session(&project)?;
        let catalog = Catalog::open(&project, &origins, &ctx, storage).await?;
        Ok(Engine {
            project,
            origins,
            catalog,
            ctx,
            tenants_with_rows: std::sync::Mutex::default(),
        })
    }

    /// Like [`Engine::open`], with options.
    pub async fn open_with(root: &Path, options: &OpenOptions) -> Result<Engine> {
        let (project, origins) = crate::validate::load_project_overlay(root, &options.extra_files, &options.overlay)
            .map_err(CanaryError::Spec)?;
        Self::from_project(project, origins, &options.storage).await
    }

    pub fn project(&self) -> &Project {
        &self.project
    }

    /// Validate the project in `root` as it is on disk now, specs and data: the operation
    /// behind `canary validate` and `Project.validate`. Problems are the outcome, not an
    /// error.
    ///
    /// ```no_run
    /// # async fn demo() -> canary_core::Result<()> {
    /// use canary_core::{Engine, OpenOptions};
    /// let v = Engine::validate(std::path::Path::new("examples/retail"), &OpenOptions::default()).await?;
    /// print!("{}", v.to_text(&canary_core::diagnostic::Plain));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// Only what stops validation itself (an unreadable folder, a failed listing of storage).
    pub async fn validate(root: &Path, options: &OpenOptions) -> Result<Validation> {
        match Engine::open_with(root, options).await {
            Ok(engine) => Ok(Validation {
                diagnostics: Vec::new(),
                products: engine.project.products.len(),
                kpis: engine.project.kpis.len(),
                files: engine.catalog.tables().map(|(_, t)| t.files.len()).sum(),
            }),
            Err(CanaryError::Spec(diagnostics)) => Ok(Validation {
                diagnostics,
                products: 0,
                kpis: 0,
                files: 0,
            }),
            Err(other) => Err(other),
        }
    }

    pub fn origins(&self) -> &Origins {
        &self.origins
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn session(&self) -> &SessionContext {
        &self.ctx
    }

    /// The logical plan of a query (unoptimized, as built).
    pub async fn plan(&self, query: &Query) -> Result<PlannedQuery> {
        let mut planner = Planner::new(&self.project, &self.catalog, query)?;
        if let Some(tenant) = &query.tenant {
            self.check_tenant(tenant).await?;
        }
        let bounds = if planner.needs_bounds() {
            let plan = planner.bounds_plan()?;
            self.bounds(plan).await?
        } else {
            None
        };
        planner.plan(bounds)
    }

    /// A tenant no tenant-scoped product has a row of is refused: it is far more often a
    /// misspelt name than a tenant without data, and its KPIs would be zeros and empties
    /// that look like real values. Each product is asked for one row (`LIMIT 1`, the
    /// tenant filter pushed to the scan), so this reads little.
    async fn check_tenant(&self, tenant: &str) -> Result<()> {
        use datafusion::logical_expr::{LogicalPlanBuilder, col, lit};
        if self.tenants_with_rows.lock().is_ok_and(|seen| seen.contains(tenant)) {
            return Ok(());
        }
        let mut scoped = Vec::new();
        for (id, product) in &self.project.products {
            let Some(column) = &product.tenant_column else {
                continue;
            };
            scoped.push(id.as_str());
            let table = self.catalog.table(id)?;
            let plan = LogicalPlanBuilder::scan(
                id.as_str(),
                datafusion::datasource::provider_as_source(Arc::clone(&table.provider)),
                None,
            )
            .and_then(|b| b.filter(col(datafusion::common::Column::new(Some(id.as_str()), column)).eq(lit(tenant))))
            .and_then(|b| b.limit(0, Some(1)))
            .and_then(LogicalPlanBuilder::build)
            .map_err(CanaryError::plan)?;
            if self.run(plan).await?.iter().any(|b| b.num_rows() > 0) {
                if let Ok(mut seen) = self.tenants_with_rows.lock() {
                    seen.insert(tenant.to_owned());
                }
                return Ok(());
            }
        }
        if scoped.is_empty() {
            return Ok(());
        }
        Err(CanaryError::query_hint(
            format!(
                "tenant `{tenant}` has no rows in any tenant-scoped product ({})",
                scoped.join(", ")
            ),
            "check the tenant's name (tenant ids are case-sensitive)",
        ))
    }

    async fn bounds(&self, plan: LogicalPlan) -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>> {
        let batches = self.run(plan).await?;
        let Some(batch) = batches.iter().find(|b| b.num_rows() > 0) else {
            return Ok(None);
        };
        let at = |i: usize| -> Option<DateTime<Utc>> {
            let a = batch.column(i).as_primitive_opt::<TimestampMicrosecondType>()?;
            if a.is_null(0) {
                return None;
            }
            Utc.timestamp_micros(a.value(0)).single()
        };
        Ok(at(0).zip(at(1)))
    }

    /// Compute a query.
    pub async fn compute(&self, query: &Query) -> Result<QueryResult> {
        let planned = self.plan(query).await?;
        let schema = Arc::new(planned.plan.schema().as_arrow().clone());
        let batches = self.run(planned.plan).await?;
        Ok(QueryResult {
            schema,
            batches,
            columns: planned.columns,
        })
    }

    /// Run a logical plan to completion.
    pub async fn run(&self, plan: LogicalPlan) -> Result<Vec<RecordBatch>> {
        Ok(self.run_measured(plan).await?.0)
    }

    /// Run a logical plan to completion; also return the rows its Parquet scans produced.
    pub async fn run_measured(&self, plan: LogicalPlan) -> Result<(Vec<RecordBatch>, u64)> {
        let state = self.ctx.state();
        let physical = state.create_physical_plan(&plan).await.map_err(CanaryError::optimize)?;
        // The Parquet decoder panics on some corrupt data pages: contained, that is a data
        // error like any other unreadable file.
        let run = async {
            execute_stream(physical.clone(), self.ctx.task_ctx())
                .map_err(|e| self.execution_error(e))?
                .try_collect::<Vec<RecordBatch>>()
                .await
                .map_err(|e| self.execution_error(e))
        };
        let batches = crate::contain::contain_async(run).await.map_err(|panic| {
            CanaryError::data(format!(
                "a data file cannot be decoded (most likely corrupt; the reader stopped on: {panic})"
            ))
        })??;
        Ok((batches, rows_scanned(physical.as_ref())))
    }

    /// [`CanaryError::execution`], naming the object stores the project reads when the
    /// error came from one (their errors name neither the bucket nor the object).
    fn execution_error(&self, err: datafusion::error::DataFusionError) -> CanaryError {
        let from_store = matches!(err.find_root(), datafusion::error::DataFusionError::ObjectStore(_))
            || crate::error::with_causes(&err).contains("Generic S3 error");
        let stores: std::collections::BTreeSet<&str> = self
            .project
            .products
            .values()
            .map(|p| p.location_written.as_str())
            .filter(|l| l.contains("://") && !l.starts_with("file://"))
            .collect();
        match CanaryError::execution(err) {
            CanaryError::Data { message, source } if from_store && !stores.is_empty() => CanaryError::Data {
                message: format!(
                    "reading from the object store ({}) failed: {message}",
                    stores.into_iter().collect::<Vec<_>>().join(", ")
                ),
                source,
            },
            other => other,
        }
    }

    /// The column-level lineage of a query, read off its optimized plan (the plan that
    /// runs), with the plan.
    pub async fn lineage(&self, query: &Query) -> Result<Traced> {
        let planned = self.plan(query).await?;
        let optimized = self
            .ctx
            .state()
            .optimize(&planned.plan)
            .map_err(CanaryError::optimize)?;
        let lineage = crate::lineage::analyze(&optimized, &planned.columns, &self.catalog, &self.project);
        Ok(Traced {
            planned,
            optimized,
            lineage,
        })
    }

    /// The plans of a query as text, and as SQL.
    pub async fn explain(&self, query: &Query) -> Result<Explanation> {
        let planned = self.plan(query).await?;
        let optimized = self
            .ctx
            .state()
            .optimize(&planned.plan)
            .map_err(CanaryError::optimize)?;
        // The plan as built reads better as SQL than the optimized one (no common
        // subexpressions hoisted into subqueries); the optimized one is the fallback.
        let unparse = |plan: &LogicalPlan| {
            crate::plan::portable(plan.clone())
                .and_then(|p| datafusion::sql::unparser::plan_to_sql(&p))
                .map(|s| s.to_string())
                .map_err(|e| e.to_string())
        };
        let sql = unparse(&planned.plan).or_else(|_| unparse(&optimized)).map_err(|e| {
            // DataFusion names the operator and then dumps it whole; the name is enough.
            let first = e.split(" { ").next().unwrap_or(&e);
            first.split('(').next().unwrap_or(first).trim_end().to_owned()
        });
        Ok(Explanation {
            logical: planned.plan.display_indent().to_string(),
            optimized: optimized.display_indent().to_string(),
            sql,
        })
    }
}

/// Rows produced by the file scans of an executed plan (not the time spine's values).
fn rows_scanned(plan: &dyn datafusion::physical_plan::ExecutionPlan) -> u64 {
    use datafusion::datasource::physical_plan::FileScanConfig;
    use datafusion::datasource::source::DataSourceExec;
    let own = plan
        .downcast_ref::<DataSourceExec>()
        .filter(|d| d.data_source().is::<FileScanConfig>())
        .and_then(|_| plan.metrics())
        .and_then(|m| m.output_rows())
        .unwrap_or(0) as u64;
    own + plan
        .children()
        .into_iter()
        .map(|c| rows_scanned(c.as_ref()))
        .sum::<u64>()
}

/// A DataFusion session configured from the project: UTC, memory limit, spilling.
fn session(project: &Project) -> Result<SessionContext> {
    let mut config = SessionConfig::new().with_information_schema(false);
    if let Some(n) = project.settings.target_partitions {
        config = config.with_target_partitions(n.max(1));
    }
    config.options_mut().execution.time_zone = Some("UTC".to_owned());
    let mut runtime = RuntimeEnvBuilder::new();
    if let Some(limit) = project.settings.memory_limit {
        // A greedy pool, wrapped to name the top consumers when it runs out: operators that
        // can spill (sorts, final aggregations) spill to disk before failing. (A fair pool
        // would split the limit among partial aggregations, which cannot spill.)
        runtime = runtime.with_memory_limit(limit, 1.0);
    }
    if let Some(dir) = &project.settings.spill_dir {
        runtime = runtime.with_disk_manager_builder(
            DiskManagerBuilder::default().with_mode(DiskManagerMode::Directories(vec![dir.clone()])),
        );
    }
    let runtime = runtime
        .build_arc()
        .map_err(|e| CanaryError::data_caused(format!("cannot set up the engine: {e}"), e))?;
    Ok(SessionContext::new_with_config_rt(config, runtime))
}
