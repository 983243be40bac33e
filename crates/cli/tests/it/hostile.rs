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
