//! `init`, `compute`, `list`, `explain` end to end, checked against plain-Rust recomputation.

use std::collections::BTreeMap;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Float64Type, TimestampMicrosecondType};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::{canary, text};

/// A new project from `canary init` in a temporary folder.
pub fn init() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let project = dir.path().join("demo");
    let p = project.to_string_lossy().into_owned();
    let out = canary(&["init", &p]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("created"), "{}", text(&out.stderr));
    (dir, p)
}

fn read_parquet(path: &std::path::Path) -> Vec<RecordBatch> {
    let file = std::fs::File::open(path).expect("parquet");
    ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("reader")
        .build()
        .expect("build")
        .collect::<Result<_, _>>()
        .expect("batches")
}

/// Revenue by (month, region) computed in plain Rust from the generated data.
fn revenue_by_month_and_region(project: &str) -> BTreeMap<(String, String), f64> {
    let mut sums = BTreeMap::new();
    for b in read_parquet(&std::path::Path::new(project).join("data/sales.parquet")) {
        let at = b
            .column_by_name("sold_at")
            .expect("sold_at")
            .as_primitive::<TimestampMicrosecondType>();
        let region = b.column_by_name("region").expect("region").as_string::<i32>();
        let amount = b
            .column_by_name("amount")
            .expect("amount")
            .as_primitive::<Float64Type>();
        for i in 0..b.num_rows() {
            let t = chrono::DateTime::from_timestamp_micros(at.value(i)).expect("time");
            let month = t.format("%Y-%m-01T00:00:00Z").to_string();
            *sums.entry((month, region.value(i).to_owned())).or_insert(0.0) += amount.value(i);
        }
    }
    sums
}

#[test]
fn init_then_compute_matches_a_plain_recomputation() {
    let (_dir, p) = init();
    let out = canary(&["--project", &p, "validate"]);
    assert!(
        text(&out.stdout).starts_with("ok: 1 products, 5 KPIs\nnote: the footers of "),
        "{}",
        text(&out.stdout)
    );

    let out = canary(&[
        "--project",
        &p,
        "compute",
        "revenue",
        "--grain",
        "month",
        "--by",
        "region",
        "--format",
        "csv",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "", "stderr is for logs; nothing to say here");
    let csv = text(&out.stdout);
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("period,region,revenue"));
    let expected = revenue_by_month_and_region(&p);
    let mut seen = 0;
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let want = expected[&(cells[0].to_owned(), cells[1].to_owned())];
        let got: f64 = cells[2].parse().expect("number");
        assert!((got - want).abs() < 1e-6, "{line}: want {want}");
        seen += 1;
    }
    assert_eq!(seen, expected.len());
    assert_eq!(seen, 48, "12 months x 4 regions");
}

