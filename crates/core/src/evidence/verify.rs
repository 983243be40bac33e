//! Verification: recompute every hash, the chain and the signatures; name what broke.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::bundle::{BUNDLE_FILE, verify_bundle};
use super::canonical::{result_hash, sha256_hex};
use super::record::{RECORD_FORMAT, Record, ZERO_HASH};
use super::sign::{VerifyingKey, check};
use super::store::{EVIDENCE_DIR, HEAD, Head, LOG, OBJECTS, RUNS, record_name};

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
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Verify `path`: a project folder (its `.canary/evidence`), an evidence folder, or an
/// exported bundle. With `key`, every record must be signed by it.
pub fn verify(path: &Path, key: Option<&VerifyingKey>) -> crate::error::Result<Verification> {
    if path.join(BUNDLE_FILE).is_file() {
        return Ok(verify_bundle(path, key));
    }
    let project = path.join(crate::validate::PROJECT_FILE).is_file();
    let dir = if project || path.join(EVIDENCE_DIR).is_dir() {
        path.join(EVIDENCE_DIR)
    } else {
        path.to_path_buf()
    };
    if project && !dir.exists() {
        // A project that has recorded no run yet: nothing to verify, nothing wrong.
        return Ok(Verification {
            path: dir,
            bundle: false,
            records: 0,
            signed: 0,
            head: None,
            problems: Vec::new(),
        });
    }
    if !dir.is_dir() {
        return Err(crate::error::CanaryError::query_hint(
            format!("no evidence at `{}`", dir.display()),
            "`canary run` records evidence; pass a project, its .canary/evidence folder, or a bundle",
        ));
    }
    Ok(verify_store(&dir, key).0)
}

/// Verify the log of the project in `root` (none yet is an empty, valid log), and return
/// the committed records it read, oldest first, for a writer to build on.
pub(crate) fn verify_log(root: &Path) -> (Verification, Vec<Record>) {
    verify_store(&root.join(EVIDENCE_DIR), None)
}

pub(crate) struct Checker<'a> {
    pub dir: &'a Path,
    pub key: Option<&'a VerifyingKey>,
    pub problems: Vec<Problem>,
    pub signed: u64,
}

impl Checker<'_> {
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

    /// Check content-addressed objects: each named by the SHA-256 of its bytes.
    pub fn objects(&mut self, named: &BTreeMap<String, u64>) {
        let dir = self.dir.join(OBJECTS);
        let mut present = BTreeSet::new();
        for name in list(&dir) {
            let rel = format!("{OBJECTS}/{name}");
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
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
        .and_then(|b| b.build())
        .map_err(|e| e.to_string())?;
    let schema = datafusion::arrow::record_batch::RecordBatchReader::schema(&reader);
    let batches = reader.collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())?;
    Ok((schema, batches))
}

/// The seq of a record file name (`00000012.json`), if it is one.
pub(crate) fn record_seq(name: &str) -> Option<u64> {
    let seq = name.strip_suffix(".json")?.parse::<u64>().ok()?;
    (record_name(seq) == name).then_some(seq)
}

fn verify_store(dir: &Path, key: Option<&VerifyingKey>) -> (Verification, Vec<Record>) {
    let mut c = Checker {
        dir,
        key,
        problems: Vec::new(),
        signed: 0,
    };
    for name in list(dir) {
        if ![HEAD, LOG, RUNS, OBJECTS].contains(&name.as_str()) {
            c.problem(&name, None, "Canary did not write this file");
        }
    }
    let mut seqs = BTreeSet::new();
    for name in list(&dir.join(LOG)) {
        match record_seq(&name) {
            Some(seq) => {
                seqs.insert(seq);
            }
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
    let last = seqs
        .iter()
        .next_back()
        .copied()
        .unwrap_or(0)
        .max(head.as_ref().map_or(0, |h| h.seq));
    let mut previous: Option<Record> = None;
    let mut named_objects = BTreeMap::new();
    let mut named_runs = BTreeSet::new();
    let mut records = 0;
    let mut read = Vec::new();
    let committed = head.as_ref().map_or(0, |h| h.seq);
    for seq in 1..=last {
        let file = format!("{LOG}/{}", record_name(seq));
        if !seqs.contains(&seq) {
            c.problem(&file, Some(seq), "is missing from the log");
            previous = None;
            continue;
        }
        let Some(record) = c.record(&file, seq) else {
            previous = None;
            continue;
        };
        records += 1;
        let expected_prev = if seq == 1 {
            Some(ZERO_HASH.to_owned())
        } else {
            previous.as_ref().map(|p| p.hash.clone())
        };
        if let Some(prev) = expected_prev
            && record.prev != prev
        {
            c.problem(
                &file,
                Some(seq),
                format!("does not follow record {} (its previous hash differs)", seq - 1),
            );
        }
        if seq > committed {
            c.problems.push(Problem {
                file: file.clone(),
                record: Some(seq),
                message: format!(
                    "is past HEAD (record {committed}): left by a run that did not finish, or HEAD was rolled back"
                ),
                uncommitted: true,
            });
        }
        if let Some(h) = head.as_ref().filter(|h| h.seq == seq)
            && h.hash != record.hash
        {
            c.problem(HEAD, Some(seq), format!("names a hash that is not record {seq}'s"));
        }
        c.result(&record);
        named_runs.insert(record.result.file.path.clone());
        for s in &record.specs {
            named_objects.entry(s.object.clone()).or_insert(seq);
        }
        if seq <= committed {
            read.push(record.clone());
        }
        previous = Some(record);
    }
    if let Some(h) = &head
        && h.seq > 0
        && !seqs.contains(&h.seq)
        && !c.problems.iter().any(|p| p.record == Some(h.seq))
    {
        c.problem(HEAD, Some(h.seq), format!("names record {} which is missing", h.seq));
    }
    for name in list(&dir.join(RUNS)) {
        let rel = format!("{RUNS}/{name}");
        if !named_runs.contains(&rel) {
            c.problem(&rel, None, "no record names this result file");
        }
    }
    c.objects(&named_objects);
    let v = Verification {
        path: dir.to_path_buf(),
        bundle: false,
        records,
        signed: c.signed,
        head: head.map(|h| (h.seq, h.hash)),
        problems: c.problems,
    };
    (v, read)
}
