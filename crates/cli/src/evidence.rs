//! Lineage, evidence and impact: the governance commands.

use std::io::Write;
use std::path::Path;

use canary_core::clock::{Clock, FixedClock, SystemClock};
use canary_core::evidence;
use canary_core::lineage::{self, OpenLineageContext};
use canary_core::{CanaryError, Engine, Query};

use crate::args::{DiagFormat, EvidenceCommand, LineageFormat, ReportArg};
use crate::commands::{io_err, write_stdout};
use crate::exit;
use crate::progress::Progress;

/// The clock: `CANARY_NOW` (RFC 3339 or a date, UTC) when set, for reproducible runs;
/// otherwise the system's.
pub fn clock() -> Result<Box<dyn Clock>, CanaryError> {
    match std::env::var("CANARY_NOW") {
        Ok(s) if !s.is_empty() => {
            let at = canary_core::model::parse_instant(&s)
                .map_err(|e| CanaryError::query_hint(format!("CANARY_NOW: {e}"), "unset it to use the system clock"))?;
            Ok(Box::new(FixedClock(at)))
        }
        _ => Ok(Box::new(SystemClock)),
    }
}

/// Name of a query's job and result dataset in OpenLineage: its KPI ids.
pub fn job_name(q: &Query) -> String {
    q.kpis.join(",")
}

pub async fn lineage(engine: &Engine, q: &Query, format: LineageFormat) -> Result<String, CanaryError> {
    let traced = engine.lineage(q).await?;
    let l = &traced.lineage;
    Ok(match format {
        LineageFormat::Text => lineage::to_text(l),
        LineageFormat::Json => pretty(&l.to_json())?,
        LineageFormat::Dot => lineage::to_dot(l),
        LineageFormat::Mermaid => lineage::to_mermaid(l),
        LineageFormat::Openlineage => {
            let now = clock()?.now();
            let ctx = OpenLineageContext {
                run_id: canary_core::clock::run_id(now),
                time: now,
                namespace: format!("canary://{}", engine.project().name),
                name: job_name(q),
            };
            let mut out = String::new();
            for event in lineage::to_openlineage(l, engine.project(), &ctx, &traced.output_schema()) {
                out.push_str(&serde_json::to_string(&event).map_err(|e| CanaryError::internal(e.to_string()))?);
                out.push('\n');
            }
            out
        }
    })
}

fn pretty(v: &serde_json::Value) -> Result<String, CanaryError> {
    serde_json::to_string_pretty(v)
        .map(|s| s + "\n")
        .map_err(|e| CanaryError::internal(e.to_string()))
}

/// `canary run`: compute, publish, record.
pub async fn run(
    engine: &Engine,
    args: &crate::args::QueryArgs,
    sign_key: Option<&std::path::Path>,
) -> Result<(evidence::Published, Option<canary_core::Grain>), CanaryError> {
    let key = sign_key.map(evidence::SigningKey::read).transpose()?;
    let request = crate::commands::request(args);
    let grain = request.resolve(engine.project())?.grain;
    let clock = clock()?;
    let progress = Progress::start(format!("running {}", args.kpis.join(", ")));
    let published = evidence::publish(engine, &request, clock.as_ref(), key.as_ref()).await;
    progress.finish();
    let published = published?;
    let r = &published.record;
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "recorded run {} as record {} ({} rows, result {}, record {}{})",
        r.run_id,
        r.seq,
        r.result.rows,
        &r.result.sha256[..12],
        &r.hash[..12],
        if r.signature.is_some() { ", signed" } else { "" }
    );
    Ok((published, grain))
}

