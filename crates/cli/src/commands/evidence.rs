//! `canary evidence verify|log|export|replay|keygen`.

use canary_core::{CanaryError, evidence};

use super::Context;
use crate::ExitStatus;
use crate::args::{DiagFormat, EvidenceCommand, ReportArg};
use crate::output::{eprint, print};
use crate::progress::Progress;

pub async fn run(ctx: &Context, command: EvidenceCommand) -> Result<ExitStatus, CanaryError> {
    match command {
        EvidenceCommand::Verify { path, key, format } => {
            let key = key.as_deref().map(evidence::VerifyingKey::read).transpose()?;
            let target = match path {
                Some(p) => p,
                None => ctx.root()?,
            };
            let v = evidence::verify(&target, key.as_ref())?;
            print(&match format {
                DiagFormat::Json => v.to_json(),
                DiagFormat::Text => v.to_text(),
            })?;
            Ok(if v.ok() {
                ExitStatus::Success
            } else {
                ExitStatus::Findings
            })
        }
        EvidenceCommand::Log { format } => {
            let records = evidence::Store::of_project(&ctx.root()?).records()?;
            print(&match format {
                DiagFormat::Json => evidence::log_json(&records),
                DiagFormat::Text => evidence::log_text(&records),
            })?;
            Ok(ExitStatus::Success)
        }
        EvidenceCommand::Export {
            kpi,
            from,
            to,
            report,
            out,
        } => {
            let instant = |s: Option<String>| {
                s.map(|s| canary_core::model::parse_instant(&s).map_err(CanaryError::query))
                    .transpose()
            };
            let options = evidence::ExportOptions {
                kpi,
                from: instant(from)?,
                to: instant(to)?,
                report: match report {
                    ReportArg::Markdown => evidence::ReportFormat::Markdown,
                    ReportArg::Html => evidence::ReportFormat::Html,
                },
            };
            let n = evidence::export(&ctx.root()?, &options, &out, ctx.env.clock.as_ref())?;
            eprint(&format!(
                "exported {n} run{} to {}\n",
                if n == 1 { "" } else { "s" },
                out.display()
            ));
            Ok(ExitStatus::Success)
        }
        EvidenceCommand::Replay { run } => {
            let engine = ctx.open().await?;
            let progress = Progress::start(format!("replaying {run}"));
            let replay = evidence::replay(&engine, &run).await;
            progress.finish();
            let replay = replay?;
            print(&replay.to_text())?;
            Ok(if replay.matches() {
                ExitStatus::Success
            } else {
                ExitStatus::Findings
            })
        }
        EvidenceCommand::Keygen { key } => {
            let public = evidence::write_key_pair(&key)?;
            eprint(&format!(
                "wrote {} (private: keep it secret) and {} (public key {})\n",
                key.display(),
                public.path.display(),
                &public.hex[..12]
            ));
            Ok(ExitStatus::Success)
        }
    }
}
