//! The checks every evidence folder gets, a project's log or an exported bundle: each
//! record read and checked (form, hash, signature, result file), chained to the one
//! before; content-addressed objects; and what they found.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::canonical::{result_hash, sha256_hex};
use super::record::{RECORD_FORMAT, Record, ZERO_HASH};
use super::sign::{VerifyingKey, check};
use super::store::{LOG, OBJECTS, record_name};

/// One thing verification found wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The file, relative to the folder verified.
    pub file: String,
    /// The record concerned, if any.
    pub record: Option<u64>,
    pub message: String,
    /// Left by a run that did not finish (its next run removes it), not necessarily tampering.
    pub uncommitted: bool,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.record {
            Some(seq) => write!(f, "record {seq} ({}): {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// What verification checked and found.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// The folder verified: an evidence log or an exported bundle.
    pub path: PathBuf,
    pub bundle: bool,
    /// Records checked.
    pub records: u64,
    /// Of which signed (and the signature checked).
    pub signed: u64,
    /// The head: the last record's number and hash.
    pub head: Option<(u64, String)>,
    /// In order: the first is the first broken record or file.
    pub problems: Vec<Problem>,
    /// Files a run that did not finish left (temporary files, a result or spec file no
    /// record names): they can hide nothing, fail nothing, and the next run removes them.
    pub leftovers: Vec<Problem>,
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks records and files of one folder, collecting what it finds.
pub(crate) struct Checker<'a> {
    pub dir: &'a Path,
    pub key: Option<&'a VerifyingKey>,
    pub problems: Vec<Problem>,
    pub leftovers: Vec<Problem>,
    pub signed: u64,
}

impl<'a> Checker<'a> {
    pub fn new(dir: &'a Path, key: Option<&'a VerifyingKey>) -> Checker<'a> {
        Checker {
            dir,
            key,
            problems: Vec::new(),
            leftovers: Vec::new(),
            signed: 0,
        }
    }

    /// A file an interrupted run left: noted, not a problem.
    pub fn leftover(&mut self, file: impl Into<String>, message: impl Into<String>) {
        self.leftovers.push(Problem {
            file: file.into(),
            record: None,
            message: message.into(),
            uncommitted: true,
        });
    }

    pub fn problem(&mut self, file: impl Into<String>, record: Option<u64>, message: impl Into<String>) {
        self.problems.push(Problem {
            file: file.into(),
            record,
            message: message.into(),
            uncommitted: false,
        });
    }

    /// Read record file `file` (relative) expected to hold record `seq`; check its form,
    /// hash, signature and its result file. `None` when it cannot be read as a record.
    pub fn record(&mut self, file: &str, seq: u64) -> Option<Record> {
        let path = self.dir.join(file);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                self.problem(file, Some(seq), format!("cannot be read: {e}"));
                return None;
            }
        };
        let record: Record = match serde_json::from_slice(&bytes) {
            Ok(r) => r,
            Err(e) => {
                self.problem(file, Some(seq), format!("is not a valid record: {e}"));
                return None;
            }
        };
        if record.to_canonical().ok().as_deref().map(str::as_bytes) != Some(&bytes[..]) {
            self.problem(
                file,
                Some(seq),
                "is not in canonical form: it was edited after it was written",
            );
        }
        if record.format != RECORD_FORMAT {
            self.problem(file, Some(seq), format!("unknown format `{}`", record.format));
        }
        if record.seq != seq {
            self.problem(
                file,
                Some(seq),
                format!("holds record {} where record {seq} belongs", record.seq),
            );
        }
        match record.compute_hash() {
            Ok(h) if h == record.hash => {}
            Ok(_) => self.problem(file, Some(seq), "its hash does not match its content"),
            Err(e) => self.problem(file, Some(seq), e.to_string()),
        }
        match (&record.signature, self.key) {
            (Some(sig), key) => {
                if let Err(why) = check(sig, &record.hash) {
                    self.problem(file, Some(seq), why);
                } else if let Some(k) = key.filter(|k| k.hex() != sig.public_key) {
                    self.problem(
                        file,
                        Some(seq),
                        format!(
                            "signed with key {} instead of {}",
                            short(&sig.public_key),
                            short(&k.hex())
                        ),
                    );
                } else {
                    self.signed += 1;
                }
            }
            (None, Some(_)) => self.problem(file, Some(seq), "is not signed"),
            (None, None) => {}
        }
        Some(record)
    }

    /// Check a record's result file: present, same size and SHA-256, and its content has
    /// the recorded result hash.
    pub fn result(&mut self, record: &Record) {
        let a = &record.result.file;
        let seq = Some(record.seq);
        let path = self.dir.join(&a.path);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(_) => return self.problem(a.path.clone(), seq, "the result file is missing"),
        };
        if bytes.len() as u64 != a.size || sha256_hex(&bytes) != a.sha256 {
            return self.problem(
                a.path.clone(),
                seq,
                "the result file was changed (size or SHA-256 differ)",
            );
        }
        match read_parquet(bytes) {
            Ok((schema, batches)) => {
                if result_hash(&schema, &batches) != record.result.sha256 {
                    self.problem(
                        a.path.clone(),
                        seq,
                        "the result's content does not have the recorded result hash",
                    );
                }
            }
            Err(e) => self.problem(a.path.clone(), seq, format!("the result file cannot be read: {e}")),
        }
    }

    /// Check content-addressed objects: each named by the SHA-256 of its bytes. An object
    /// no record names is a leftover of an interrupted run when `unnamed_left` (a log),
    /// else a problem (a bundle holds only what its records name).
    pub fn objects(&mut self, named: &BTreeMap<String, u64>, unnamed_left: bool) {
        let dir = self.dir.join(OBJECTS);
        let mut present = BTreeSet::new();
        for name in list(&dir) {
            let rel = format!("{OBJECTS}/{name}");
            if unnamed_left && is_temporary(&name) {
                self.leftover(&rel, LEFT_BY_A_RUN);
                continue;
            }
            if unnamed_left && !named.contains_key(&name) {
                self.leftover(&rel, format!("no record names this object: {LEFT_BY_A_RUN}"));
                present.insert(name);
                continue;
            }
            match std::fs::read(dir.join(&name)) {
                Ok(bytes) if sha256_hex(&bytes) == name => {}
                Ok(_) => self.problem(
                    &rel,
                    named.get(&name).copied(),
                    "its content does not match its name (SHA-256)",
                ),
                Err(e) => self.problem(&rel, None, format!("cannot be read: {e}")),
            }
            if !named.contains_key(&name) {
                self.problem(&rel, None, "no record names this object");
            }
            present.insert(name);
        }
        for (name, seq) in named {
            if !present.contains(name) {
                self.problem(
                    format!("{OBJECTS}/{name}"),
                    Some(*seq),
                    "a spec file the record names is missing",
                );
            }
        }
    }
}

