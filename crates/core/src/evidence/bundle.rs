//! Exported bundles: the runs of one KPI with everything that proves them, checked offline.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::canonical::{canonical_json, sha256_hex};
use super::chain::{Checker, Verification, list, read_parquet, record_seq, short, walk_chain};
use super::record::Record;
use super::sign::VerifyingKey;
use super::store::{Head, LOG, OBJECTS, Store, record_name};
use crate::clock::Clock;
use crate::error::{CanaryError, Result};

/// The manifest of a bundle.
pub(crate) const BUNDLE_FILE: &str = "bundle.json";
const BUNDLE_FORMAT: &str = "canary-bundle/1";

/// Format of a bundle's human-readable report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    #[default]
    Markdown,
    Html,
}

impl ReportFormat {
    fn file(self) -> &'static str {
        match self {
            ReportFormat::Markdown => "report.md",
            ReportFormat::Html => "report.html",
        }
    }
}

/// Whether `dir` is (or was) an exported bundle: it holds a manifest or a report. A
/// bundle whose manifest was removed is verified as a bundle, and reported as such.
pub(crate) fn is_bundle(dir: &Path) -> bool {
    dir.join(BUNDLE_FILE).is_file()
        || [ReportFormat::Markdown, ReportFormat::Html]
            .iter()
            .any(|f| dir.join(f.file()).is_file())
}

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    pub kpi: String,
    /// Runs started at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Runs started before this instant.
    pub to: Option<DateTime<Utc>>,
    pub report: ReportFormat,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    format: String,
    kpi: String,
    from: Option<String>,
    to: Option<String>,
    created: String,
    report: ReportFormat,
    /// The log's head when the bundle was made; the bundle holds every record from the
    /// first selected one to it, so that the chain links them.
    head: Head,
    first: u64,
    /// Records of the KPI's runs in the range.
    selected: Vec<u64>,
    /// Every other file of the bundle, with its SHA-256.
    files: BTreeMap<String, String>,
}

/// Write the runs of `options.kpi` in the range, from the project's log, to the new folder
/// `out`. Returns the number of runs exported.
pub fn export(root: &Path, options: &ExportOptions, out: &Path, clock: &dyn Clock) -> Result<usize> {
    let (verification, records) = super::log_check::verify_log(root);
    if let Some(p) = verification.problems.first() {
        return Err(CanaryError::data(format!(
            "the evidence log does not verify, so it is not exported: {p}"
        )));
    }
    if out.exists() && std::fs::read_dir(out).map(|mut d| d.next().is_some()).unwrap_or(true) {
        return Err(CanaryError::query(format!(
            "`{}` exists and is not empty",
            out.display()
        )));
    }
    let store = Store::of_project(root);
    let head = verification
        .head
        .map(|(seq, hash)| Head { seq, hash })
        .ok_or_else(|| CanaryError::query("no runs recorded yet: `canary run` records them"))?;
    let in_range = |r: &Record| {
        let t = DateTime::parse_from_rfc3339(&r.time)
            .map(|t| t.with_timezone(&Utc))
            .ok();
        t.is_some_and(|t| options.from.is_none_or(|f| t >= f) && options.to.is_none_or(|e| t < e))
    };
    let selected: Vec<u64> = records
        .iter()
        .filter(|r| r.covers(&options.kpi) && in_range(r))
        .map(|r| r.seq)
        .collect();
    let Some(&first) = selected.first() else {
        return Err(CanaryError::query(format!(
            "no recorded run computed `{}` in that range",
            options.kpi
        )));
    };
    // Build in a temporary folder beside `out`, then rename: no half-written bundle.
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| super::store::io(parent, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".bundle-")
        .tempdir_in(parent)
        .map_err(|e| super::store::io(parent, e))?;
    let mut files = BTreeMap::new();
    let mut put = |rel: String, bytes: &[u8]| -> Result<()> {
        crate::atomic::write(&tmp.path().join(&rel), bytes)?;
        files.insert(rel, sha256_hex(bytes));
        Ok(())
    };
    for r in records.iter().filter(|r| r.seq >= first) {
        put(format!("{LOG}/{}", record_name(r.seq)), r.to_canonical()?.as_bytes())?;
    }
    for r in records.iter().filter(|r| selected.contains(&r.seq)) {
        let src = store.dir.join(&r.result.file.path);
        let bytes = std::fs::read(&src).map_err(|e| super::store::io(&src, e))?;
        put(r.result.file.path.clone(), &bytes)?;
        for s in &r.specs {
            let rel = format!("{OBJECTS}/{}", s.object);
            let bytes = std::fs::read(store.dir.join(&rel)).map_err(|e| super::store::io(&store.dir.join(&rel), e))?;
            put(rel, &bytes)?;
        }
    }
    let mut manifest = Manifest {
        format: BUNDLE_FORMAT.into(),
        kpi: options.kpi.clone(),
        from: options.from.map(|t| t.to_rfc3339()),
        to: options.to.map(|t| t.to_rfc3339()),
        created: clock.now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        report: options.report,
        head,
        first,
        selected: selected.clone(),
        files: BTreeMap::new(),
    };
    let chosen: Vec<&Record> = records.iter().filter(|r| selected.contains(&r.seq)).collect();
    let report = render(&manifest, &chosen, tmp.path(), options.report);
    put(options.report.file().to_owned(), report.as_bytes())?;
    manifest.files = files;
    let text =
        canonical_json(&serde_json::to_value(&manifest).map_err(|e| CanaryError::internal(e.to_string()))?) + "\n";
    crate::atomic::write(&tmp.path().join(BUNDLE_FILE), text.as_bytes())?;
    if out.exists() {
        std::fs::remove_dir(out).map_err(|e| super::store::io(out, e))?;
    }
    let kept: PathBuf = tmp.keep();
    std::fs::rename(&kept, out).map_err(|e| super::store::io(out, e))?;
    Ok(selected.len())
}

