//! `canary-conformance`: MetricFlow's own integration cases, run through Canary.
//!
//! Converts the suite's table snapshots to Parquet, computes each case's expected result by
//! rendering its Jinja `check_query` and running it in DataFusion, runs the case through
//! `canary_core::mf::run_query`, and compares. Prints `FAIL <file>::<case>: <reason>` for each
//! failing case, then `N passed, M failed`.
//!
//! The cases that must pass are listed, one id a line, in `crates/conformance/passing/`
//! (one file per form of the manifest): a listed case that stops passing fails the run,
//! whatever else newly passes. `--update-passing` rewrites the list from a full run.
//!
//! Exit codes: 0 when every listed case passed, 1 when one did not, 2 on a harness error.

mod compare;
mod engine;
mod error;
mod import_check;
mod render;
mod runner;
mod snapshot;
mod suite;

use std::collections::BTreeSet;
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use clap::Parser;

use crate::error::{HarnessError, Result};
use crate::runner::{Mode, Outcome, Runner, one_line};

/// The repository root (this crate is `crates/conformance`).
const REPO_ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
/// The lists of cases that pass, one file per mode.
const PASSING_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/passing");

/// Run MetricFlow's integration cases through Canary and compare each result with the
/// case's own check query, computed by DataFusion over the same tables.
#[derive(Debug, Parser)]
#[command(name = "canary-conformance", version)]
struct Args {
    /// The suite [default: ../shared/conformance/metricflow beside the repository]
    #[arg(long, value_name = "DIR")]
    suite: Option<PathBuf>,
    /// Where the snapshots are written as Parquet [default: target/conformance-data]
    #[arg(long, value_name = "DIR")]
    data_out: Option<PathBuf>,
    /// Rewrite the list of passing cases (crates/conformance/passing/) from this run; only
    /// without --filter
    #[arg(long)]
    update_passing: bool,
    /// Run only cases whose `<file>::<name>` contains this text
    #[arg(long, value_name = "SUBSTR")]
    filter: Option<String>,
    /// Also print passing (and skipped) cases, with timings
    #[arg(long)]
    verbose: bool,
    /// Compare each check query with a second run of itself instead of the engine: checks
    /// that every check query renders and runs, and that the harness compares reliably
    #[arg(long)]
    self_check: bool,
    /// Give SIMPLE_MODEL's manifest as dbt's compiled semantic_manifest.json
    /// (`dbt/simple_manifest/`) instead of MetricFlow's YAML.
    #[arg(long)]
    dbt_json: bool,
    /// Give SIMPLE_MODEL's manifest as the dbt project's property file
    /// (`dbt/simple_manifest/schema.yml`).
    #[arg(long)]
    dbt_yaml: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let code = match run(&args) {
        Ok(code) => code,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "canary-conformance: error: {error}");
            2
        }
    };
    let _ = std::io::stdout().flush();
    ExitCode::from(code)
}

fn run(args: &Args) -> Result<u8> {
    let started = Instant::now();
    let root = Path::new(REPO_ROOT)
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from(REPO_ROOT));
    let suite = args
        .suite
        .clone()
        .unwrap_or_else(|| root.join("../shared/conformance/metricflow"));
    if !suite.join("test_cases").is_dir() || !suite.join("source_table_snapshots").is_dir() {
        return Err(HarnessError::SuiteMissing(suite));
    }
    let data_out = args
        .data_out
        .clone()
        .unwrap_or_else(|| root.join("target/conformance-data"));
    if args.update_passing && args.filter.is_some() {
        return Err(HarnessError::suite(
            PASSING_DIR,
            "--update-passing needs a run of every case (no --filter)",
        ));
    }
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr();

    let conversion = snapshot::convert_all(&suite, &data_out)?;
    let _ = writeln!(
        err,
        "tables: {} ({} converted, {} up to date) in {} in {:.2} s",
        conversion.tables.len(),
        conversion.converted,
        conversion.up_to_date,
        data_out.display(),
        started.elapsed().as_secs_f64()
    );
    let cases: Vec<_> = suite::load_cases(&suite)?
        .into_iter()
        .filter(|c| args.filter.as_deref().is_none_or(|f| c.id().contains(f)))
        .collect();
    let mode = match (args.self_check, args.dbt_json, args.dbt_yaml) {
        (true, ..) => Mode::SelfCheck,
        (false, true, _) => Mode::DbtJson,
        (false, false, true) => Mode::DbtYaml,
        (false, false, false) => Mode::Engine,
    };
    let runner = Runner::new(&suite, &data_out, &conversion.tables, mode)?;

    let cases_started = Instant::now();
    let tally = run_cases(&runner, &cases, args.verbose, &mut out)?;
    let _ = writeln!(
        err,
        "{} cases{} in {:.2} s; total {:.2} s",
        cases.len(),
        if args.self_check { " (self-check)" } else { "" },
        cases_started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    let listed_ok = match mode.passing_file() {
        Some(file) => {
            let ran: BTreeSet<String> = cases.iter().map(|c| c.id()).collect();
            check_passing(
                args,
                mode,
                &Path::new(PASSING_DIR).join(file),
                &ran,
                &tally.passing,
                &mut out,
            )?
        }
        None => true,
    };
    writeln!(out, "{}", tally.summary()).map_err(|e| HarnessError::io("stdout", e))?;
    let import_ok = if args.filter.is_none() && mode == Mode::Engine {
        check_import(
            &suite.join("semantic_manifest_yamls/simple_manifest"),
            &data_out,
            &mut out,
        )?
    } else {
        true
    };
    Ok(if listed_ok && import_ok { 0 } else { 1 })
}

/// What a run of the cases gave.
struct Tally {
    passed: usize,
    failed: usize,
    skipped: usize,
    /// The ids of the cases that passed.
    passing: Vec<String>,
}

