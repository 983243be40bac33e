//! A MetricFlow manifest imported as a Canary project, with its engine: loading, the
//! import's checks (a metric Canary refuses is set aside, the others stay usable).

use std::collections::BTreeMap;
use std::path::Path;

use super::convert::{Imported, import};
use super::load::load_manifest;
use super::manifest::Manifest;
use crate::catalog::StorageOptions;
use crate::diagnostic::Diagnostic;
use crate::error::{CanaryError, Result};
use crate::exec::Engine;
use crate::spec::{KpiSpec, Located, ProductSpec, ProjectSpec, SettingsSpec};
use crate::validate::validate_specs;

/// An imported manifest with its engine, ready for queries.
pub struct MfProject {
    pub manifest: Manifest,
    pub imported: Imported,
    pub engine: Engine,
    /// Where the tables are (`DATA/<alias>.parquet`).
    pub data: std::path::PathBuf,
    /// Custom granularities of the time spines (`alien_day`, fiscal periods), read from
    /// their tables.
    pub custom_grains: BTreeMap<String, crate::plan::CustomGrain>,
    /// First and last day of the day time spine, read once: the range of cumulative and
    /// spine-joined metrics when a query has none.
    pub calendar: Option<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)>,
}

impl MfProject {
    /// Read the manifest at `manifest` over the tables in `data` (`data/<alias>.parquet`).
    pub async fn open(manifest: &Path, data: &Path) -> Result<MfProject> {
        let parsed = load_manifest(manifest)?;
        let mut imported = import(&parsed, data)?;
        let custom_grains: Vec<String> = parsed
            .time_spines()
            .iter()
            .flat_map(|s| s.custom.iter().map(|(name, _)| name.clone()))
            .collect();
        let (project, origins) = validate_imported(&mut imported, data, custom_grains)?;
        let engine = Engine::from_project(project, origins, &StorageOptions::default()).await?;
        let mut project = MfProject {
            manifest: parsed,
            imported,
            engine,
            data: data.to_path_buf(),
            custom_grains: BTreeMap::new(),
            calendar: None,
        };
        project.custom_grains = project.read_custom_grains().await?;
        if project.has_day_spine() {
            project.calendar = project.spine_bounds().await?;
        }
        Ok(project)
    }

    /// The semantic model a metric's values come from (its first measure's).
    pub(super) fn root_model(&self, metric: &str) -> Option<String> {
        let kpi = self.imported.kpis.iter().find(|k| k.id == metric)?;
        let measure = kpi
            .measure
            .as_ref()
            .or(kpi.conversion.as_ref().map(|c| &c.base.measure))
            .or(kpi.numerator.as_ref().map(|n| &n.measure));
        match (measure, kpi.inputs.first()) {
            (Some(m), _) => m.split_once('.').map(|(p, _)| p.to_owned()),
            (None, Some(i)) => self.root_model(&i.kpi),
            (None, None) => None,
        }
    }

    /// The scan of a Parquet file or folder of the data folder.
    pub(super) async fn read_table(&self, path: &Path) -> Result<datafusion::logical_expr::LogicalPlan> {
        crate::catalog::check_not_special(path, &path.display().to_string()).map_err(CanaryError::query)?;
        let df = self
            .engine
            .session()
            .read_parquet(
                path.to_string_lossy().as_ref(),
                datafusion::prelude::ParquetReadOptions::default(),
            )
            .await
            .map_err(CanaryError::plan)?;
        Ok(df.logical_plan().clone())
    }
}

/// Validate imported specs as Canary's own; a metric Canary refuses is set aside (into
/// `imported.unsupported`, with the reason) so the others stay usable.
pub fn validate_imported(
    imported: &mut Imported,
    data: &Path,
    custom_grains: Vec<String>,
) -> Result<(crate::model::Project, crate::validate::Origins)> {
    // Validate as Canary specs; a metric Canary refuses is set aside with the reason,
    // so the others stay usable.
    let (project, origins) = loop {
        let spec = Located::detached(
            ProjectSpec {
                project: "metricflow".into(),
                version: None,
                owner: None,
                description: None,
                products: Vec::new(),
                kpis: Vec::new(),
                require_tenant: false,
                settings: SettingsSpec::default(),
            },
            "semantic_manifest",
        );
        let products: Vec<Located<ProductSpec>> = imported
            .products
            .iter()
            .map(|p| Located::detached(p.clone(), &format!("semantic_models/{}", p.product)))
            .collect();
        let kpis: Vec<Located<KpiSpec>> = imported
            .kpis
            .iter()
            .map(|k| Located::detached(k.clone(), &format!("metrics/{}", k.id)))
            .collect();
        let result = validate_specs(
            data,
            &spec,
            None,
            crate::model::Settings {
                custom_grains: custom_grains.clone(),
                ..Default::default()
            },
            Vec::new(),
            products,
            kpis,
            Vec::new(),
        );
        match result {
            Ok(ok) => break ok,
            Err(diags) => set_aside(imported, diags)?,
        }
    };
    Ok((project, origins))
}

/// Set aside the metrics that Canary's validation refused; refuse the whole manifest if a
/// semantic model itself is invalid.
fn set_aside(imported: &mut Imported, diags: Vec<Diagnostic>) -> Result<()> {
    let mut by_metric: BTreeMap<String, String> = BTreeMap::new();
    let mut fatal = Vec::new();
    for d in diags {
        match d.location.file.strip_prefix("metrics/") {
            Some(id) => {
                by_metric.entry(id.to_owned()).or_insert(d.message.clone());
            }
            None => fatal.push(d),
        }
    }
    if !fatal.is_empty() || by_metric.is_empty() {
        return Err(CanaryError::Spec(fatal));
    }
    for (id, why) in by_metric {
        // A hidden input's problem belongs to the metric it was made for.
        let metric = id.split("__input_").next().unwrap_or(&id).to_owned();
        imported.unsupported.insert(metric.clone(), why);
        imported
            .kpis
            .retain(|k| k.id != metric && !k.id.starts_with(&format!("{metric}__input_")));
    }
    // Metrics using a set-aside one go too.
    super::convert::drop_dependents(imported);
    Ok(())
}
