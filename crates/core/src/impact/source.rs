//! Where the two contracts of an impact analysis come from: a file, or a file at a git
//! revision (`REV:PATH`, read with `git show`).

use std::path::Path;

use crate::error::{CanaryError, Result};
use crate::spec::SourceFile;

/// A contract's text, and its path relative to the project when it is the project's own.
#[derive(Debug, Clone)]
pub struct ContractSource {
    /// The text, named as messages show it.
    pub file: SourceFile,
    /// The path relative to the project root, when the file is inside the project.
    pub in_project: Option<String>,
}

fn io(path: &str, source: std::io::Error) -> CanaryError {
    CanaryError::Io {
        path: path.to_owned(),
        source,
    }
}

/// `path` relative to `root`, when it is inside it (both resolved on disk).
fn relative(root: &Path, path: &Path) -> Option<String> {
    let absolute = std::fs::canonicalize(path).ok()?;
    let root = std::fs::canonicalize(root).ok()?;
    absolute
        .strip_prefix(&root)
        .ok()
        .map(|p| p.to_string_lossy().replace('\\', "/"))
}

/// The contract `arg` names: a file, or `REV:PATH` for the file at a git revision of the
/// repository holding the working folder.
///
/// ```no_run
/// use canary_core::impact::read_contract;
/// let root = std::path::Path::new("examples/retail");
/// let old = read_contract(root, "HEAD~1:examples/retail/products/orders.yaml")?;
/// let new = read_contract(root, "examples/retail/products/orders.yaml")?;
/// assert_eq!(new.in_project.as_deref(), Some("products/orders.yaml"));
/// # Ok::<(), canary_core::CanaryError>(())
/// ```
///
/// # Errors
/// A query error when `arg` is neither a file nor `REV:PATH`, or `git show` fails; an I/O
/// error when the file cannot be read.
pub fn read_contract(root: &Path, arg: &str) -> Result<ContractSource> {
    let path = Path::new(arg);
    if path.is_file() {
        let text = crate::atomic::read_text(path)?;
        let in_project = relative(root, path);
        return Ok(ContractSource {
            file: SourceFile {
                display: in_project.clone().unwrap_or_else(|| arg.to_owned()),
                text,
            },
            in_project,
        });
    }
    let Some((rev, file)) = arg.split_once(':').filter(|(rev, _)| !rev.is_empty()) else {
        return Err(CanaryError::query_hint(
            format!("`{arg}` is not a file"),
            "give a contract file, or REV:PATH for a git revision",
        ));
    };
    let spec = if file.starts_with("./") || file.starts_with('/') {
        format!("{rev}:{file}")
    } else {
        format!("{rev}:./{file}")
    };
    let out = std::process::Command::new("git")
        .args(["show", &spec])
        .output()
        .map_err(|e| io("git", e))?;
    if !out.status.success() {
        return Err(CanaryError::query(format!(
            "git show {spec}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let text = String::from_utf8(out.stdout).map_err(|_| CanaryError::query(format!("{spec} is not UTF-8 text")))?;
    Ok(ContractSource {
        file: SourceFile {
            display: arg.to_owned(),
            text,
        },
        in_project: relative(root, Path::new(file)),
    })
}