pub async fn evidence(command: EvidenceCommand, root: &Path) -> Result<u8, CanaryError> {
    match command {
        EvidenceCommand::Verify { path, key, format } => {
            let key = key.as_deref().map(evidence::VerifyingKey::read).transpose()?;
            let target = path.unwrap_or_else(|| root.to_path_buf());
            let v = evidence::verify(&target, key.as_ref())?;
            let text = match format {
                DiagFormat::Json => {
                    pretty(&serde_json::to_value(&v).map_err(|e| CanaryError::internal(e.to_string()))?)?
                }
                DiagFormat::Text => verification_text(&v),
            };
            write_stdout(&text)?;
            Ok(if v.ok() { exit::OK } else { exit::FINDINGS })
        }
        EvidenceCommand::Log { format } => {
            let records = evidence::Store::of_project(root).records()?;
            let text = match format {
                DiagFormat::Json => {
                    let rows: Vec<serde_json::Value> = records
                        .iter()
                        .map(|r| {
                            serde_json::json!({
                                "seq": r.seq, "run_id": r.run_id, "time": r.time, "kpis": r.query.kpis,
                                "rows": r.result.rows, "result_sha256": r.result.sha256, "hash": r.hash,
                                "signed": r.signature.is_some(),
                            })
                        })
                        .collect();
                    pretty(&serde_json::Value::Array(rows))?
                }
                DiagFormat::Text => {
                    let mut s = String::new();
                    for r in &records {
                        s.push_str(&format!(
                            "{:>4}  {}  {}  {}  {} rows  {}{}\n",
                            r.seq,
                            r.run_id,
                            r.time,
                            r.query.kpis.join(","),
                            r.result.rows,
                            &r.hash[..12],
                            if r.signature.is_some() { "  signed" } else { "" }
                        ));
                    }
                    if records.is_empty() {
                        s.push_str("no runs recorded (`canary run` records them)\n");
                    }
                    s
                }
            };
            write_stdout(&text)?;
            Ok(exit::OK)
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
            let n = evidence::export(root, &options, &out, clock()?.as_ref())?;
            let mut err = std::io::stderr().lock();
            let _ = writeln!(
                err,
                "exported {n} run{} to {}",
                if n == 1 { "" } else { "s" },
                out.display()
            );
            Ok(exit::OK)
        }
        EvidenceCommand::Replay { run } => {
            let engine = crate::commands::open(root).await?;
            let progress = Progress::start(format!("replaying {run}"));
            let replay = evidence::replay(&engine, &run).await;
            progress.finish();
            let replay = replay?;
            let r = &replay.record;
            let (text, code) = match &replay.outcome {
                evidence::ReplayOutcome::Matches => (
                    format!(
                        "run {} (record {}) replayed: {} input files and {} specs unchanged, result hash matches ({})\n",
                        r.run_id,
                        r.seq,
                        r.inputs.len(),
                        r.specs.len(),
                        r.result.sha256
                    ),
                    exit::OK,
                ),
                evidence::ReplayOutcome::InputsChanged(changes) => {
                    let mut s = format!(
                        "run {} (record {}) cannot be replayed: its inputs changed\n",
                        r.run_id, r.seq
                    );
                    for c in changes {
                        s.push_str(&format!("  {c}\n"));
                    }
                    (s, exit::FINDINGS)
                }
                evidence::ReplayOutcome::ResultDiffers { recorded, recomputed } => (
                    format!(
                        "run {} (record {}): same inputs, different result: recorded {recorded}, recomputed {recomputed}\n",
                        r.run_id, r.seq
                    ),
                    exit::FINDINGS,
                ),
            };
            write_stdout(&text)?;
            Ok(code)
        }
        EvidenceCommand::Keygen { key } => {
            let k = evidence::generate_key()?;
            let public = key.with_extension(match key.extension() {
                Some(e) => format!("{}.pub", e.to_string_lossy()),
                None => "pub".into(),
            });
            for path in [&key, &public] {
                if path.exists() {
                    return Err(CanaryError::query(format!(
                        "`{}` exists; not overwritten",
                        path.display()
                    )));
                }
            }
            write_private(&key, &k.to_pem()?)?;
            std::fs::write(&public, k.verifying_key().to_pem()?)
                .map_err(|e| io_err(&public.display().to_string(), e))?;
            let mut err = std::io::stderr().lock();
            let _ = writeln!(
                err,
                "wrote {} (private: keep it secret) and {} (public key {})",
                key.display(),
                public.display(),
                &k.verifying_key().hex()[..12]
            );
            Ok(exit::OK)
        }
    }
}

fn write_private(path: &Path, text: &str) -> Result<(), CanaryError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path).map_err(|e| io_err(&path.display().to_string(), e))?;
    f.write_all(text.as_bytes())
        .map_err(|e| io_err(&path.display().to_string(), e))
}

fn verification_text(v: &evidence::Verification) -> String {
    let what = if v.bundle { "bundle" } else { "evidence log" };
    let mut s = String::new();
    if v.ok() {
        s.push_str(&format!(
            "ok: {what} {} verifies: {} record{} ({} signed)",
            v.path.display(),
            v.records,
            if v.records == 1 { "" } else { "s" },
            v.signed
        ));
        if let Some((seq, hash)) = &v.head {
            s.push_str(&format!(", head record {seq} {hash}"));
        }
        s.push('\n');
        return s;
    }
    s.push_str(&format!(
        "FAILED: {what} {} does not verify: {} problem{}\n",
        v.path.display(),
        v.problems.len(),
        if v.problems.len() == 1 { "" } else { "s" }
    ));
    for p in &v.problems {
        s.push_str(&format!("  {p}\n"));
    }
    s
}
