//! Evidence: runs recorded in the hash-chained log; verification detects every change to
//! what Canary wrote; replay proves a result or names the input that changed.

use std::path::{Path, PathBuf};

use canary_core::clock::FixedClock;
use canary_core::evidence::{self, ExportOptions, ReplayOutcome, ReportFormat, Store};
use canary_core::{Engine, QueryRequest};

use crate::fixture;

fn request(kpis: &[&str], grain: Option<&str>) -> QueryRequest {
    QueryRequest {
        kpis: kpis.iter().map(|s| s.to_string()).collect(),
        grain: grain.map(str::to_owned),
        tenant: Some("a".into()),
        ..QueryRequest::default()
    }
}

fn clock(day: u32) -> FixedClock {
    FixedClock(
        chrono::DateTime::parse_from_rfc3339(&format!("2026-01-{day:02}T08:00:00Z"))
            .expect("time")
            .to_utc(),
    )
}

/// A fixture project with four runs recorded: the third signed.
async fn recorded() -> (tempfile::TempDir, Engine, evidence::SigningKey) {
    let dir = tempfile::tempdir().expect("tempdir");
    fixture::create(dir.path());
    let engine = Engine::open(dir.path()).await.expect("open");
    let key = evidence::generate_key().expect("key");
    let runs: [(&[&str], Option<&str>); 4] = [
        (&["revenue", "orders"], Some("month")),
        (&["aov"], None),
        (&["closing_balance"], Some("month")),
        (&["revenue_30d", "visit_conversion"], Some("month")),
    ];
    for (i, (kpis, grain)) in runs.into_iter().enumerate() {
        let signing = (i == 2).then_some(&key);
        evidence::publish(&engine, &request(kpis, grain), &clock(i as u32 + 1), signing)
            .await
            .unwrap_or_else(|e| panic!("run {i}: {e}"));
    }
    (dir, engine, key)
}

fn files(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).expect("dir").flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        if e.path().is_dir() {
            files(&e.path(), &rel, out);
        } else {
            out.push(rel);
        }
    }
}

fn copy(from: &Path, to: &Path) {
    let mut all = Vec::new();
    files(from, "", &mut all);
    for rel in all {
        let target = to.join(&rel);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        std::fs::copy(from.join(&rel), target).expect("copy");
    }
}

#[tokio::test]
async fn runs_are_recorded_chained_and_verify() {
    let (dir, _engine, key) = recorded().await;
    let store = Store::of_project(dir.path());
    let records = store.records().expect("records");
    assert_eq!(records.len(), 4);
    assert_eq!(records[0].prev, evidence::ZERO_HASH);
    for pair in records.windows(2) {
        assert_eq!(pair[1].prev, pair[0].hash, "each record names the previous one");
    }
    let r = &records[0];
    assert_eq!(r.time, "2026-01-01T08:00:00.000000Z", "the injected clock's time");
    assert_eq!(&r.run_id[14..15], "7", "a UUIDv7");
    assert_eq!(r.inputs.len(), 1, "the orders file");
    assert_eq!(r.inputs[0].path, "data/orders.parquet");
    let bytes = std::fs::read(dir.path().join("data/orders.parquet")).expect("read");
    // The digest as coreutils computes it: an oracle independent of the code under test.
    let out = std::process::Command::new("sha256sum")
        .arg(dir.path().join("data/orders.parquet"))
        .output()
        .expect("sha256sum");
    let oracle = String::from_utf8_lossy(&out.stdout);
    assert_eq!(Some(r.inputs[0].sha256.as_str()), oracle.split_whitespace().next());
    assert_eq!(r.inputs[0].size, bytes.len() as u64);
    // The fixture has 7 order rows; both KPIs read them in one scan.
    assert_eq!(r.rows_read, 7);
    let kinds: Vec<(&str, &str)> = r.specs.iter().map(|s| (s.kind.as_str(), s.id.as_str())).collect();
    assert_eq!(
        kinds,
        [
            ("project", "fixture"),
            ("kpi", "revenue"),
            ("kpi", "orders"),
            ("product", "orders")
        ]
    );
    // aov is derived from revenue and orders: all three specs are recorded.
    let mut ids: Vec<(&str, &str)> = records[1]
        .specs
        .iter()
        .map(|s| (s.kind.as_str(), s.id.as_str()))
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            ("kpi", "aov"),
            ("kpi", "orders"),
            ("kpi", "revenue"),
            ("product", "orders"),
            ("project", "fixture")
        ]
    );
    assert!(records[2].signature.is_some() && records[3].signature.is_none());

    let v = evidence::verify(dir.path(), None).expect("verify");
    assert!(v.ok(), "{:#?}", v.problems);
    assert_eq!((v.records, v.signed), (4, 1));
    // With a key every record must be signed by it: three are not.
    let v = evidence::verify(dir.path(), Some(&key.verifying_key())).expect("verify");
    let unsigned: Vec<Option<u64>> = v.problems.iter().map(|p| p.record).collect();
    assert_eq!(unsigned, [Some(1), Some(2), Some(4)]);
}

