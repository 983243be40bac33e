//! `canary impact OLD NEW`.

use canary_core::CanaryError;
use canary_core::impact::impact_of;

use super::Context;
use crate::ExitStatus;
use crate::args::DiagFormat;
use crate::output::print;

pub async fn run(ctx: &Context, old: &str, new: &str, format: DiagFormat) -> Result<ExitStatus, CanaryError> {
    let report = impact_of(&ctx.root()?, old, new, &ctx.env.open_options()).await?;
    print(&match format {
        DiagFormat::Json => report.to_json(),
        DiagFormat::Text => report.to_text(),
    })?;
    Ok(if report.breaks_kpis() {
        ExitStatus::Findings
    } else {
        ExitStatus::Success
    })
}