/// Files under `dir`, relative, with `/` separators.
fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    for name in list(dir) {
        let path = dir.join(&name);
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        if path.is_dir() {
            walk(&path, &rel, out);
        } else {
            out.push(rel);
        }
    }
}

/// Verify the bundle in `dir`: its manifest, the chain of its records, the selected runs'
/// results and specs, its report, and every file against the manifest, each problem blamed
/// on what changed (see [`blame`]).
pub(crate) fn verify_bundle(dir: &Path, key: Option<&VerifyingKey>) -> Verification {
    let mut c = Checker::new(dir, key);
    let Some(manifest) = read_manifest(&mut c, dir) else {
        return Verification {
            path: dir.to_path_buf(),
            bundle: true,
            records: 0,
            signed: 0,
            head: None,
            problems: c.problems,
            leftovers: Vec::new(),
        };
    };
    let mut present = Vec::new();
    walk(dir, "", &mut present);
    let files = compare_files(dir, &manifest, &present);
    // The walk ends at the last record file present: a head past it is reported by
    // check_selected, without walking every number up to it.
    let last = present
        .iter()
        .filter_map(|rel| rel.strip_prefix(&format!("{LOG}/")).and_then(record_seq))
        .max()
        .unwrap_or(manifest.first)
        .clamp(manifest.first, manifest.head.seq.max(manifest.first));
    let records = walk_chain(
        &mut c,
        manifest.first..=last,
        |seq| present.contains(&format!("{LOG}/{}", record_name(seq))),
        "bundle",
        |_, _| {},
    );
    let chosen = check_selected(&mut c, &manifest, &records);
    check_report(&mut c, dir, &manifest, &chosen);
    blame(&mut c, &manifest, &chosen, files);
    Verification {
        path: dir.to_path_buf(),
        bundle: true,
        records: records.len() as u64,
        signed: c.signed,
        head: Some((manifest.head.seq, manifest.head.hash.clone())),
        problems: c.problems,
        leftovers: c.leftovers,
    }
}

/// The manifest, if it is one (of a format this Canary reads, in canonical form).
fn read_manifest(c: &mut Checker<'_>, dir: &Path) -> Option<Manifest> {
    let bytes = std::fs::read(dir.join(BUNDLE_FILE)).unwrap_or_default();
    let manifest: Manifest = match serde_json::from_slice(&bytes) {
        Ok(m) => m,
        Err(e) => {
            c.problem(BUNDLE_FILE, None, format!("is not a bundle manifest: {e}"));
            return None;
        }
    };
    if manifest.format != BUNDLE_FORMAT {
        c.problem(
            BUNDLE_FILE,
            None,
            format!(
                "unknown bundle format `{}` (this Canary reads `{BUNDLE_FORMAT}`)",
                manifest.format
            ),
        );
    }
    let canonical = serde_json::to_value(&manifest)
        .map(|v| canonical_json(&v) + "\n")
        .unwrap_or_default();
    if canonical.as_bytes() != &bytes[..] {
        c.problem(
            BUNDLE_FILE,
            None,
            "is not in canonical form: it was edited after it was written",
        );
    }
    Some(manifest)
}

