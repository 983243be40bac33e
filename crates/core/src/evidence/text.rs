//! Evidence as the front doors print it: verifications, the log, replays.

use std::fmt::Write;

use serde_json::{Value, json};

use super::chain::Verification;
use super::record::Record;
use super::run::{Replay, ReplayOutcome};

fn plural(n: impl Into<u64>) -> &'static str {
    if n.into() == 1 { "" } else { "s" }
}

impl Verification {
    /// The outcome as indented JSON.
    pub fn to_json(&self) -> String {
        // Serializing plain data cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// The outcome for people: one `ok:` line, or `FAILED:` and a line per problem.
    pub fn to_text(&self) -> String {
        let what = if self.bundle { "bundle" } else { "evidence log" };
        let mut s = String::new();
        if self.ok() {
            let _ = write!(
                s,
                "ok: {what} {} verifies: {} record{} ({} signed)",
                self.path.display(),
                self.records,
                plural(self.records),
                self.signed
            );
            if let Some((seq, hash)) = &self.head {
                let _ = write!(s, ", head record {seq} {hash}");
            }
            s.push('\n');
            s.push_str(&self.leftovers_text());
            return s;
        }
        let n = self.problems.len() as u64;
        let _ = writeln!(
            s,
            "FAILED: {what} {} does not verify: {n} problem{}",
            self.path.display(),
            plural(n)
        );
        for p in &self.problems {
            let _ = writeln!(s, "  {p}");
        }
        s.push_str(&self.leftovers_text());
        s
    }

    fn leftovers_text(&self) -> String {
        let mut s = String::new();
        let n = self.leftovers.len() as u64;
        if n > 0 {
            let _ = writeln!(
                s,
                "note: {n} file{} left by a run that did not finish (the next run removes {}):",
                plural(n),
                if n == 1 { "it" } else { "them" }
            );
            for p in &self.leftovers {
                let _ = writeln!(s, "  {}", p.file);
            }
        }
        s
    }
}

/// The log for people: a line per record (number, run, time, KPIs, rows, hash).
pub fn log_text(records: &[Record]) -> String {
    let mut s = String::new();
    for r in records {
        let _ = writeln!(
            s,
            "{:>4}  {}  {}  {}  {} rows  {}{}",
            r.seq,
            r.run_id,
            r.time,
            r.query.kpis.join(","),
            r.result.rows,
            &r.hash[..12.min(r.hash.len())],
            if r.signature.is_some() { "  signed" } else { "" }
        );
    }
    if records.is_empty() {
        s.push_str("no runs recorded (`canary run` records them)\n");
    }
    s
}

/// The log as indented JSON: an object per record with its number, run, time, KPIs, rows,
/// hashes.
pub fn log_json(records: &[Record]) -> String {
    let rows = Value::Array(
        records
            .iter()
            .map(|r| {
                json!({
                    "seq": r.seq, "run_id": r.run_id, "time": r.time, "kpis": r.query.kpis,
                    "rows": r.result.rows, "result_sha256": r.result.sha256, "hash": r.hash,
                    "signed": r.signature.is_some(),
                })
            })
            .collect(),
    );
    format!("{rows:#}\n")
}

impl Record {
    /// One line on what a run recorded: run, record number, rows, short hashes, signature.
    pub fn summary(&self) -> String {
        format!(
            "recorded run {} as record {} ({} rows, result {}, record {}{})",
            self.run_id,
            self.seq,
            self.result.rows,
            &self.result.sha256[..12.min(self.result.sha256.len())],
            &self.hash[..12.min(self.hash.len())],
            if self.signature.is_some() { ", signed" } else { "" }
        )
    }
}

impl Replay {
    /// The outcome for people.
    pub fn to_text(&self) -> String {
        let r = &self.record;
        match &self.outcome {
            ReplayOutcome::Matches => format!(
                "run {} (record {}) replayed: {} input files and {} specs unchanged, result hash matches ({})\n",
                r.run_id,
                r.seq,
                r.inputs.len(),
                r.specs.len(),
                r.result.sha256
            ),
            ReplayOutcome::InputsChanged(changes) => {
                let mut s = format!(
                    "run {} (record {}) cannot be replayed: its inputs changed\n",
                    r.run_id, r.seq
                );
                for c in changes {
                    let _ = writeln!(s, "  {c}");
                }
                s
            }
            ReplayOutcome::ResultDiffers { recorded, recomputed } => format!(
                "run {} (record {}): same inputs, different result: recorded {recorded}, recomputed {recomputed}\n",
                r.run_id, r.seq
            ),
        }
    }

    /// Whether the recomputed result matches the record.
    pub fn matches(&self) -> bool {
        self.outcome == ReplayOutcome::Matches
    }
}
