//! `canary run KPI…`: compute, publish, record.

use std::path::Path;

use canary_core::{CanaryError, evidence};

use super::{Context, request};
use crate::ExitStatus;
use crate::args::{Format, QueryArgs};
use crate::output::{check_binary_to_terminal, emit, eprint};
use crate::progress::Progress;

pub async fn run(
    ctx: &Context,
    args: &QueryArgs,
    sign_key: Option<&Path>,
    format: Format,
    output: Option<&Path>,
) -> Result<ExitStatus, CanaryError> {
    check_binary_to_terminal(format, output)?;
    let engine = ctx.open().await?;
    let key = sign_key.map(evidence::SigningKey::read).transpose()?;
    let progress = Progress::start(format!("running {}", args.kpis.join(", ")));
    let published = evidence::publish(&engine, &request(args), ctx.env.clock.as_ref(), key.as_ref()).await;
    progress.finish();
    let published = published?;
    eprint(&format!("{}\n", published.record.summary()));
    let r = &published.result;
    emit(&r.schema, &r.batches, format, published.query.grain, output)?;
    Ok(ExitStatus::Success)
}
