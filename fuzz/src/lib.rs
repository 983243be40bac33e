//! The fuzz targets' harnesses. Each takes the fuzzer's bytes to one front of Canary that
//! reads what other people write, and goes as deep as the input allows: a spec that
//! validates is also planned and computed; an expression is parsed, restricted, planned and
//! evaluated; a manifest is queried. Errors are expected outcomes; a panic, an abort, a hang
//! or memory out of bounds is what the fuzzer reports.
//!
//! The fixture is one `canary init` project per process (a temporary folder), with a
//! MetricFlow manifest over its table and an evidence log of two runs with an exported
//! bundle. Inputs that write files write them into a scratch copy, never into the fixture.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use canary_core::evidence::{self, ExportOptions, ReportFormat};
use canary_core::mf::{MfProject, MfQuery};
use canary_core::plan::Query;
use canary_core::validate::{Overlay, load_project_overlay};
use canary_core::{Engine, Grain, OpenOptions, QueryRequest, StorageOptions};

/// The MetricFlow manifest of the fixture's `sales` table.
const MANIFEST: &str = include_str!("manifest.yaml");

struct Fixture {
    _dir: tempfile::TempDir,
    /// The `canary init` project, with two evidence records.
    project: PathBuf,
    /// Its evidence folder, as the runs left it.
    evidence: PathBuf,
    /// A bundle exported from it.
    bundle: PathBuf,
    /// A folder holding the MetricFlow manifest.
    manifest: PathBuf,
    /// A scratch folder each input may overwrite.
    scratch: PathBuf,
    runtime: tokio::runtime::Runtime,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let project = dir.path().join("project");
        canary_core::scaffold::create_project(&project).expect("canary init");
        let manifest = dir.path().join("manifest");
        std::fs::create_dir_all(&manifest).expect("manifest folder");
        std::fs::write(manifest.join("sales.yaml"), MANIFEST).expect("manifest");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let now = canary_core::model::parse_instant("2026-01-31").expect("a date");
        let clock = canary_core::clock::FixedClock(now);
        runtime.block_on(async {
            let engine = Engine::open(&project).await.expect("the fixture opens");
            for grain in ["month", "quarter"] {
                let request = QueryRequest {
                    kpis: vec!["revenue".into(), "average_sale".into()],
                    grain: Some(grain.into()),
                    by: vec!["region".into()],
                    ..QueryRequest::default()
                };
                evidence::publish(&engine, &request, &clock, None)
                    .await
                    .expect("the fixture's runs publish");
            }
        });
        let bundle = dir.path().join("bundle");
        let options = ExportOptions {
            kpi: "revenue".into(),
            from: None,
            to: None,
            report: ReportFormat::Markdown,
        };
        evidence::export(&project, &options, &bundle, &clock).expect("the fixture's bundle exports");
        let evidence = project.join(evidence::EVIDENCE_DIR);
        let scratch = dir.path().join("scratch");
        Fixture {
            _dir: dir,
            project,
            evidence,
            bundle,
            manifest,
            scratch,
            runtime,
        }
    })
}

/// A query of every KPI the project has, by month and by `region` when it is a dimension.
fn every_kpi(engine: &Engine) -> Vec<Query> {
    let project = engine.project();
    let kpis: Vec<String> = project.kpis.keys().cloned().collect();
    let each = kpis.iter().map(|k| Query {
        kpis: vec![k.clone()],
        grain: Some(Grain::Month),
        ..Query::default()
    });
    let mut queries: Vec<Query> = each.collect();
    queries.push(Query {
        kpis,
        grain: Some(Grain::Quarter),
        by: vec!["region".into()],
        ..Query::default()
    });
    queries
}

