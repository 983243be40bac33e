//! The evidence folder on disk: atomic writes, the head, records, objects, results.

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::canonical::canonical_json;
use super::record::Record;
use crate::error::{CanaryError, Result};

/// The evidence folder, relative to the project.
pub const EVIDENCE_DIR: &str = ".canary/evidence";

pub(crate) const HEAD: &str = "HEAD";
pub(crate) const LOG: &str = "log";
pub(crate) const RUNS: &str = "runs";
pub(crate) const OBJECTS: &str = "objects";

/// The last committed record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Head {
    pub seq: u64,
    pub hash: String,
}

impl Head {
    pub(crate) fn to_canonical(&self) -> String {
        canonical_json(&serde_json::to_value(self).unwrap_or_default()) + "\n"
    }
}

/// An evidence folder.
#[derive(Debug, Clone)]
pub struct Store {
    pub dir: PathBuf,
}

pub(crate) fn io(path: &Path, source: std::io::Error) -> CanaryError {
    CanaryError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Name of record `seq`'s file under `log/`.
pub(crate) fn record_name(seq: u64) -> String {
    format!("{seq:08}.json")
}

impl Store {
    /// The evidence folder of the project in `root`.
    pub fn of_project(root: &Path) -> Store {
        Store {
            dir: root.join(EVIDENCE_DIR),
        }
    }

    pub fn exists(&self) -> bool {
        self.dir.is_dir()
    }

    /// Hold the folder's lock (an advisory lock on the folder itself, so that no lock file
    /// is left behind) until the returned handle is dropped.
    pub(crate) fn lock(&self) -> Result<File> {
        std::fs::create_dir_all(&self.dir).map_err(|e| io(&self.dir, e))?;
        let f = File::open(&self.dir).map_err(|e| io(&self.dir, e))?;
        f.lock().map_err(|e| io(&self.dir, e))?;
        Ok(f)
    }

    pub(crate) fn read_head(&self) -> Result<Option<Head>> {
        let path = self.dir.join(HEAD);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| CanaryError::data_caused(format!("{}: not a head: {e}", path.display()), e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path, e)),
        }
    }

    pub(crate) fn record_path(&self, seq: u64) -> PathBuf {
        self.dir.join(LOG).join(record_name(seq))
    }

    pub(crate) fn read_record(&self, seq: u64) -> Result<Record> {
        let path = self.record_path(seq);
        let text = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
        serde_json::from_str(&text)
            .map_err(|e| CanaryError::data_caused(format!("{}: not a record: {e}", path.display()), e))
    }

    /// The committed records, oldest first (read as they are: `verify` checks them).
    pub fn records(&self) -> Result<Vec<Record>> {
        let Some(head) = self.read_head()? else {
            return Ok(Vec::new());
        };
        (1..=head.seq).map(|seq| self.read_record(seq)).collect()
    }

    /// Remove what a run that did not commit left behind: records past the head, result
    /// files and objects no committed record names, temporary files.
    pub(crate) fn recover(&self, head: Option<&Head>, committed: &[Record]) -> Result<()> {
        let last = head.map(|h| h.seq).unwrap_or(0);
        let named_runs: std::collections::BTreeSet<&str> =
            committed.iter().map(|r| r.result.file.path.as_str()).collect();
        let named_objects: std::collections::BTreeSet<String> = committed
            .iter()
            .flat_map(|r| r.specs.iter().map(|s| format!("{OBJECTS}/{}", s.object)))
            .collect();
        for sub in [LOG, RUNS, OBJECTS] {
            let dir = self.dir.join(sub);
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let rel = format!("{sub}/{name}");
                let stale = name.starts_with(".tmp-")
                    || match sub {
                        LOG => name
                            .strip_suffix(".json")
                            .and_then(|n| n.parse::<u64>().ok())
                            .is_some_and(|seq| seq > last),
                        RUNS => !named_runs.contains(rel.as_str()),
                        _ => !named_objects.contains(&rel),
                    };
                if stale {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().starts_with(".tmp-") {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        Ok(())
    }
}