/// Why a leftover is there.
pub(crate) const LEFT_BY_A_RUN: &str = "left by a run that did not finish (the next run removes it)";

/// A temporary file of an atomic write (see [`crate::atomic`]).
pub(crate) fn is_temporary(name: &str) -> bool {
    name.starts_with(".tmp-")
}

pub(crate) fn short(hex: &str) -> &str {
    hex.get(..12).unwrap_or(hex)
}

/// File names in `dir`, sorted (none when it does not exist).
pub(crate) fn list(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

pub(crate) fn read_parquet(
    bytes: Vec<u8>,
) -> Result<
    (
        datafusion::arrow::datatypes::SchemaRef,
        Vec<datafusion::arrow::record_batch::RecordBatch>,
    ),
    String,
> {
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    // A result file is input here (anyone may have changed it), and the Parquet reader
    // panics on some corrupt files (a column chunk of negative length): contained.
    crate::contain::contain(|| {
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
            .and_then(|b| b.build())
            .map_err(|e| e.to_string())?;
        let schema = datafusion::arrow::record_batch::RecordBatchReader::schema(&reader);
        let batches = reader.collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())?;
        Ok((schema, batches))
    })
    .map_err(|panic| format!("the Parquet reader stopped on it: {panic}"))?
}

/// The seq of a record file name (`00000012.json`), if it is one.
pub(crate) fn record_seq(name: &str) -> Option<u64> {
    let seq = name.strip_suffix(".json")?.parse::<u64>().ok()?;
    (record_name(seq) == name).then_some(seq)
}

/// Walk the chain of records `seqs` in the folder's log: each present one (`present`) read
/// and checked, then chained to the one before (record 1 to the zero hash), then passed to
/// `each` for the checks of the caller. A missing record is reported as missing from
/// `place` and breaks the chain there. Returns the records that could be read, in order.
pub(crate) fn walk_chain(
    c: &mut Checker<'_>,
    seqs: RangeInclusive<u64>,
    present: impl Fn(u64) -> bool,
    place: &str,
    mut each: impl FnMut(&mut Checker<'_>, &Record),
) -> Vec<Record> {
    let mut read: Vec<Record> = Vec::new();
    let mut previous: Option<String> = None;
    for seq in seqs {
        let file = format!("{LOG}/{}", record_name(seq));
        if !present(seq) {
            c.problem(&file, Some(seq), format!("is missing from the {place}"));
            previous = None;
            continue;
        }
        let Some(record) = c.record(&file, seq) else {
            previous = None;
            continue;
        };
        let expected = if seq == 1 {
            Some(ZERO_HASH.to_owned())
        } else {
            previous.clone()
        };
        if let Some(prev) = expected
            && record.prev != prev
        {
            c.problem(
                &file,
                Some(seq),
                format!("does not follow record {} (its previous hash differs)", seq - 1),
            );
        }
        each(c, &record);
        previous = Some(record.hash.clone());
        read.push(record);
    }
    read
}