/// Where the files of a bundle and its manifest disagree.
struct FileDifferences {
    /// Present, not listed.
    unlisted: Vec<String>,
    /// Listed with another SHA-256.
    differing: Vec<String>,
    /// Listed, not present.
    missing: Vec<String>,
}

fn compare_files(dir: &Path, manifest: &Manifest, present: &[String]) -> FileDifferences {
    let mut d = FileDifferences {
        unlisted: Vec::new(),
        differing: Vec::new(),
        missing: Vec::new(),
    };
    for rel in present.iter().filter(|rel| *rel != BUNDLE_FILE) {
        match manifest.files.get(rel) {
            None => d.unlisted.push(rel.clone()),
            Some(sha) => match std::fs::read(dir.join(rel)) {
                Ok(b) if &sha256_hex(&b) == sha => {}
                _ => d.differing.push(rel.clone()),
            },
        }
    }
    d.missing = manifest
        .files
        .keys()
        .filter(|rel| !present.contains(rel))
        .cloned()
        .collect();
    d
}

/// The records lead to the head; the selected ones computed the KPI, and their results and
/// specs are as recorded. Returns the selected records.
fn check_selected<'r>(c: &mut Checker<'_>, manifest: &Manifest, records: &'r [Record]) -> Vec<&'r Record> {
    match records.last() {
        Some(last) if last.seq == manifest.head.seq && last.hash == manifest.head.hash => {}
        _ => c.problem(
            BUNDLE_FILE,
            Some(manifest.head.seq),
            "the records do not lead to the head it names",
        ),
    }
    let chosen: Vec<&Record> = records.iter().filter(|r| manifest.selected.contains(&r.seq)).collect();
    let mut named = BTreeMap::new();
    for r in &chosen {
        if !r.covers(&manifest.kpi) {
            c.problem(
                BUNDLE_FILE,
                Some(r.seq),
                format!("selects record {} which did not compute `{}`", r.seq, manifest.kpi),
            );
        }
        c.result(r);
        for s in &r.specs {
            named.entry(s.object.clone()).or_insert(r.seq);
        }
    }
    c.objects(&named, false);
    chosen
}

/// The report is rendered again from the manifest and the records and compared byte for
/// byte. A report as the manifest lists it means the manifest's own fields were changed.
fn check_report(c: &mut Checker<'_>, dir: &Path, manifest: &Manifest, chosen: &[&Record]) {
    let expected = render(manifest, chosen, dir, manifest.report);
    let report = manifest.report.file();
    let written = std::fs::read(dir.join(report)).ok();
    if written.as_deref() == Some(expected.as_bytes()) {
        return;
    }
    let as_listed = written
        .as_deref()
        .is_some_and(|b| manifest.files.get(report) == Some(&sha256_hex(b)));
    if as_listed {
        c.problem(
            BUNDLE_FILE,
            None,
            format!("its fields do not give the report `{report}` it lists: the manifest was edited"),
        );
    } else {
        c.problem(report, None, "differs from the report the records give");
    }
}

