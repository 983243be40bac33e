//! Files written whole or not at all: a temporary file beside the target, synced, then
//! renamed over it. A failure at any point leaves the previous file (or none) in place.
//!
//! Only regular files are replaced. [`write_with`] (Canary's own files: the evidence log)
//! refuses any other target, a symbolic link included; [`write_output`] (a file a user
//! asked for, `--output`) writes through a link to its target and straight into a device
//! or a pipe (`/dev/null`, `/dev/stdout`), never replacing them.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use crate::error::{CanaryError, Result};

/// The largest text file Canary reads whole (specs, manifests, keys, contracts): 8 MiB.
pub const MAX_TEXT_BYTES: u64 = 8 * 1024 * 1024;

/// Read a text file of at most [`MAX_TEXT_BYTES`]. Only a regular file is read: a FIFO or a
/// device (`/dev/zero`) would block or never end.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("a.yaml");
/// std::fs::write(&path, "kpis: []\n").unwrap();
/// assert_eq!(canary_core::atomic::read_text(&path).unwrap(), "kpis: []\n");
/// assert!(canary_core::atomic::read_text(dir.path()).is_err());
/// ```
///
/// # Errors
/// An I/O error naming the file when it is missing, not a regular file, larger than the
/// bound, or not UTF-8.
pub fn read_text(path: &Path) -> Result<String> {
    use std::io::Read;
    let refuse = |message: String| io(path, std::io::Error::new(std::io::ErrorKind::InvalidInput, message));
    // Looked at before it is opened: opening a FIFO blocks until someone writes to it.
    let meta = std::fs::metadata(path).map_err(|e| io(path, e))?;
    if !meta.is_file() {
        return Err(refuse("not a regular file".into()));
    }
    let file = File::open(path).map_err(|e| io(path, e))?;
    if meta.len() > MAX_TEXT_BYTES {
        return Err(refuse(format!(
            "{} bytes; at most {MAX_TEXT_BYTES} are read",
            meta.len()
        )));
    }
    let mut text = String::new();
    file.take(MAX_TEXT_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| io(path, e))?;
    if text.len() as u64 > MAX_TEXT_BYTES {
        return Err(refuse(format!("more than {MAX_TEXT_BYTES} bytes")));
    }
    Ok(text)
}

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
    if let Ok(meta) = std::fs::symlink_metadata(path)
        && !meta.is_file()
    {
        return Err(CanaryError::query_hint(
            format!("`{}` exists and is not a regular file: not replaced", path.display()),
            "remove it, or write elsewhere",
        ));
    }
    replace(path, write)
}

/// Write the file a user asked for: atomically when it is a regular file or does not
/// exist; through a symbolic link to (atomically) its target; straight into a device or a
/// pipe. A folder is refused.
///
/// ```
/// use std::io::Write;
/// let dir = tempfile::tempdir().unwrap();
/// let target = dir.path().join("target.csv");
/// let link = dir.path().join("link.csv");
/// std::os::unix::fs::symlink(&target, &link).unwrap();
/// canary_core::atomic::write_output(&link, |f| f.write_all(b"a\n")).unwrap();
/// assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link stays");
/// assert_eq!(std::fs::read_to_string(&target).unwrap(), "a\n");
/// canary_core::atomic::write_output(std::path::Path::new("/dev/null"), |f| f.write_all(b"x")).unwrap();
/// assert!(canary_core::atomic::write_output(dir.path(), |f| f.write_all(b"x")).is_err());
/// ```
///
/// # Errors
/// An I/O error naming `path` when it cannot be written; a query error for a folder.
pub fn write_output(path: &Path, write: impl FnOnce(&mut File) -> std::io::Result<()>) -> Result<()> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return replace(path, write);
    };
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(path).map_err(|e| io(path, e))?;
        let target = match path.parent() {
            Some(dir) if target.is_relative() => dir.join(target),
            _ => target,
        };
        // A chain of links is followed one link at a time, up to a bound.
        return follow(&target, write, 1);
    }
    if meta.is_dir() {
        return Err(CanaryError::query(format!("`{}` is a folder", path.display())));
    }
    if meta.is_file() {
        return replace(path, write);
    }
    // A device, a pipe, a socket: written into, as a shell's `>` would.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| io(path, e))?;
    write(&mut f).map_err(|e| io(path, e))
}

/// Links followed at most from an output path (as the kernel's own limit, `ELOOP`).
const MAX_LINKS: usize = 40;

fn follow(path: &Path, write: impl FnOnce(&mut File) -> std::io::Result<()>, depth: usize) -> Result<()> {
    if depth > MAX_LINKS {
        return Err(CanaryError::query(format!(
            "`{}`: more than {MAX_LINKS} symbolic links in a row",
            path.display()
        )));
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            let target = std::fs::read_link(path).map_err(|e| io(path, e))?;
            let target = match path.parent() {
                Some(dir) if target.is_relative() => dir.join(target),
                _ => target,
            };
            follow(&target, write, depth + 1)
        }
        _ => write_output(path, write),
    }
}

/// Write `path` (a regular file, or none yet) through a temporary file and a rename.
fn replace(path: &Path, write: impl FnOnce(&mut File) -> std::io::Result<()>) -> Result<()> {
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
