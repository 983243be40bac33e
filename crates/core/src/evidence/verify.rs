//! Verification: recompute every hash, the chain and the signatures; name what broke.

use std::path::Path;

use super::bundle::{is_bundle, verify_bundle};
use super::chain::Verification;
use super::log_check::verify_store;
use super::sign::VerifyingKey;
use super::store::EVIDENCE_DIR;

/// Verify `path`: a project folder (its `.canary/evidence`), an evidence folder, or an
/// exported bundle. With `key`, every record must be signed by it.
pub fn verify(path: &Path, key: Option<&VerifyingKey>) -> crate::error::Result<Verification> {
    if is_bundle(path) {
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
            leftovers: Vec::new(),
        });
    }
    let holds_evidence = |d: &Path| {
        [super::store::HEAD, super::store::LOG, super::store::RUNS]
            .iter()
            .any(|f| d.join(f).exists())
    };
    if !dir.is_dir() || (!project && !holds_evidence(&dir)) {
        return Err(crate::error::CanaryError::query_hint(
            format!("no evidence at `{}`", dir.display()),
            "`canary run` records evidence; pass a project, its .canary/evidence folder, or a bundle",
        ));
    }
    // A shared lock: a run commits under the exclusive one, so the log is read between
    // commits, never halfway through one. A folder that cannot be locked (a read-only
    // copy on a filesystem without locks) is read as it is.
    let lock = std::fs::File::open(&dir).ok().filter(|f| f.lock_shared().is_ok());
    let verification = verify_store(&dir, key).0;
    drop(lock);
    Ok(verification)
}