#[test]
fn json_and_parquet_outputs_carry_the_same_values() {
    let (dir, p) = init();
    let out = canary(&[
        "--project",
        &p,
        "compute",
        "revenue",
        "sales",
        "--grain",
        "year",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let total: f64 = revenue_by_month_and_region(&p).values().sum();
    assert_eq!(v[0]["period"], "2025-01-01T00:00:00Z");
    assert!((v[0]["revenue"].as_f64().expect("revenue") - total).abs() < 1e-6);
    assert_eq!(v[0]["sales"], 2000);

    let file = dir.path().join("out.parquet");
    let f = file.to_string_lossy().into_owned();
    let out = canary(&[
        "--project",
        &p,
        "compute",
        "revenue",
        "sales",
        "--grain",
        "year",
        "--format",
        "parquet",
        "-o",
        &f,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    let batches = read_parquet(&file);
    let schema = batches[0].schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["period", "revenue", "sales"]);
    assert_eq!(
        batches[0]
            .column(2)
            .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
            .value(0),
        2000
    );
}

#[test]
fn the_table_format_is_for_people() {
    let (_dir, p) = init();
    let out = canary(&[
        "--project",
        &p,
        "compute",
        "sales",
        "average_sale",
        "--grain",
        "quarter",
        "--from",
        "2025-04",
        "--to",
        "2025-07",
    ]);
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["period", "sales", "average_sale"]
    );
    assert!(lines[2].starts_with("2025-Q2"), "{stdout}");
    assert_eq!(lines.last(), Some(&"(1 row)"));
}

#[test]
fn errors_go_to_stderr_with_exit_code_2() {
    let (_dir, p) = init();
    let out = canary(&["--project", &p, "compute", "revenu"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert_eq!(
        text(&out.stderr),
        "error: unknown KPI `revenu`\n  hint: did you mean `revenue`? valid names: average_sale, revenue, revenue_growth, revenue_to_date, sales\n"
    );
    let out = canary(&["--project", &p, "compute", "revenue", "--grain", "fortnight"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown granularity `fortnight`"));
    let out = canary(&["--project", &p, "compute", "revenue", "--where", "amount > (SELECT 1)"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("subqueries are not allowed"),
        "{}",
        text(&out.stderr)
    );
    // Usage errors come from the argument parser, also with exit code 2.
    let out = canary(&["compute", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
    // No project anywhere.
    let out = canary(&["--project", "/nonexistent-canary-project", "validate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("holds no canary.yaml"));
}

#[test]
fn colors_only_when_asked() {
    let (_dir, p) = init();
    let out = canary(&["--project", &p, "compute", "nope"]);
    assert!(!text(&out.stderr).contains('\u{1b}'));
    let out = canary(&["--project", &p, "--color", "always", "compute", "nope"]);
    assert!(text(&out.stderr).contains("\u{1b}[1;31merror\u{1b}[0m"));
}

#[test]
fn init_refuses_a_folder_that_is_not_empty() {
    let (_dir, p) = init();
    let out = canary(&["init", &p]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("exists and is not empty"));
}

#[test]
fn list_and_explain() {
    let (_dir, p) = init();
    let out = canary(&["--project", &p, "list", "kpis", "--format", "csv"]);
    let stdout = text(&out.stdout);
    assert_eq!(
        stdout.lines().next(),
        Some("id,type,version,unit,direction,target,tags,name")
    );
    assert!(stdout.contains("revenue_growth,derived,1.0.0,ratio,neutral,,,Revenue growth on the previous period"));
    let out = canary(&["--project", &p, "list", "dimensions", "--format", "csv"]);
    assert!(
        text(&out.stdout).contains("sold_at,sales,time,day,"),
        "{}",
        text(&out.stdout)
    );

    let out = canary(&["--project", &p, "explain", "revenue", "sales", "--grain", "month"]);
    assert_eq!(out.status.code(), Some(0));
    let plan = text(&out.stdout);
    assert!(
        plan.contains("Aggregate: groupBy=[[date_trunc(Utf8(\"month\")"),
        "{plan}"
    );
    assert_eq!(plan.matches("TableScan").count(), 1, "{plan}");
    let out = canary(&["--project", &p, "explain", "revenue", "--grain", "month", "--sql"]);
    let sql = text(&out.stdout);
    assert!(sql.starts_with("SELECT"), "{sql}");
    assert!(sql.contains("sum(CAST(sales.amount AS DOUBLE))"), "{sql}");
    assert!(
        !sql.contains("exact_sum"),
        "SQL for other engines uses standard functions: {sql}"
    );
}

#[test]
fn the_nearest_project_is_found_from_a_subfolder() {
    let (_dir, p) = init();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_canary"))
        .args(["validate"])
        .current_dir(std::path::Path::new(&p).join("kpis"))
        .env_remove("CANARY_PROJECT")
        .output()
        .expect("run");
    assert!(
        text(&out.stdout).starts_with("ok: 1 products, 5 KPIs\nnote: the footers of "),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn the_long_layout_shows_unit_target_and_status() {
    let out = canary(&[
        "--project",
        "examples/retail",
        "compute",
        "revenue",
        "return_rate",
        "--grain",
        "year",
        "--from",
        "2025-01",
        "--layout",
        "long",
        "-f",
        "csv",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let csv = text(&out.stdout);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "period,kpi,value,unit,target,status");
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[1].starts_with("2025-01-01T00:00:00Z,revenue,"), "{csv}");
    assert!(lines[2].starts_with("2025-01-01T00:00:00Z,return_rate,"), "{csv}");
    // A year of revenue is far above the monthly warn threshold: ok.
    assert!(lines[1].ends_with(",USD,1200000.0,ok"), "{csv}");
}

#[test]
fn the_same_query_gives_the_same_bits_every_run() {
    // Float sums merge partial results in thread order; Canary's sums are exact, so the
    // output must not change between runs (it did in 5 of 6 runs before).
    let run = || {
        let out = canary(&[
            "--project",
            "examples/retail",
            "compute",
            "revenue",
            "avg_order_value",
            "revenue_trailing_3m",
            "--grain",
            "month",
            "--by",
            "channel",
            "-f",
            "csv",
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        out.stdout
    };
    let first = run();
    for _ in 0..3 {
        assert!(run() == first, "results differ between runs");
    }
}
