//! What each subcommand does, and the one place errors become exit codes.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use canary_core::validate::find_project_root;
use canary_core::{CanaryError, Diagnostic, Engine, Grain, OpenOptions, Query, QueryRequest, StorageOptions};
use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};

use crate::args::{
    Cli, ColorChoice, Command, DiagFormat, Format, ImportCommand, Layout, ListWhat, MfCommand, MfQueryArgs, QueryArgs,
};
use crate::output::{self, Style};
use crate::progress::Progress;
use crate::{exit, init, report};

pub async fn run(cli: Cli, style: &Style) -> u8 {
    let result = match cli.command {
        Command::Init { dir } => init::run(&dir).map(|()| exit::OK),
        Command::Mf {
            command: MfCommand::Query(args),
        } => mf_query(args).await,
        Command::Import {
            command: ImportCommand::Metricflow { manifest, data, out },
        } => import_metricflow(&manifest, &data, &out, style).await,
        command => match project_root(cli.project.as_deref()) {
            Ok(root) => dispatch(command, &root, cli.color).await,
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(code) => code,
        Err(e) => fail(style, e),
    }
}

/// Map an error to output and an exit code; the only place that does.
fn fail(style: &Style, err: CanaryError) -> u8 {
    match err {
        CanaryError::Spec(diags) => {
            print_diagnostics(style, &diags, &mut std::io::stderr().lock());
            exit::FINDINGS
        }
        CanaryError::Query { message, hint } => {
            report(style, &message, hint.as_deref());
            exit::ERROR
        }
        other => {
            report(style, &other.to_string(), None);
            exit::ERROR
        }
    }
}

fn print_diagnostics(style: &Style, diags: &[Diagnostic], out: &mut dyn Write) {
    for d in diags {
        let _ = writeln!(
            out,
            "{}: {}[{}]: {}",
            style.location(&d.location.to_string()),
            style.error("error"),
            d.code,
            d.message
        );
        if let Some(h) = &d.hint {
            let _ = writeln!(out, "  {}: {h}", style.hint("hint"));
        }
    }
    let n = diags.len();
    let _ = writeln!(out, "{n} problem{} found", if n == 1 { "" } else { "s" });
}

async fn import_metricflow(manifest: &Path, data: &Path, out: &Path, style: &Style) -> Result<u8, CanaryError> {
    let report = canary_core::mf::write_project(manifest, data, out).await?;
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "wrote {} with {} contracts and {} KPIs",
        out.display(),
        report.products,
        report.metrics
    );
    if !report.skipped.is_empty() {
        let _ = writeln!(
            err,
            "{}: {} metrics not imported (Canary cannot compute them yet):",
            style.hint("note"),
            report.skipped.len()
        );
        for (metric, why) in &report.skipped {
            let _ = writeln!(err, "  {metric}: {why}");
        }
    }
    Ok(exit::OK)
}

async fn mf_query(args: MfQueryArgs) -> Result<u8, CanaryError> {
    check_binary_to_terminal(args.format, args.output.as_deref())?;
    let query = canary_core::mf::MfQuery {
        metrics: args.metrics,
        group_by: args.group_by,
        where_filters: args.filters,
        order_by: args.order_by,
        limit: args.limit,
        start_time: args.start_time,
        end_time: args.end_time,
        saved_query: args.saved_query,
        min_max_only: args.min_max_only,
        apply_group_by: !args.no_dedupe,
    };
    let progress = Progress::start("computing".into());
    let result = canary_core::mf::run_query(&args.manifest, &args.data, &query).await;
    progress.finish();
    let result = result?;
    emit(
        &result.schema,
        &result.batches,
        args.format,
        None,
        args.output.as_deref(),
    )?;
    Ok(exit::OK)
}

/// Object-store settings from the standard `AWS_*` environment variables.
fn storage_from_env() -> StorageOptions {
    StorageOptions::from_vars(std::env::vars())
}

pub(crate) async fn open(root: &Path) -> Result<Engine, CanaryError> {
    let options = OpenOptions {
        storage: storage_from_env(),
        ..OpenOptions::default()
    };
    Engine::open_with(root, &options).await
}