/// Tamper with copies of the evidence folder `pristine` in `trials` random ways (a bit
/// flipped, a file truncated or deleted, two record files swapped); verification must
/// fail every time and name the file or the record touched.
fn every_change_is_detected_and_named(pristine: &Path, trials: usize, seed: u64) {
    let mut all = Vec::new();
    files(pristine, "", &mut all);
    let records: Vec<String> = all.iter().filter(|f| f.starts_with("log/")).cloned().collect();
    assert!(all.len() >= 8 && records.len() >= 2, "{all:?}");
    let mut rng = fixture::Rng(seed);
    let scratch = tempfile::tempdir().expect("tempdir");
    let mut tried = std::collections::BTreeMap::<&str, usize>::new();
    for trial in 0..trials {
        let work = scratch.path().join(format!("t{trial}"));
        copy(pristine, &work);
        let op = ["flip", "truncate", "delete", "reorder"][rng.below(4)];
        let mut named: Vec<String> = Vec::new();
        match op {
            "flip" | "truncate" | "delete" => {
                let rel = &all[rng.below(all.len())];
                let path = work.join(rel);
                let mut bytes = std::fs::read(&path).expect("read");
                match op {
                    "flip" => {
                        let i = rng.below(bytes.len());
                        bytes[i] ^= 1 << rng.below(8);
                        std::fs::write(&path, &bytes).expect("write");
                    }
                    "truncate" => {
                        bytes.truncate(rng.below(bytes.len()));
                        std::fs::write(&path, &bytes).expect("write");
                    }
                    _ => std::fs::remove_file(&path).expect("delete"),
                }
                named.push(rel.clone());
            }
            _ => {
                // Swap two records' files.
                let a = rng.below(records.len());
                let b = (a + 1 + rng.below(records.len() - 1)) % records.len();
                let (pa, pb) = (work.join(&records[a]), work.join(&records[b]));
                let (ba, bb) = (std::fs::read(&pa).expect("a"), std::fs::read(&pb).expect("b"));
                std::fs::write(&pa, bb).expect("write");
                std::fs::write(&pb, ba).expect("write");
                named.extend([records[a].clone(), records[b].clone()]);
            }
        }
        *tried.entry(op).or_default() += 1;
        let v = evidence::verify(&work, None).expect("verify");
        assert!(!v.ok(), "trial {trial}: {op} of {named:?} not detected");
        let seq_of = |f: &str| {
            f.strip_prefix("log/")
                .and_then(|n| n.trim_end_matches(".json").parse::<u64>().ok())
        };
        let names_it = v.problems.iter().any(|p| {
            named.iter().any(|n| {
                p.file == *n || (seq_of(n).is_some() && p.record == seq_of(n)) || (n == "HEAD" && p.file == "HEAD")
            })
        });
        assert!(
            names_it,
            "trial {trial}: {op} of {named:?}; problems: {:#?}",
            v.problems
        );
    }
    assert!(tried.values().all(|n| *n >= trials / 8), "{tried:?}");
}

#[tokio::test]
async fn verify_detects_every_change_and_names_it() {
    let (dir, _engine, _key) = recorded().await;
    every_change_is_detected_and_named(&dir.path().join(evidence::EVIDENCE_DIR), 240, 0x5eed_cafe);
}

#[tokio::test]
async fn verify_detects_every_change_to_a_bundle_and_names_it() {
    let (dir, _engine, _key) = recorded().await;
    let out = dir.path().join("bundle");
    let options = ExportOptions {
        kpi: "revenue".into(),
        from: None,
        to: None,
        report: ReportFormat::Html,
    };
    evidence::export(dir.path(), &options, &out, &clock(9)).expect("export");
    assert!(evidence::verify(&out, None).expect("verify").ok());
    every_change_is_detected_and_named(&out, 400, 0xb0b_1e5);
}

fn change_one_amount(path: &Path) {
    use datafusion::arrow::array::{AsArray, Float64Array};
    use datafusion::arrow::datatypes::Float64Type;
    use datafusion::parquet::arrow::ArrowWriter;
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).expect("open"))
        .expect("reader")
        .build()
        .expect("build");
    let schema = datafusion::arrow::record_batch::RecordBatchReader::schema(&reader);
    let mut batches: Vec<_> = reader.collect::<Result<_, _>>().expect("read");
    let b = &batches[0];
    let i = schema.index_of("amount").expect("amount");
    let amounts = b.column(i).as_primitive::<Float64Type>();
    let changed: Float64Array = (0..amounts.len())
        .map(|r| {
            Some(if r == 0 {
                amounts.value(r) + 1.0
            } else {
                amounts.value(r)
            })
        })
        .collect();
    let mut columns = b.columns().to_vec();
    columns[i] = std::sync::Arc::new(changed);
    batches[0] = datafusion::arrow::record_batch::RecordBatch::try_new(schema.clone(), columns).expect("batch");
    let mut w = ArrowWriter::try_new(std::fs::File::create(path).expect("create"), schema, None).expect("writer");
    for b in &batches {
        w.write(b).expect("write");
    }
    w.close().expect("close");
}

