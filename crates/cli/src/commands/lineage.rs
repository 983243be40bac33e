//! `canary lineage KPI… [--format …]`.

use canary_core::CanaryError;
use canary_core::lineage::{LineageFormat, render};

use super::{Context, request};
use crate::ExitStatus;
use crate::args::{LineageArg, QueryArgs};
use crate::output::print;

pub async fn run(ctx: &Context, args: &QueryArgs, format: LineageArg) -> Result<ExitStatus, CanaryError> {
    let engine = ctx.open().await?;
    let q = request(args).resolve(engine.project())?;
    let traced = engine.lineage(&q).await?;
    let format = match format {
        LineageArg::Text => LineageFormat::Text,
        LineageArg::Json => LineageFormat::Json,
        LineageArg::Openlineage => LineageFormat::OpenLineage,
        LineageArg::Dot => LineageFormat::Dot,
        LineageArg::Mermaid => LineageFormat::Mermaid,
    };
    print(&render(
        &traced.lineage,
        &traced.output_schema(),
        engine.project(),
        &q.kpis,
        format,
        ctx.env.clock.as_ref(),
    ))?;
    Ok(ExitStatus::Success)
}
