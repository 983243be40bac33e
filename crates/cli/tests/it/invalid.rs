//! Every file of the invalid-spec corpus gets exit 1 and a located diagnostic.

use crate::{canary, repo, text};

#[test]
fn every_invalid_file_is_reported_with_file_line_and_column() {
    let dir = repo().join("testdata/invalid");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("testdata/invalid")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 25, "the corpus has {} files", files.len());
    let mut all = String::new();
    for name in &files {
        let path = format!("testdata/invalid/{name}");
        let out = canary(&["--project", "testdata/invalid/base", "validate", &path]);
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{name}: {stdout}{}", text(&out.stderr));
        let located = stdout.lines().next().unwrap_or_default();
        let prefix = format!("{path}:");
        assert!(
            located.starts_with(&prefix),
            "{name}: first line does not locate it: {stdout}"
        );
        let rest = &located[prefix.len()..];
        let mut parts = rest.splitn(3, ':');
        let line: usize = parts.next().and_then(|s| s.parse().ok()).expect("line");
        let column: usize = parts.next().and_then(|s| s.parse().ok()).expect("column");
        assert!(line >= 1 && column >= 1, "{located}");
        assert!(stdout.contains("error[C"), "{stdout}");
        assert!(!stdout.contains("panicked"), "{stdout}");
        all.push_str(&format!("== {name}\n{stdout}\n"));
    }
    insta::assert_snapshot!("invalid_corpus", all);
}

#[test]
fn the_base_of_the_corpus_is_valid() {
    let out = canary(&["--project", "testdata/invalid/base", "validate"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).starts_with("ok: 3 products, 5 KPIs\nnote: the footers of "),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn diagnostics_as_json_carry_code_and_location() {
    let out = canary(&[
        "--project",
        "testdata/invalid/base",
        "validate",
        "--format",
        "json",
        "testdata/invalid/unknown_measure.yaml",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v[0]["code"], "C0302");
    assert_eq!(v[0]["location"]["file"], "testdata/invalid/unknown_measure.yaml");
    assert_eq!(v[0]["location"]["line"], 5);
    assert_eq!(v[0]["location"]["column"], 14);
    assert_eq!(
        v[0]["hint"],
        "did you mean `revenue`? valid names: revenue, sales, units"
    );
}

#[test]
fn all_problems_of_a_project_are_reported_at_once() {
    let out = canary(&[
        "--project",
        "testdata/invalid/base",
        "validate",
        "testdata/invalid/unknown_measure.yaml",
        "testdata/invalid/unknown_type.yaml",
        "testdata/invalid/cycle.yaml",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.ends_with("3 problems found\n"), "{stdout}");
}