/// Blame each disagreement between the files and the manifest on the one that changed.
/// Every file a bundle should hold is also checked against the records (a record against
/// its hash and the chain, a result against its record, an object against its name, the
/// report against the records): one that passed those is as exported, so the manifest's
/// entry for it is what was changed; any other file is what changed.
fn blame(c: &mut Checker<'_>, manifest: &Manifest, chosen: &[&Record], files: FileDifferences) {
    let mut named: BTreeSet<String> = BTreeSet::new();
    named.insert(manifest.report.file().to_owned());
    for r in chosen {
        named.insert(r.result.file.path.clone());
        named.extend(r.specs.iter().map(|s| format!("{OBJECTS}/{}", s.object)));
    }
    let records = manifest.first..=manifest.head.seq;
    let expected = |rel: &str| {
        named.contains(rel)
            || rel
                .strip_prefix(&format!("{LOG}/"))
                .and_then(record_seq)
                .is_some_and(|seq| records.contains(&seq))
    };
    let edited = |what: String| format!("{what}: the manifest was edited");
    for rel in files.unlisted {
        if expected(&rel) && !c.problems.iter().any(|p| p.file == rel) {
            c.problem(
                BUNDLE_FILE,
                None,
                edited(format!("does not list `{rel}`, which the records name")),
            );
        } else {
            c.problem(&rel, None, "the manifest does not list this file");
        }
    }
    for rel in files.differing {
        if expected(&rel) && !c.problems.iter().any(|p| p.file == rel) {
            c.problem(
                BUNDLE_FILE,
                None,
                edited(format!(
                    "lists a SHA-256 of `{rel}` that is not the file's, which the records confirm"
                )),
            );
        } else {
            c.problem(&rel, None, "its SHA-256 differs from the manifest's");
        }
    }
    for rel in files.missing {
        if expected(&rel) {
            c.problem(&rel, None, "is listed in the manifest but missing");
        } else {
            c.problem(
                BUNDLE_FILE,
                None,
                edited(format!("lists `{rel}`, which the records do not name")),
            );
        }
    }
}

/// Pieces of a report, rendered as Markdown or HTML.
enum Block {
    Heading(u8, String),
    Para(String),
    Table(Vec<String>, Vec<Vec<String>>),
    Code(String),
}