fn project_root(explicit: Option<&Path>) -> Result<PathBuf, CanaryError> {
    match explicit {
        Some(dir) => {
            if dir.join(canary_core::validate::PROJECT_FILE).is_file() {
                Ok(dir.to_path_buf())
            } else {
                Err(CanaryError::query_hint(
                    format!("`{}` holds no canary.yaml", dir.display()),
                    "create a project with `canary init DIR`",
                ))
            }
        }
        None => {
            let cwd = std::env::current_dir().map_err(|e| CanaryError::Io {
                path: ".".into(),
                source: e,
            })?;
            find_project_root(&cwd).ok_or_else(|| {
                CanaryError::query_hint(
                    "no canary.yaml here or in any parent folder",
                    "pass --project DIR, or create a project with `canary init DIR`",
                )
            })
        }
    }
}

async fn dispatch(command: Command, root: &Path, color: ColorChoice) -> Result<u8, CanaryError> {
    match command {
        Command::Init { .. } | Command::Mf { .. } | Command::Import { .. } => Ok(exit::OK),
        Command::Validate { files, format } => validate(root, &files, format, &Style::for_stdout(color)).await,
        Command::List { what, format } => {
            let engine = open(root).await?;
            let (schema, batch) = listing(&engine, what);
            emit(&schema, &[batch], format, None, None)?;
            Ok(exit::OK)
        }
        Command::Compute {
            query,
            format,
            output,
            layout,
        } => {
            check_binary_to_terminal(format, output.as_deref())?;
            let engine = open(root).await?;
            let q = build_query(&engine, &query)?;
            let progress = Progress::start(format!(
                "computing {} KPI{}",
                q.kpis.len(),
                if q.kpis.len() == 1 { "" } else { "s" }
            ));
            let result = engine.compute(&q).await;
            progress.finish();
            let result = result?;
            match layout {
                Layout::Wide => emit(&result.schema, &result.batches, format, q.grain, output.as_deref())?,
                Layout::Long => {
                    let long = canary_core::exec::long_layout(&result, engine.project())?;
                    emit(&long.schema(), &[long], format, q.grain, output.as_deref())?
                }
            }
            Ok(exit::OK)
        }
        Command::Run {
            query,
            sign_key,
            format,
            output,
        } => {
            check_binary_to_terminal(format, output.as_deref())?;
            let engine = open(root).await?;
            let published = crate::evidence::run(&engine, &query, sign_key.as_deref()).await?;
            let r = &published.result;
            emit(&r.schema, &r.batches, format, published.query.grain, output.as_deref())?;
            Ok(exit::OK)
        }
        Command::Impact { old, new, format } => crate::evidence::impact(root, &old, &new, format).await,
        Command::Evidence { command } => crate::evidence::evidence(command, root).await,
        Command::Lineage { query, format } => {
            let engine = open(root).await?;
            let q = build_query(&engine, &query)?;
            let text = crate::evidence::lineage(&engine, &q, format).await?;
            write_stdout(&text)?;
            Ok(exit::OK)
        }
        Command::Explain { query, optimized, sql } => {
            let engine = open(root).await?;
            let q = build_query(&engine, &query)?;
            let e = engine.explain(&q).await?;
            let text = if sql {
                e.sql
                    .map_err(|m| CanaryError::query(format!("this plan cannot be written as SQL: {m}")))?
            } else if optimized {
                e.optimized
            } else {
                e.logical
            };
            let mut out = std::io::stdout().lock();
            writeln!(out, "{text}").map_err(|e| io_err("stdout", e))?;
            Ok(exit::OK)
        }
    }
}

