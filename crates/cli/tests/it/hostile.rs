//! Hostile input and faults, end to end: `--output` never replaces what is not a regular
//! file; evidence bundles verify anywhere, without a project; leftovers of an interrupted
//! run never block; a tenant that would restrict nothing is refused.

use crate::compute::init;
use crate::{canary, canary_in, text};

#[test]
fn output_writes_through_a_link_and_into_a_device_never_replacing_them() {
    let (dir, p) = init();
    let target = dir.path().join("target.csv");
    let link = dir.path().join("link.csv");
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    let l = link.to_string_lossy().into_owned();
    let out = canary(&["--project", &p, "compute", "revenue", "--format", "csv", "-o", &l]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let meta = std::fs::symlink_metadata(&link).expect("link");
    assert!(meta.file_type().is_symlink(), "the link was replaced");
    assert!(
        std::fs::read_to_string(&target)
            .expect("target")
            .starts_with("revenue\n")
    );

    let out = canary(&[
        "--project",
        &p,
        "compute",
        "revenue",
        "--format",
        "csv",
        "-o",
        "/dev/null",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let meta = std::fs::metadata("/dev/null").expect("/dev/null");
    assert!(!meta.is_file(), "/dev/null was replaced by a regular file");

    let d = dir.path().to_string_lossy().into_owned();
    let out = canary(&["--project", &p, "compute", "revenue", "-o", &d]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("is a folder"), "{}", text(&out.stderr));
}

#[test]
fn a_bundle_verifies_and_keys_are_made_outside_any_project() {
    let (dir, p) = init();
    let out = canary(&["--project", &p, "run", "revenue", "--grain", "month", "--format", "csv"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let bundle = dir.path().join("bundle");
    let b = bundle.to_string_lossy().into_owned();
    let out = canary(&["--project", &p, "evidence", "export", "revenue", &b]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // An auditor's folder, with no canary.yaml anywhere above it.
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let out = canary_in(elsewhere.path(), &["evidence", "verify", &b]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("ok: bundle "), "{}", text(&out.stdout));
    let out = canary_in(elsewhere.path(), &["evidence", "keygen", "audit.pem"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(elsewhere.path().join("audit.pem.pub").is_file());
    // What needs a project still says so.
    let out = canary_in(elsewhere.path(), &["evidence", "log"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no canary.yaml"), "{}", text(&out.stderr));
}

#[test]
fn leftovers_of_an_interrupted_run_never_block() {
    let (_dir, p) = init();
    let run = |expect: i32| {
        let out = canary(&["--project", &p, "run", "revenue", "--format", "csv"]);
        assert_eq!(out.status.code(), Some(expect), "{}", text(&out.stderr));
    };
    run(0);
    // What a run killed before its commit leaves: temporary files, a result and a spec
    // file no record names.
    let evidence = std::path::Path::new(&p).join(".canary/evidence");
    for (rel, bytes) in [
        ("log/.tmp-a1b2c3", &b"{\"half\":"[..]),
        (".tmp-d4e5f6", b"{"),
        ("runs/01900000-0000-7000-8000-000000000000.parquet", b"PAR1"),
        ("objects/.tmp-0789ab", b"pro"),
        (
            "objects/0000000000000000000000000000000000000000000000000000000000000000",
            b"product: x",
        ),
    ] {
        std::fs::write(evidence.join(rel), bytes).expect("write");
    }
    let out = canary(&["--project", &p, "evidence", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let report = text(&out.stdout);
    assert!(report.starts_with("ok: evidence log"), "{report}");
    assert!(
        report.contains("note: 5 files left by a run that did not finish"),
        "{report}"
    );
    run(0);
    let out = canary(&["--project", &p, "evidence", "verify"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        !text(&out.stdout).contains("note:"),
        "the run removed them: {}",
        text(&out.stdout)
    );
    assert!(text(&out.stdout).contains("2 records"), "{}", text(&out.stdout));
}

#[test]
fn a_tenant_on_a_project_without_tenants_is_refused() {
    // `canary init`'s project has no tenant column: --tenant would restrict nothing, and
    // every tenant's rows would be read.
    let (_dir, p) = init();
    let out = canary(&["--project", &p, "compute", "revenue", "--tenant", "acme"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("tenant `acme` asked for, but no product of this project is tenant-scoped"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_tenant_without_rows_is_refused_not_answered_with_zeros() {
    // The sample project has tenants acme and globex; `acmee` is a typo that would print
    // zeros and empties that look like real values.
    let sample = crate::repo().join("examples/retail");
    let p = sample.to_string_lossy().into_owned();
    let out = canary(&["--project", &p, "compute", "revenue", "--tenant", "acmee"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(
        err.contains("tenant `acmee` has no rows in any tenant-scoped product"),
        "{err}"
    );
    let out = canary(&[
        "--project",
        &p,
        "compute",
        "revenue",
        "--tenant",
        "acme",
        "--format",
        "csv",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// A copy of `canary init`'s project with `canary.yaml` replaced by `project`.
fn with_project_file(project: &str) -> (tempfile::TempDir, String) {
    let (dir, p) = init();
    std::fs::write(std::path::Path::new(&p).join("canary.yaml"), project).expect("write");
    (dir, p)
}

#[test]
fn settings_and_patterns_out_of_bounds_are_refused_by_validate() {
    let head = "project: p\nversion: 1.0.0\n";
    for (extra, expected) in [
        (
            "settings:\n  target_partitions: 1000000000\n",
            "target_partitions is 1000000000; it must be between 1 and 1024",
        ),
        ("settings:\n  target_partitions: 0\n", "target_partitions is 0"),
        (
            "kpis:\n  - /**/*.yaml\n",
            "the pattern `/**/*.yaml` reaches outside the project folder",
        ),
        (
            "products:\n  - ../*/products/*.yaml\n",
            "reaches outside the project folder",
        ),
        (
            "settings:\n  object_store:\n    timeout: 3h\n",
            "`3h` is out of range: a timeout is more than 0 and at most 1h",
        ),
        (
            "settings:\n  object_store:\n    connect_timeout: soon\n",
            "`soon` is not a duration",
        ),
        (
            "settings:\n  object_store:\n    retries: 1000\n",
            "retries is 1000; it must be at most 10",
        ),
    ] {
        let (_dir, p) = with_project_file(&format!("{head}{extra}"));
        let out = canary(&["--project", &p, "validate"]);
        let report = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(1), "{extra}: {report}");
        assert!(report.contains(expected), "{extra}: {report}");
    }
    // In range, the same settings validate.
    let (_dir, p) = with_project_file(&format!(
        "{head}settings:\n  target_partitions: 4\n  object_store: {{ timeout: 2s, connect_timeout: 500ms, retries: 0 }}\n"
    ));
    let out = canary(&["--project", &p, "validate"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

#[test]
fn a_fifo_as_a_location_is_refused_without_blocking() {
    let (dir, p) = init();
    let fifo = dir.path().join("pipe.parquet");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(status.success());
    let product = std::path::Path::new(&p).join("products/sales.yaml");
    let spec = std::fs::read_to_string(&product).expect("product");
    let location = fifo.to_string_lossy();
    std::fs::write(
        &product,
        spec.replace("location: data/sales.parquet", &format!("location: {location}")),
    )
    .expect("write");
    let started = std::time::Instant::now();
    let out = canary(&["--project", &p, "validate"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "it blocked");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("is not a regular file or a folder (a FIFO, a socket or a device)"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn derived_kpis_that_double_at_every_level_validate_fast_and_are_bounded_when_computed() {
    let (_dir, p) = init();
    let mut kpis = String::from("kpis:\n");
    for i in 1..=30 {
        let prev = if i == 1 {
            "revenue".to_owned()
        } else {
            format!("d{}", i - 1)
        };
        kpis.push_str(&format!(
            "  - {{ id: d{i}, version: 1.0.0, type: derived, expr: a + b, inputs: [{{ kpi: {prev}, alias: a }}, {{ kpi: {prev}, alias: b }}] }}\n"
        ));
    }
    std::fs::write(std::path::Path::new(&p).join("kpis/doubling.yaml"), kpis).expect("write");
    let started = std::time::Instant::now();
    let out = canary(&["--project", &p, "validate"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    // 2^30 paths: the old cycle check walked every one of them.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    // d10 expands to 2^11 - 1 references: computed, and equal to 2^10 × revenue.
    let csv = |kpi: &str| {
        let out = canary(&["--project", &p, "compute", kpi, "--format", "csv"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        text(&out.stdout)
            .lines()
            .nth(1)
            .expect("a value")
            .parse::<f64>()
            .expect("a number")
    };
    let (revenue, d10) = (csv("revenue"), csv("d10"));
    assert!((d10 - 1024.0 * revenue).abs() <= 1e-9 * d10.abs(), "{d10} vs {revenue}");
    let out = canary(&["--project", &p, "compute", "d30"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("the query expands to more than 4096 KPI references"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_cumulative_kpi_over_ten_thousand_years_of_days_is_refused() {
    let (_dir, p) = init();
    let out = canary(&[
        "--project",
        &p,
        "compute",
        "revenue_to_date",
        "--grain",
        "day",
        "--from",
        "0001-01-01",
        "--to",
        "9999-12-31",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("has more than 1000000 periods of a day"),
        "{}",
        text(&out.stderr)
    );
}