fn render(manifest: &Manifest, records: &[&Record], dir: &Path, format: ReportFormat) -> String {
    let mut b = vec![
        Block::Heading(1, format!("Evidence for KPI `{}`", manifest.kpi)),
        Block::Para(format!(
            "{} run{} of `{}`, exported {}. The log's head at export: record {} (hash `{}`). \
             Check this bundle offline with `canary evidence verify DIR`.",
            records.len(),
            if records.len() == 1 { "" } else { "s" },
            manifest.kpi,
            manifest.created,
            manifest.head.seq,
            manifest.head.hash
        )),
        // Every field of the manifest shows in the report, so that none can be changed
        // without the report (whose SHA-256 the manifest lists) telling.
        Block::Para(format!(
            "Runs started {}, {}; records {} to {} of the log; selected: {}. Bundle format `{}`.",
            manifest
                .from
                .as_deref()
                .map_or("at any time".to_owned(), |t| format!("from {t}")),
            manifest
                .to
                .as_deref()
                .map_or("with no end".to_owned(), |t| format!("before {t}")),
            manifest.first,
            manifest.head.seq,
            manifest
                .selected
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            manifest.format
        )),
    ];
    for r in records {
        b.push(Block::Heading(2, format!("Run {} (record {})", r.run_id, r.seq)));
        let signed = match &r.signature {
            Some(s) => format!("signed (Ed25519, key `{}`)", short(&s.public_key)),
            None => "not signed".into(),
        };
        let q = &r.query;
        b.push(Block::Table(
            vec!["field".into(), "value".into()],
            vec![
                vec!["time".into(), r.time.clone()],
                vec![
                    "engine".into(),
                    format!(
                        "{} {}, DataFusion {}",
                        r.engine.name, r.engine.version, r.engine.datafusion
                    ),
                ],
                vec!["KPIs".into(), q.kpis.join(", ")],
                vec![
                    "grain".into(),
                    q.grain.clone().unwrap_or_else(|| "(whole range)".into()),
                ],
                vec!["by".into(), q.by.join(", ")],
                vec!["where".into(), q.filter.clone().unwrap_or_default()],
                vec![
                    "range".into(),
                    format!(
                        "{} .. {}",
                        q.from.clone().unwrap_or_default(),
                        q.to.clone().unwrap_or_default()
                    ),
                ],
                vec!["tenant".into(), q.tenant.clone().unwrap_or_default()],
                vec!["rows read".into(), r.rows_read.to_string()],
                vec![
                    "result".into(),
                    format!("{} rows, SHA-256 `{}`", r.result.rows, r.result.sha256),
                ],
                vec!["plan".into(), format!("SHA-256 `{}`", r.plan.sha256)],
                vec!["record hash".into(), format!("`{}`", r.hash)],
                vec!["previous".into(), format!("`{}`", r.prev)],
                vec!["signature".into(), signed],
            ],
        ));
        b.push(Block::Heading(3, "Specs".into()));
        b.push(Block::Table(
            ["kind", "id", "version", "file", "canonical SHA-256"]
                .map(String::from)
                .to_vec(),
            r.specs
                .iter()
                .map(|s| {
                    vec![
                        s.kind.clone(),
                        s.id.clone(),
                        s.version.clone(),
                        s.file.clone(),
                        short(&s.sha256).to_owned(),
                    ]
                })
                .collect(),
        ));
        b.push(Block::Heading(3, "Input files".into()));
        b.push(Block::Table(
            ["product", "file", "bytes", "SHA-256"].map(String::from).to_vec(),
            r.inputs
                .iter()
                .map(|i| vec![i.product.clone(), i.path.clone(), i.size.to_string(), i.sha256.clone()])
                .collect(),
        ));
        b.push(Block::Heading(3, "Result".into()));
        let table = std::fs::read(dir.join(&r.result.file.path))
            .map_err(|e| e.to_string())
            .and_then(read_parquet)
            .and_then(|(schema, batches)| {
                let grain = r.query.grain.as_deref().and_then(|g| g.parse().ok());
                crate::exec::display::TextTable::new(&schema, &batches, grain, Some(50)).map(|t| t.to_text())
            })
            .unwrap_or_else(|e| format!("(the result file cannot be read: {e})"));
        b.push(Block::Code(table));
        b.push(Block::Heading(3, "Lineage".into()));
        let lineage = serde_json::from_value::<crate::lineage::Lineage>(r.lineage.clone())
            .map(|l| crate::lineage::to_text(&l))
            .unwrap_or_else(|e| format!("(the recorded lineage cannot be read: {e})"));
        b.push(Block::Code(lineage));
        b.push(Block::Heading(3, "Plan".into()));
        b.push(Block::Code(r.plan.text.clone()));
    }
    match format {
        ReportFormat::Markdown => markdown(&b),
        ReportFormat::Html => html(&b, &manifest.kpi),
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn markdown(blocks: &[Block]) -> String {
    let mut out = String::new();
    for block in blocks {
        match block {
            Block::Heading(level, text) => {
                let _ = writeln!(out, "{} {text}\n", "#".repeat(usize::from(*level)));
            }
            Block::Para(text) => {
                let _ = writeln!(out, "{text}\n");
            }
            Block::Table(header, rows) => {
                let _ = writeln!(
                    out,
                    "| {} |",
                    header.iter().map(|h| cell(h)).collect::<Vec<_>>().join(" | ")
                );
                let _ = writeln!(out, "|{}", " --- |".repeat(header.len()));
                for row in rows {
                    let _ = writeln!(
                        out,
                        "| {} |",
                        row.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")
                    );
                }
                out.push('\n');
            }
            Block::Code(text) => {
                let _ = writeln!(out, "```text\n{}\n```\n", text.trim_end());
            }
        }
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Markdown's inline code spans as `<code>`, the rest escaped.
fn inline(s: &str) -> String {
    s.split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                format!("<code>{}</code>", escape(part))
            } else {
                escape(part)
            }
        })
        .collect()
}

fn html(blocks: &[Block], kpi: &str) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Evidence for KPI {}</title>\n\
         <style>body{{font-family:sans-serif;max-width:72em;margin:2em auto}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:2px 6px;text-align:left}}pre{{background:#f6f6f6;padding:8px;overflow:auto}}</style>\n\
         </head>\n<body>\n",
        escape(kpi)
    );
    for block in blocks {
        match block {
            Block::Heading(level, text) => {
                let _ = writeln!(out, "<h{level}>{}</h{level}>", inline(text));
            }
            Block::Para(text) => {
                let _ = writeln!(out, "<p>{}</p>", inline(text));
            }
            Block::Table(header, rows) => {
                out.push_str("<table>\n<tr>");
                for h in header {
                    let _ = write!(out, "<th>{}</th>", inline(h));
                }
                out.push_str("</tr>\n");
                for row in rows {
                    out.push_str("<tr>");
                    for c in row {
                        let _ = write!(out, "<td>{}</td>", inline(c));
                    }
                    out.push_str("</tr>\n");
                }
                out.push_str("</table>\n");
            }
            Block::Code(text) => {
                let _ = writeln!(out, "<pre>{}</pre>", escape(text.trim_end()));
            }
        }
    }
    out.push_str("</body>\n</html>\n");
    out
}
