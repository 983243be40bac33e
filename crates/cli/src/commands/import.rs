//! `canary import metricflow MANIFEST --data DIR --out DIR`.

use canary_core::CanaryError;
use canary_core::diagnostic::Highlight;

use super::Context;
use crate::ExitStatus;
use crate::args::ImportCommand;
use crate::output::eprint;

pub async fn run(ctx: &Context, command: ImportCommand) -> Result<ExitStatus, CanaryError> {
    let ImportCommand::Metricflow { manifest, data, out } = command;
    let report = canary_core::mf::write_project(&manifest, &data, &out).await?;
    let mut text = format!(
        "wrote {} with {} contracts and {} KPIs\n",
        out.display(),
        report.products,
        report.metrics
    );
    if !report.skipped.is_empty() {
        text.push_str(&format!(
            "{}: {} metrics not imported (Canary cannot compute them yet):\n",
            ctx.style.hint("note"),
            report.skipped.len()
        ));
        for (metric, why) in &report.skipped {
            text.push_str(&format!("  {metric}: {why}\n"));
        }
    }
    eprint(&text);
    Ok(ExitStatus::Success)
}
