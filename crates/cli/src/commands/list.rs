//! `canary list kpis|products|dimensions`.

use std::sync::Arc;

use canary_core::{CanaryError, Project};
use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};

use super::Context;
use crate::ExitStatus;
use crate::args::{Format, ListWhat};
use crate::output::emit;

pub async fn run(ctx: &Context, what: ListWhat, kpi: Option<&str>, format: Format) -> Result<ExitStatus, CanaryError> {
    if kpi.is_some() && what != ListWhat::Dimensions {
        return Err(CanaryError::query("--kpi applies to `list dimensions` only"));
    }
    let engine = ctx.open().await?;
    let (names, rows) = rows(engine.project(), what, kpi)?;
    let schema = Arc::new(Schema::new(
        names
            .iter()
            .map(|n| Field::new(*n, DataType::Utf8, false))
            .collect::<Vec<_>>(),
    ));
    let columns: Vec<ArrayRef> = (0..names.len())
        .map(|i| Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r[i].as_str()))) as ArrayRef)
        .collect();
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns)
        .map_err(|e| CanaryError::internal(format!("listing: {e}")))?;
    emit(&schema, &[batch], format, None, None)?;
    Ok(ExitStatus::Success)
}

type Rows = (Vec<&'static str>, Vec<Vec<String>>);

fn rows(p: &Project, what: ListWhat, kpi: Option<&str>) -> Result<Rows, CanaryError> {
    Ok(match what {
        ListWhat::Kpis => (
            vec!["id", "type", "version", "unit", "direction", "target", "tags", "name"],
            p.kpis
                .values()
                .map(|k| {
                    vec![
                        k.id.clone(),
                        k.body.type_name().to_owned(),
                        k.version.to_string(),
                        k.unit.clone().unwrap_or_default(),
                        k.direction.as_str().to_owned(),
                        k.target.map(|t| t.to_string()).unwrap_or_default(),
                        k.tags.join(","),
                        k.name.clone().unwrap_or_default(),
                    ]
                })
                .collect(),
        ),
        ListWhat::Products => (
            vec![
                "id",
                "version",
                "owner",
                "columns",
                "dimensions",
                "measures",
                "tenant_column",
                "file",
            ],
            p.products
                .values()
                .map(|x| {
                    vec![
                        x.id.clone(),
                        x.version.to_string(),
                        x.owner.clone(),
                        x.columns.len().to_string(),
                        x.dimensions.len().to_string(),
                        x.measures.len().to_string(),
                        x.tenant_column.clone().unwrap_or_default(),
                        x.file.clone(),
                    ]
                })
                .collect(),
        ),
        ListWhat::Dimensions => (
            vec!["name", "product", "type", "granularity", "description"],
            p.groupable_dimensions(kpi)?
                .into_iter()
                .map(|d| {
                    vec![
                        d.name,
                        d.product,
                        d.kind.as_str().to_owned(),
                        d.granularity.map(|g| g.to_string()).unwrap_or_default(),
                        d.description.unwrap_or_default(),
                    ]
                })
                .collect(),
        ),
    })
}
