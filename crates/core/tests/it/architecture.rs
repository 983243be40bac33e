//! The shape of `canary-core`: dependencies between its modules run one way.
//!
//! Each module of `src/` sits in a layer; a module may use modules of lower layers only,
//! never a module of its own layer or above. The allowed layering is written once, here.
//! Within a module folder, no two files may use each other, directly or round a circle.
//! Both are read from the source: every `crate::…` path (in `use` lines and inline) and
//! every `super::…` path, outside comments.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Lowest first. A module may depend on the modules of the layers before its own.
const LAYERS: &[&[&str]] = &[
    // Foundations: messages, time, panics of dependencies contained.
    &["diagnostic", "clock", "contain"],
    &["error"],
    // Files written whole; the allow-list of user expressions.
    &["atomic", "expr"],
    // The raw mirror of the spec files.
    &["spec"],
    // The validated model with its scope and join graph; JSON Schemas of the files.
    &["model", "schema"],
    // Spec files -> model, or every problem.
    &["validate"],
    // Data products -> table providers, checked against their contracts.
    &["catalog"],
    // Model + query -> logical plan.
    &["plan"],
    // Column-level lineage, read off plans (it never opens an engine).
    &["lineage"],
    // Running plans.
    &["exec"],
    // What the front doors read from their environment.
    &["environment"],
    // Operations on top of the engine.
    &["evidence", "impact", "mf", "scaffold"],
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The source without comments and string literals (so neither can name a path).
fn code(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    if !escaped && c == '"' {
                        break;
                    }
                    escaped = !escaped && c == '\\';
                }
                out.push_str("\"\"");
            }
            // A char literal such as '"' must not open a string; a lifetime is left alone.
            '\'' => {
                let rest: String = chars.clone().take(3).collect();
                if rest.starts_with('\\') {
                    let n = rest.find('\'').map_or(0, |i| i + 1);
                    for _ in 0..n.max(1) {
                        chars.next();
                    }
                    let _ = chars.next_if_eq(&'\'');
                } else if rest.chars().nth(1) == Some('\'') {
                    chars.next();
                    chars.next();
                } else {
                    out.push(c);
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// The first segment after each `prefix` (`crate::` or `super::`), with `prefix::{a, b::c}`
/// giving `a` and `b`.
fn paths_after(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find(prefix) {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + prefix.len()..];
        if before.is_some_and(|b| b.is_alphanumeric() || b == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut item = String::new();
            let mut at_start = true;
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 1 => {
                        at_start = true;
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
                if at_start && depth == 1 {
                    if c.is_alphanumeric() || c == '_' {
                        item.push(c);
                        continue;
                    }
                    if !item.is_empty() {
                        names.insert(std::mem::take(&mut item));
                        at_start = false;
                    }
                }
            }
            if !item.is_empty() {
                names.insert(item);
            }
        } else {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                names.insert(name);
            }
        }
    }
    names
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The top-level module a file of `src/` belongs to (`plan` for `src/plan/time.rs`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap_or(file);
    let first = rel
        .components()
        .next()
        .map(|c| c.as_os_str().to_string_lossy().into_owned());
    first.unwrap_or_default().trim_end_matches(".rs").to_owned()
}

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// Every use of a module that runs the wrong way, as `file: a -> b (why)`, for the module
/// `module` whose file `file` holds `text`.
fn wrong_way(module: &str, file: &str, text: &str) -> Vec<String> {
    let Some(own) = layer(module) else {
        return vec![format!("{file}: module `{module}` has no layer in LAYERS")];
    };
    paths_after(&code(text), "crate::")
        .into_iter()
        .filter(|used| used != module)
        .filter_map(|used| match layer(&used) {
            Some(l) if l < own => None,
            Some(l) if l == own => Some(format!("{file}: {module} -> {used} (the same layer)")),
            Some(_) => Some(format!("{file}: {module} -> {used} (a higher layer)")),
            // Items of lib.rs itself (`crate::Result`): the crate root re-exports only.
            None => None,
        })
        .collect()
}

/// Circles between the files of one module folder, each as `a -> b -> … -> a`.
fn circles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        found: &mut Vec<String>,
    ) {
        if let Some(i) = path.iter().position(|p| p == node) {
            let mut circle = path[i..].to_vec();
            circle.push(node.to_owned());
            found.push(circle.join(" -> "));
            return;
        }
        if !done.insert(node.to_owned()) {
            return;
        }
        path.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            visit(next, edges, path, done, found);
        }
        path.pop();
    }
    let mut found = Vec::new();
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        visit(node, edges, &mut Vec::new(), &mut done, &mut found);
    }
    found
}