impl Tally {
    /// `N passed, M failed` (`, K skipped`).
    fn summary(&self) -> String {
        let (passed, failed, skipped) = (self.passed, self.failed, self.skipped);
        if skipped > 0 {
            format!("{passed} passed, {failed} failed, {skipped} skipped")
        } else {
            format!("{passed} passed, {failed} failed")
        }
    }
}

/// Run every case, printing `FAIL` lines (and with `verbose` `PASS` and `SKIP` lines); a
/// case that panics fails.
fn run_cases(runner: &Runner, cases: &[suite::LoadedCase], verbose: bool, out: &mut dyn Write) -> Result<Tally> {
    let mut tally = Tally {
        passed: 0,
        failed: 0,
        skipped: 0,
        passing: Vec::new(),
    };
    install_panic_hook();
    for loaded in cases {
        let case_started = Instant::now();
        take_panic_message();
        let outcome = catch_unwind(AssertUnwindSafe(|| runner.run(loaded))).unwrap_or_else(|_| {
            let message = take_panic_message().unwrap_or_else(|| "unknown panic".to_owned());
            Outcome::Fail(format!("panicked: {message}"))
        });
        let took = case_started.elapsed().as_millis();
        let id = loaded.id();
        let written = match outcome {
            Outcome::Pass(rows) => {
                tally.passed += 1;
                tally.passing.push(id.clone());
                if verbose {
                    writeln!(out, "PASS {id} ({rows} rows, {took} ms)")
                } else {
                    Ok(())
                }
            }
            Outcome::Fail(reason) => {
                tally.failed += 1;
                writeln!(out, "FAIL {id}: {}", one_line(&reason))
            }
            Outcome::Skip(reason) => {
                tally.skipped += 1;
                if verbose {
                    writeln!(out, "SKIP {id}: {reason}")
                } else {
                    Ok(())
                }
            }
        };
        written.map_err(|e| HarnessError::io("stdout", e))?;
    }
    // Panics outside the cases are reported as usual again.
    drop(std::panic::take_hook());
    Ok(tally)
}

/// Compare the cases that passed with the list at `path`: every listed case that ran must
/// have passed (`REGRESSED`), and a full run must find every listed case (`MISSING`); new
/// passes are noted. With `--update-passing`, the list is rewritten instead. Whether the
/// list holds.
fn check_passing(
    args: &Args,
    mode: Mode,
    path: &Path,
    ran: &BTreeSet<String>,
    passing: &[String],
    out: &mut dyn Write,
) -> Result<bool> {
    let mut err = std::io::stderr();
    if args.update_passing {
        let mut ids = passing.to_vec();
        ids.sort();
        let flag = match mode {
            Mode::DbtJson => " --dbt-json",
            Mode::DbtYaml => " --dbt-yaml",
            Mode::Engine | Mode::SelfCheck => "",
        };
        let mut text = format!(
            "# The cases that pass, one id a line: a listed case that stops passing fails the run.\n\
             # Written by `cargo run -p canary-conformance --{flag} --update-passing`.\n"
        );
        text.extend(ids.iter().map(|id| format!("{id}\n")));
        std::fs::write(path, text).map_err(|e| HarnessError::io(path, e))?;
        let _ = writeln!(err, "wrote {} passing cases to {}", ids.len(), path.display());
        return Ok(true);
    }
    let listed = read_passing(path)?;
    let mut holds = true;
    for id in &listed {
        let line = if !ran.contains(id) {
            // A filtered run does not run every listed case.
            if args.filter.is_some() {
                continue;
            }
            format!("MISSING {id}: listed as passing, but the suite has no such case")
        } else if !passing.contains(id) {
            format!("REGRESSED {id}: listed as passing")
        } else {
            continue;
        };
        holds = false;
        writeln!(out, "{line}").map_err(|e| HarnessError::io("stdout", e))?;
    }
    let new = passing.iter().filter(|id| !listed.contains(id)).count();
    if new > 0 {
        let _ = writeln!(
            err,
            "note: {new} cases pass that {} does not list (add them with --update-passing)",
            path.display()
        );
    }
    Ok(holds)
}

/// `canary import metricflow` on simple_manifest: the native project answers as `mf query`
/// does. Whether it does.
fn check_import(manifest: &Path, data: &Path, out: &mut dyn Write) -> Result<bool> {
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| HarnessError::io("tokio runtime", e))?;
    let stdout = |e| HarnessError::io("stdout", e);
    match import_check::check(&runtime, manifest, data) {
        Ok(report) => {
            for f in &report.failures {
                writeln!(out, "FAIL import: {}", one_line(f)).map_err(stdout)?;
            }
            writeln!(
                out,
                "import check: {} metrics of simple_manifest, compute vs mf query by day and in total: {} differences ({:.2} s)",
                report.metrics,
                report.failures.len(),
                started.elapsed().as_secs_f64()
            )
            .map_err(stdout)?;
            Ok(report.failures.is_empty())
        }
        Err(e) => {
            writeln!(out, "FAIL import: {}", one_line(&e)).map_err(stdout)?;
            Ok(false)
        }
    }
}

/// The case ids listed in `path`, one a line (blank lines and `#` comments skipped).
fn read_passing(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| HarnessError::io(path, e))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect())
}

/// The last panic's message and location: a case that panics is reported, not printed.
static PANIC_MESSAGE: Mutex<Option<String>> = Mutex::new(None);

fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let mut last = PANIC_MESSAGE.lock().unwrap_or_else(PoisonError::into_inner);
        *last = Some(info.to_string());
    }));
}

fn take_panic_message() -> Option<String> {
    PANIC_MESSAGE.lock().unwrap_or_else(PoisonError::into_inner).take()
}
