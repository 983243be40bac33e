//! `canary compute KPI… [--layout auto|wide|long]`.

use std::path::Path;

use canary_core::CanaryError;
use canary_core::exec::display::TextTable;
use canary_core::plan::OutputRole;

use super::{Context, request};
use crate::ExitStatus;
use crate::args::{Format, Layout, QueryArgs};
use crate::output::{check_binary_to_terminal, emit, eprint, print, too_wide};
use crate::progress::Progress;

pub async fn run(
    ctx: &Context,
    args: &QueryArgs,
    format: Format,
    output: Option<&Path>,
    layout: Layout,
) -> Result<ExitStatus, CanaryError> {
    check_binary_to_terminal(format, output)?;
    let engine = ctx.open().await?;
    let q = request(args).resolve(engine.project())?;
    let n = q.kpis.len();
    let progress = Progress::start(format!("computing {n} KPI{}", if n == 1 { "" } else { "s" }));
    let result = engine.compute(&q).await;
    progress.finish();
    let result = result?;
    let long = match layout {
        Layout::Wide => false,
        Layout::Long => true,
        Layout::Auto => {
            if output.is_none()
                && let Some(width) = too_wide(format, &result.schema, &result.batches, q.grain)
            {
                // Too wide for the terminal: the KPI columns in blocks that fit, each with
                // the period and dimensions.
                let keys = result.columns.iter().filter(|c| c.role != OutputRole::Kpi).count();
                let table = TextTable::new(&result.schema, &result.batches, q.grain, None)
                    .map_err(|e| CanaryError::internal(format!("table: {e}")))?;
                eprint(&format!(
                    "note: wider than the terminal ({width} columns): KPIs in blocks \
                     (--layout wide: one table; long: a row per KPI)\n"
                ));
                print(&table.to_text_within(width, keys))?;
                return Ok(ExitStatus::Success);
            }
            false
        }
    };
    if long {
        let long = canary_core::exec::long_layout(&result, engine.project())?;
        emit(&long.schema(), &[long], format, q.grain, output)?;
    } else {
        emit(&result.schema, &result.batches, format, q.grain, output)?;
    }
    Ok(ExitStatus::Success)
}