#[test]
fn core_modules_depend_downwards_only() {
    let src = src();
    let mut wrong = Vec::new();
    let mut listed = BTreeSet::new();
    for file in rust_files(&src) {
        let module = module_of(&src, &file);
        if module == "lib" {
            continue;
        }
        listed.insert(module.clone());
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let rel = file.strip_prefix(&src).unwrap_or(&file).display().to_string();
        wrong.extend(wrong_way(&module, &rel, &text));
    }
    assert!(
        wrong.is_empty(),
        "imports that run the wrong way:\n{}",
        wrong.join("\n")
    );
    let layered: BTreeSet<String> = LAYERS.iter().flat_map(|l| l.iter().map(|m| m.to_string())).collect();
    assert_eq!(layered, listed, "LAYERS names exactly the modules of src/");
}

#[test]
fn files_of_a_module_use_each_other_without_circles() {
    let src = src();
    let mut found = Vec::new();
    for dir in std::fs::read_dir(&src).unwrap_or_else(|e| panic!("{e}")).flatten() {
        let dir = dir.path();
        if !dir.is_dir() {
            continue;
        }
        let module = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let files: BTreeMap<String, PathBuf> = rust_files(&dir)
            .into_iter()
            .filter(|f| f.parent() == Some(dir.as_path()))
            .filter_map(|f| Some((f.file_stem()?.to_string_lossy().into_owned(), f)))
            .filter(|(stem, _)| stem != "mod")
            .collect();
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (stem, file) in &files {
            let text = code(&std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{e}")));
            let siblings = paths_after(&text, "super::")
                .into_iter()
                .chain(paths_after(
                    &text.replace(&format!("crate::{module}::"), "super::"),
                    "super::",
                ))
                .filter(|s| s != stem && files.contains_key(s));
            edges.entry(stem.clone()).or_default().extend(siblings);
        }
        found.extend(circles(&edges).into_iter().map(|c| format!("{module}/: {c}")));
    }
    assert!(found.is_empty(), "files that use each other:\n{}", found.join("\n"));
}

#[test]
fn a_use_of_a_higher_layer_is_caught() {
    // model sits below plan and exec; validate and plan do not use each other.
    let text = "use crate::spec::ProductSpec;\nuse crate::{exec::Engine, error::Result};\n\
                // crate::lineage in a comment is no use\nlet s = \"crate::mf\";\n\
                fn f() { crate::plan::time::ts(x) }";
    assert_eq!(
        wrong_way("model", "model/x.rs", text),
        vec![
            "model/x.rs: model -> exec (a higher layer)".to_owned(),
            "model/x.rs: model -> plan (a higher layer)".to_owned(),
        ]
    );
    assert_eq!(
        wrong_way("validate", "validate/kpi.rs", "use crate::plan::declared_schema;"),
        vec!["validate/kpi.rs: validate -> plan (a higher layer)".to_owned()]
    );
    assert_eq!(
        wrong_way("mf", "mf/query.rs", "use crate::evidence::Record;"),
        vec!["mf/query.rs: mf -> evidence (the same layer)".to_owned()]
    );
    assert!(wrong_way("exec", "exec/mod.rs", "use crate::{plan::Query, lineage::analyze};").is_empty());
}

#[test]
fn a_circle_between_files_is_caught() {
    let edges: BTreeMap<String, BTreeSet<String>> = [
        ("bundle", vec!["chain"]),
        ("verify", vec!["bundle"]),
        ("chain", vec!["verify"]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(circles(&edges), vec!["bundle -> chain -> verify -> bundle".to_owned()]);
    let text = code("use super::{chain::{Checker, walk}, record::Record};\nuse super::verify_bundle;");
    assert_eq!(
        paths_after(&text, "super::"),
        ["chain", "record", "verify_bundle"]
            .into_iter()
            .map(str::to_owned)
            .collect()
    );
}