async fn validate(root: &Path, files: &[PathBuf], format: DiagFormat, style: &Style) -> Result<u8, CanaryError> {
    let options = OpenOptions {
        extra_files: files.to_vec(),
        storage: storage_from_env(),
        ..OpenOptions::default()
    };
    let (diags, summary) = match Engine::open_with(root, &options).await {
        Ok(engine) => {
            let p = engine.project();
            (
                Vec::new(),
                format!("ok: {} products, {} KPIs", p.products.len(), p.kpis.len()),
            )
        }
        Err(CanaryError::Spec(diags)) => (diags, String::new()),
        Err(other) => return Err(other),
    };
    let mut out = std::io::stdout().lock();
    match format {
        DiagFormat::Json => {
            let json = serde_json::to_string_pretty(&diags).map_err(|e| CanaryError::internal(e.to_string()))?;
            writeln!(out, "{json}").map_err(|e| io_err("stdout", e))?;
        }
        DiagFormat::Text if diags.is_empty() => {
            writeln!(out, "{summary}").map_err(|e| io_err("stdout", e))?;
        }
        DiagFormat::Text => print_diagnostics(style, &diags, &mut out),
    }
    Ok(if diags.is_empty() { exit::OK } else { exit::FINDINGS })
}

pub(crate) fn build_query(engine: &Engine, args: &QueryArgs) -> Result<Query, CanaryError> {
    request(args).resolve(engine.project())
}

/// The query the arguments ask for, as the core receives it.
pub(crate) fn request(args: &QueryArgs) -> QueryRequest {
    QueryRequest {
        kpis: args.kpis.clone(),
        grain: args.grain.clone(),
        by: args.by.clone(),
        filter: args.filter.clone(),
        from: args.from.clone(),
        to: args.to.clone(),
        tenant: args.tenant.clone(),
    }
}

pub(crate) fn emit(
    schema: &datafusion::arrow::datatypes::SchemaRef,
    batches: &[RecordBatch],
    format: Format,
    grain: Option<Grain>,
    output: Option<&Path>,
) -> Result<(), CanaryError> {
    check_binary_to_terminal(format, output)?;
    match output {
        Some(path) => canary_core::atomic::write_with(path, |f| output::write(schema, batches, format, grain, f)),
        None => {
            let mut out = std::io::stdout().lock();
            match output::write(schema, batches, format, grain, &mut out) {
                // The reader went away (`canary … | head`): not an error of ours. The
                // writers report the pipe only as text, whichever writer it was.
                Err(m) if m.contains("Broken pipe") => Ok(()),
                other => other.map_err(|m| CanaryError::Data { message: m }),
            }
        }
    }
}

/// Refuse to print Parquet to a terminal, before any work is done.
fn check_binary_to_terminal(format: Format, output: Option<&Path>) -> Result<(), CanaryError> {
    if format == Format::Parquet && output.is_none() && std::io::stdout().is_terminal() {
        return Err(CanaryError::query_hint(
            "Parquet is binary and stdout is a terminal",
            "redirect stdout to a file (or, for compute, pass --output FILE)",
        ));
    }
    Ok(())
}

/// Print to stdout; a reader that went away (`| head`) is not an error.
pub(crate) fn write_stdout(text: &str) -> Result<(), CanaryError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(|e| io_err("stdout", e)),
    }
}

pub(crate) fn io_err(path: &str, source: std::io::Error) -> CanaryError {
    CanaryError::Io {
        path: path.to_owned(),
        source,
    }
}

fn listing(engine: &Engine, what: ListWhat) -> (Arc<Schema>, RecordBatch) {
    let p = engine.project();
    let rows: (Vec<&str>, Vec<Vec<String>>) = match what {
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
            vec!["dimension", "type", "granularity", "product", "description"],
            p.products
                .values()
                .flat_map(|x| {
                    x.dimensions.iter().map(move |(n, d)| {
                        vec![
                            format!("{}.{n}", x.id),
                            d.kind.as_str().to_owned(),
                            d.granularity.map(|g| g.to_string()).unwrap_or_default(),
                            x.id.clone(),
                            d.description.clone().unwrap_or_default(),
                        ]
                    })
                })
                .collect(),
        ),
    };
    let (names, rows) = rows;
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
        .unwrap_or_else(|_| RecordBatch::new_empty(Arc::clone(&schema)));
    (schema, batch)
}
