//! Verification of a project's evidence log: the chain of records up to `HEAD`, result
//! files, objects, and nothing Canary did not write.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::chain::{Checker, LEFT_BY_A_RUN, Problem, Verification, is_temporary, list, record_seq, walk_chain};
use super::record::Record;
use super::sign::VerifyingKey;
use super::store::{EVIDENCE_DIR, HEAD, Head, LOG, OBJECTS, RUNS, record_name};

/// Verify the log of the project in `root` (none yet is an empty, valid log), and return
/// the committed records it read, oldest first, for a writer to build on.
pub(crate) fn verify_log(root: &Path) -> (Verification, Vec<Record>) {
    verify_store(&root.join(EVIDENCE_DIR), None)
}

pub(crate) fn verify_store(dir: &Path, key: Option<&VerifyingKey>) -> (Verification, Vec<Record>) {
    let mut c = Checker::new(dir, key);
    for name in list(dir) {
        if is_temporary(&name) {
            c.leftover(&name, LEFT_BY_A_RUN);
        } else if ![HEAD, LOG, RUNS, OBJECTS].contains(&name.as_str()) {
            c.problem(&name, None, "Canary did not write this file");
        }
    }
    let mut seqs = BTreeSet::new();
    for name in list(&dir.join(LOG)) {
        match record_seq(&name) {
            Some(seq) => {
                seqs.insert(seq);
            }
            None if is_temporary(&name) => c.leftover(format!("{LOG}/{name}"), LEFT_BY_A_RUN),
            None => c.problem(format!("{LOG}/{name}"), None, "Canary did not write this file"),
        }
    }
    let head = match std::fs::read(dir.join(HEAD)) {
        Ok(bytes) => match serde_json::from_slice::<Head>(&bytes) {
            Ok(h) => {
                if h.to_canonical().as_bytes() != &bytes[..] {
                    c.problem(
                        HEAD,
                        Some(h.seq),
                        "is not in canonical form: it was edited after it was written",
                    );
                }
                Some(h)
            }
            Err(e) => {
                c.problem(HEAD, None, format!("is not a valid head: {e}"));
                None
            }
        },
        Err(_) => {
            if !seqs.is_empty() || dir.join(RUNS).is_dir() {
                c.problem(HEAD, None, "is missing: the log cannot be trusted to be complete");
            }
            None
        }
    };
    // The walk ends at the last record file: a HEAD naming a later record is reported
    // below, without walking (or listing as missing) every number up to it.
    let last = seqs.iter().next_back().copied().unwrap_or(0);
    let mut named_objects = BTreeMap::new();
    let mut named_runs = BTreeSet::new();
    let committed = head.as_ref().map_or(0, |h| h.seq);
    let records = walk_chain(
        &mut c,
        1..=last,
        |seq| seqs.contains(&seq),
        "log",
        |c, record| {
            let seq = record.seq;
            let file = format!("{LOG}/{}", record_name(seq));
            if committed.checked_add(1) == Some(seq) && seq == last {
                // What a run stopped between renaming its record and renaming HEAD leaves
                // (killed, or failed on a full disk): one record, chained to HEAD (the walk
                // checked the link). Dropping it loses nothing the run reported, and a HEAD
                // rolled back by one record is no more than the truncation no log can
                // detect alone; the next run removes it.
                c.leftovers.push(Problem {
                    file,
                    record: Some(seq),
                    message: format!("is past HEAD (record {committed}) and chained to it: {LEFT_BY_A_RUN}"),
                    uncommitted: true,
                });
            } else if seq > committed {
                c.problems.push(Problem {
                    file,
                    record: Some(seq),
                    message: format!(
                        "is past HEAD (record {committed}): more than one run's record past HEAD, or HEAD was rolled back"
                    ),
                    uncommitted: true,
                });
            }
            if let Some(h) = head.as_ref().filter(|h| h.seq == seq)
                && h.hash != record.hash
            {
                c.problem(HEAD, Some(seq), format!("names a hash that is not record {seq}'s"));
            }
            c.result(record);
            named_runs.insert(record.result.file.path.clone());
            for s in &record.specs {
                named_objects.entry(s.object.clone()).or_insert(seq);
            }
        },
    );
    if let Some(h) = &head
        && h.seq > 0
        && !seqs.contains(&h.seq)
        && !c.problems.iter().any(|p| p.record == Some(h.seq))
    {
        c.problem(HEAD, Some(h.seq), format!("names record {} which is missing", h.seq));
    }
    for name in list(&dir.join(RUNS)) {
        let rel = format!("{RUNS}/{name}");
        if is_temporary(&name) {
            c.leftover(&rel, LEFT_BY_A_RUN);
        } else if !named_runs.contains(&rel) {
            c.leftover(&rel, format!("no record names this result file: {LEFT_BY_A_RUN}"));
        }
    }
    c.objects(&named_objects, true);
    let v = Verification {
        path: dir.to_path_buf(),
        bundle: false,
        records: records.iter().filter(|r| r.seq <= committed).count() as u64,
        signed: c.signed,
        head: head.map(|h| (h.seq, h.hash)),
        problems: c.problems,
        leftovers: c.leftovers,
    };
    let read = records.into_iter().filter(|r| r.seq <= committed).collect();
    (v, read)
}