#[tokio::test]
async fn replay_proves_an_unchanged_run_and_names_a_changed_input() {
    let (dir, engine, _key) = recorded().await;
    let records = Store::of_project(dir.path()).records().expect("records");
    for r in &records {
        let replay = evidence::replay(&engine, &r.run_id).await.expect("replay");
        assert!(
            matches!(replay.outcome, ReplayOutcome::Matches),
            "{}: {:?}",
            r.seq,
            replay.outcome
        );
    }
    change_one_amount(&dir.path().join("data/orders.parquet"));
    let engine = Engine::open(dir.path()).await.expect("reopen");
    let replay = evidence::replay(&engine, &records[0].run_id[..13])
        .await
        .expect("replay");
    match replay.outcome {
        ReplayOutcome::InputsChanged(changes) => {
            assert_eq!(changes.len(), 1, "{changes:?}");
            assert!(
                changes[0].starts_with("data/orders.parquet: the input file changed"),
                "{changes:?}"
            );
        }
        other => panic!("not detected: {other:?}"),
    }
    // The balances run read other files: it still replays.
    let replay = evidence::replay(&engine, "3").await.expect("replay");
    assert!(matches!(replay.outcome, ReplayOutcome::Matches), "{:?}", replay.outcome);
}

#[tokio::test]
async fn export_writes_a_bundle_that_verifies_offline() {
    let (dir, _engine, _key) = recorded().await;
    let out: PathBuf = dir.path().join("bundle");
    let options = ExportOptions {
        kpi: "revenue".into(),
        from: None,
        to: None,
        report: ReportFormat::Markdown,
    };
    let n = evidence::export(dir.path(), &options, &out, &clock(9)).expect("export");
    assert_eq!(n, 1, "only the first run computed revenue itself");
    // The bundle holds the chain from record 1 to the head, and its report.
    let v = evidence::verify(&out, None).expect("verify");
    assert!(v.ok() && v.bundle, "{:#?}", v.problems);
    assert_eq!(v.records, 4);
    let report = std::fs::read_to_string(out.join("report.md")).expect("report");
    assert!(report.contains("# Evidence for KPI `revenue`") && report.contains("data/orders.parquet"));
    // Moving the bundle elsewhere keeps it verifiable; editing the report does not.
    let moved = tempfile::tempdir().expect("tempdir");
    copy(&out, moved.path());
    assert!(evidence::verify(moved.path(), None).expect("verify").ok());
    std::fs::write(moved.path().join("report.md"), report.replace("revenue", "revenues")).expect("write");
    let v = evidence::verify(moved.path(), None).expect("verify");
    assert_eq!(v.problems[0].file, "report.md", "{:#?}", v.problems);
    // A range with no run of the KPI is an error, not an empty bundle.
    let none = ExportOptions {
        from: Some(clock(5).0),
        ..options
    };
    assert!(evidence::export(dir.path(), &none, &dir.path().join("b2"), &clock(9)).is_err());
}

#[tokio::test]
async fn a_result_file_the_parquet_reader_panics_on_is_a_problem() {
    // Found by the evidence fuzz target: two bytes (ff 09) of a bundle's result file changed
    // so that a column chunk has a negative length; the Parquet reader panicked ("column
    // start and length should not be negative"). The same two bytes at every offset of the
    // footer's metadata: each is a problem on that file, never a panic.
    let (dir, _engine, _key) = recorded().await;
    let out: PathBuf = dir.path().join("bundle");
    let options = ExportOptions {
        kpi: "revenue".into(),
        from: None,
        to: None,
        report: ReportFormat::Markdown,
    };
    evidence::export(dir.path(), &options, &out, &clock(9)).expect("export");
    let run = std::fs::read_dir(out.join("runs"))
        .expect("runs")
        .flatten()
        .map(|e| e.path())
        .next()
        .expect("a result file");
    let original = std::fs::read(&run).expect("result");
    let footer = original.len().saturating_sub(800);
    for at in footer..original.len() - 1 {
        let mut bytes = original.clone();
        bytes[at] = 0xff;
        bytes[at + 1] = 0x09;
        if bytes == original {
            continue;
        }
        std::fs::write(&run, &bytes).expect("write");
        let v = evidence::verify(&out, None).expect("verify");
        assert!(
            v.problems.iter().any(|p| p.file.starts_with("runs/")),
            "offset {at}: {:#?}",
            v.problems
        );
    }
}

#[tokio::test]
async fn a_head_far_past_the_log_is_one_problem_not_a_walk() {
    let (dir, _engine, _key) = recorded().await;
    let head = dir.path().join(evidence::EVIDENCE_DIR).join("HEAD");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&head).expect("HEAD")).expect("json");
    v["seq"] = serde_json::json!(4_611_686_018_427_387_904u64);
    std::fs::write(&head, evidence::canonical_json(&v) + "\n").expect("write");
    let v = evidence::verify(dir.path(), None).expect("verify");
    assert_eq!(v.records, 4);
    assert_eq!(v.problems.len(), 1, "{:#?}", v.problems);
    assert_eq!(v.problems[0].file, "HEAD");
    assert!(
        v.problems[0]
            .message
            .contains("names record 4611686018427387904 which is missing"),
        "{:#?}",
        v.problems
    );
}