/// Validate the fixture project with one spec file replaced by `text`, and compute every
/// KPI of what validates.
fn compute_overlay(f: &Fixture, file: &str, text: String) {
    let mut overlay = Overlay::new();
    overlay.insert(file.to_owned(), text);
    let Ok((project, origins)) = load_project_overlay(&f.project, &[], &overlay) else {
        return;
    };
    f.runtime.block_on(async {
        let Ok(engine) = Engine::from_project(project, origins, &StorageOptions::default()).await else {
            return;
        };
        for query in every_kpi(&engine) {
            let _ = engine.compute(&query).await;
        }
    });
}

/// Which spec file a YAML text replaces, by its first key.
fn spec_file(text: &str) -> &'static str {
    let first = text.trim_start();
    if first.starts_with("project:") {
        "canary.yaml"
    } else if first.starts_with("product:") {
        "products/sales.yaml"
    } else {
        "kpis/sales.yaml"
    }
}

/// The native spec reader and validator: the bytes as the project file, the product or
/// the KPI file (by their first key), then planning and execution of what validates.
pub fn spec(data: &[u8]) {
    let f = fixture();
    let text = String::from_utf8_lossy(data).into_owned();
    compute_overlay(f, spec_file(&text), text);
}

/// A user expression in each place one is written: a query's `--where`, a measure's
/// `expr`, and a KPI's `filter`; each parsed, restricted, planned and evaluated.
pub fn expr(data: &[u8]) {
    let f = fixture();
    let Ok(expression) = std::str::from_utf8(data) else {
        return;
    };
    f.runtime.block_on(async {
        let Ok(engine) = Engine::open(&f.project).await else {
            return;
        };
        let query = Query {
            kpis: vec!["revenue".into(), "average_sale".into()],
            grain: Some(Grain::Month),
            by: vec!["region".into()],
            filter: Some(expression.to_owned()),
            ..Query::default()
        };
        let _ = engine.compute(&query).await;
    });
    // A JSON string is a YAML scalar: the expression goes in verbatim, whatever it holds.
    let quoted = json_string(expression);
    let product = std::fs::read_to_string(f.project.join("products/sales.yaml")).expect("the product spec");
    compute_overlay(
        f,
        "products/sales.yaml",
        product.replace("expr: amount", &format!("expr: {quoted}")),
    );
    let kpis = std::fs::read_to_string(f.project.join("kpis/sales.yaml")).expect("the KPI specs");
    compute_overlay(
        f,
        "kpis/sales.yaml",
        kpis.replacen(
            "    measure: sales.revenue\n",
            &format!("    measure: sales.revenue\n    filter: {quoted}\n"),
            1,
        ),
    );
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\u{7f}' || c == '\u{85}' || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The MetricFlow reader and filter language: a JSON text is read as dbt's
/// `semantic_manifest.json`, a text with a `semantic_model:` or `metric:` document is added
/// to the manifest folder, anything else is a `where` filter on the fixture's manifest.
/// What opens is queried.
pub fn mf(data: &[u8]) {
    let f = fixture();
    let text = String::from_utf8_lossy(data).into_owned();
    let head = text.trim_start();
    let (manifest, filters) = if head.starts_with('{') {
        reset(&f.scratch);
        let file = f.scratch.join("semantic_manifest.json");
        std::fs::write(&file, &text).expect("scratch");
        (file, Vec::new())
    } else if ["semantic_model:", "metric:", "saved_query:", "project_configuration:"]
        .iter()
        .any(|k| text.contains(k))
    {
        reset(&f.scratch);
        std::fs::write(f.scratch.join("sales.yaml"), MANIFEST).expect("scratch");
        std::fs::write(f.scratch.join("fuzz.yaml"), &text).expect("scratch");
        (f.scratch.clone(), Vec::new())
    } else {
        (f.manifest.clone(), vec![text])
    };
    let data_dir = f.project.join("data");
    f.runtime.block_on(async {
        let Ok(project) = MfProject::open(&manifest, &data_dir).await else {
            return;
        };
        let metrics: Vec<String> = project.imported.kpis.iter().map(|k| k.id.clone()).take(8).collect();
        for group_by in [vec!["metric_time__month".to_owned()], vec!["sale__region".to_owned()]] {
            let query = MfQuery {
                metrics: metrics.clone(),
                group_by,
                where_filters: filters.clone(),
                ..MfQuery::default()
            };
            let _ = project.query(&query).await;
        }
    });
}

/// The evidence reader: a copy of the fixture's log or bundle with one file replaced or
/// patched, then verified. Byte 0 picks the folder (log or bundle) and the file; bit 7 of
/// byte 1 replaces the file with the rest of the input, else the rest is patches
/// (`offset: u16 LE, length: u8, bytes`) on the real file, so the fuzzer starts from a log
/// that verifies and explores what is almost valid.
pub fn evidence(data: &[u8]) {
    let f = fixture();
    let [pick, mode, rest @ ..] = data else {
        return;
    };
    let source = if pick & 0x80 == 0 { &f.evidence } else { &f.bundle };
    reset(&f.scratch);
    copy_tree(source, &f.scratch);
    let mut files = Vec::new();
    list_files(&f.scratch, &mut files);
    files.sort();
    if files.is_empty() {
        return;
    }
    let file = &files[usize::from(pick & 0x7f) % files.len()];
    let bytes = if mode & 0x80 != 0 {
        rest.to_vec()
    } else {
        patch(std::fs::read(file).expect("scratch"), rest)
    };
    std::fs::write(file, bytes).expect("scratch");
    if let Ok(verification) = evidence::verify(&f.scratch, None) {
        let _ = verification.to_text();
        let _ = verification.to_json();
    }
}

/// Parquet bytes through the catalog: the bytes replace the fixture's table (bit 7 of byte
/// 0 set: the real file with the rest of the input as patches, as for `evidence`), then
/// `validate`, and every KPI is computed when it passes.
pub fn parquet(data: &[u8]) {
    let f = fixture();
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    let table = std::fs::read(f.project.join("data/sales.parquet")).expect("the fixture's table");
    let bytes = if mode & 0x80 != 0 {
        patch(table, rest)
    } else {
        data.to_vec()
    };
    reset(&f.scratch);
    for file in ["canary.yaml", "products/sales.yaml", "kpis/sales.yaml"] {
        let to = f.scratch.join(file);
        std::fs::create_dir_all(to.parent().expect("a folder")).expect("scratch");
        std::fs::copy(f.project.join(file), to).expect("scratch");
    }
    std::fs::create_dir_all(f.scratch.join("data")).expect("scratch");
    std::fs::write(f.scratch.join("data/sales.parquet"), bytes).expect("scratch");
    f.runtime.block_on(async {
        match Engine::validate(&f.scratch, &OpenOptions::default()).await {
            Ok(v) if v.ok() => {}
            _ => return,
        }
        let Ok(engine) = Engine::open(&f.scratch).await else {
            return;
        };
        for query in every_kpi(&engine) {
            let _ = engine.compute(&query).await;
        }
    });
}

/// `bytes` with patches `offset: u16 LE, length: u8, bytes` applied (offsets wrap).
fn patch(mut bytes: Vec<u8>, mut patches: &[u8]) -> Vec<u8> {
    while let [lo, hi, len, rest @ ..] = patches {
        let n = usize::from(*len).min(rest.len());
        if !bytes.is_empty() {
            let at = usize::from(u16::from_le_bytes([*lo, *hi])) % bytes.len();
            for (i, b) in rest[..n].iter().enumerate() {
                if let Some(slot) = bytes.get_mut(at + i) {
                    *slot = *b;
                } else {
                    bytes.push(*b);
                }
            }
        }
        patches = &rest[n..];
    }
    bytes
}

fn reset(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("scratch");
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("fixture").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).expect("scratch");
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("scratch");
        }
    }
}

fn list_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("scratch").flatten() {
        let path = entry.path();
        if path.is_dir() {
            list_files(&path, out);
        } else {
            out.push(path);
        }
    }
}
