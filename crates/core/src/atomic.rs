//! Files written whole or not at all: a temporary file beside the target, synced, then
//! renamed over it. A failure at any point leaves the previous file (or none) in place.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use crate::error::{CanaryError, Result};

fn io(path: &Path, source: std::io::Error) -> CanaryError {
    CanaryError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Write `path` atomically with what `write` writes to the file; an error of `write` is a
/// [`CanaryError::Io`] naming `path` and leaves nothing behind.
///
/// ```
/// use std::io::Write;
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("out.csv");
/// canary_core::atomic::write_with(&path, |f| f.write_all(b"a,b\n")).unwrap();
/// assert_eq!(std::fs::read_to_string(&path).unwrap(), "a,b\n");
/// let failed = canary_core::atomic::write_with(&path, |_| Err(std::io::Error::other("no")));
/// assert!(failed.is_err());
/// assert_eq!(std::fs::read_to_string(&path).unwrap(), "a,b\n");
/// ```
pub fn write_with(path: &Path, write: impl FnOnce(&mut File) -> std::io::Result<()>) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(|e| io(dir, e))?;
    write(tmp.as_file_mut()).map_err(|e| io(path, e))?;
    tmp.as_file().sync_all().map_err(|e| io(path, e))?;
    // Temporary files are private (0600); what is written is an ordinary file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644));
    }
    tmp.persist(path).map_err(|e| io(path, e.error))?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Write `bytes` to `path` atomically.
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    write_with(path, |f| f.write_all(bytes))
}
