//! `canary explain KPI… [--optimized | --sql]`.

use canary_core::CanaryError;

use super::{Context, request};
use crate::ExitStatus;
use crate::args::QueryArgs;
use crate::output::print;

pub async fn run(ctx: &Context, args: &QueryArgs, optimized: bool, sql: bool) -> Result<ExitStatus, CanaryError> {
    let engine = ctx.open().await?;
    let q = request(args).resolve(engine.project())?;
    let e = engine.explain(&q).await?;
    let text = if sql {
        e.sql
            .map_err(|m| CanaryError::query(format!("this plan cannot be written as SQL: {m}")))?
    } else if optimized {
        e.optimized
    } else {
        e.logical
    };
    print(&format!("{text}\n"))?;
    Ok(ExitStatus::Success)
}
