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

pub async fn lineage(engine: &Engine, q: &Query, format: LineageFormat) -> Result<String, CanaryError> {
    let traced = engine.lineage(q).await?;
    let l = &traced.lineage;
    Ok(match format {
        LineageFormat::Text => lineage::to_text(l),
        LineageFormat::Json => pretty(&l.to_json())?,
        LineageFormat::Dot => lineage::to_dot(l),
        LineageFormat::Mermaid => lineage::to_mermaid(l),
        LineageFormat::Openlineage => {
            let ctx = OpenLineageContext::for_query(engine.project(), &q.kpis, clock()?.as_ref());
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
) -> Result<evidence::Published, CanaryError> {
    let key = sign_key.map(evidence::SigningKey::read).transpose()?;
    let request = crate::commands::request(args);
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
    Ok(published)
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

/// A contract as a `SourceFile`: a file, or `REV:PATH` read with `git show`. Also the path
/// relative to the project when the file is the project's own.
fn contract(root: &Path, arg: &str) -> Result<(canary_core::spec::SourceFile, Option<String>), CanaryError> {
    let relative = |path: &Path| -> Option<String> {
        let absolute = std::fs::canonicalize(path).ok()?;
        let root = std::fs::canonicalize(root).ok()?;
        absolute
            .strip_prefix(&root)
            .ok()
            .map(|p| p.to_string_lossy().replace('\\', "/"))
    };
    let path = Path::new(arg);
    if path.is_file() {
        let text = std::fs::read_to_string(path).map_err(|e| io_err(arg, e))?;
        let display = relative(path).unwrap_or_else(|| arg.to_owned());
        return Ok((
            canary_core::spec::SourceFile {
                display: display.clone(),
                text,
            },
            relative(path),
        ));
    }
    let Some((rev, file)) = arg.split_once(':').filter(|(rev, _)| !rev.is_empty()) else {
        return Err(CanaryError::query_hint(
            format!("`{arg}` is not a file"),
            "give a contract file, or REV:PATH for a git revision",
        ));
    };
    let spec = if file.starts_with("./") || file.starts_with('/') {
        format!("{rev}:{file}")
    } else {
        format!("{rev}:./{file}")
    };
    let out = std::process::Command::new("git")
        .args(["show", &spec])
        .output()
        .map_err(|e| io_err("git", e))?;
    if !out.status.success() {
        return Err(CanaryError::query(format!(
            "git show {spec}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let text = String::from_utf8(out.stdout).map_err(|_| CanaryError::query(format!("{spec} is not UTF-8 text")))?;
    Ok((
        canary_core::spec::SourceFile {
            display: arg.to_owned(),
            text,
        },
        relative(Path::new(file)),
    ))
}

/// `canary impact OLD NEW`.
pub async fn impact(root: &Path, old: &str, new: &str, format: DiagFormat) -> Result<u8, CanaryError> {
    let (old_file, old_in_project) = contract(root, old)?;
    let (new_file, new_in_project) = contract(root, new)?;
    let in_project = new_in_project.or(old_in_project);
    let options = canary_core::OpenOptions {
        storage: canary_core::StorageOptions::from_vars(std::env::vars()),
        ..canary_core::OpenOptions::default()
    };
    let report = lineage::impact(root, &old_file, &new_file, in_project.as_deref(), &options).await?;
    let text = match format {
        DiagFormat::Json => pretty(&serde_json::to_value(&report).map_err(|e| CanaryError::internal(e.to_string()))?)?,
        DiagFormat::Text => impact_text(&report),
    };
    write_stdout(&text)?;
    Ok(if report.breaks_kpis() { exit::FINDINGS } else { exit::OK })
}

fn impact_text(r: &lineage::ImpactReport) -> String {
    use canary_core::impact::Severity;
    let breaking = r
        .changes
        .iter()
        .filter(|c| c.change.severity == Severity::Breaking)
        .count();
    let mut s = format!(
        "{} {} -> {}: {} change{} ({breaking} breaking)\n",
        r.product,
        r.old_version,
        r.new_version,
        r.changes.len(),
        if r.changes.len() == 1 { "" } else { "s" }
    );
    for c in &r.changes {
        s.push_str(&format!(
            "  {:10} {}: {}\n",
            c.change.severity.as_str(),
            c.change.kind.as_str(),
            c.change.detail
        ));
        if !c.kpis.is_empty() {
            s.push_str(&format!("             KPIs: {}\n", c.kpis.join(", ")));
        }
        if !c.dimensions.is_empty() {
            s.push_str(&format!("             dimensions: {}\n", c.dimensions.join(", ")));
        }
    }
    for (kpi, why) in &r.untraced {
        s.push_str(&format!(
            "  note: the lineage of `{kpi}` could not be traced ({why}); counted as affected\n"
        ));
    }
    if r.breaks_kpis() {
        s.push_str("breaking changes affect KPIs\n");
    }
    s
}
