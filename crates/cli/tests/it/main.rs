//! End-to-end tests of the `canary` binary: exit codes, stdout, stderr.

mod compute;
mod hostile;
mod invalid;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

/// Run `canary` with `args` from the repository root, without colors or a project env var.
pub fn canary(args: &[&str]) -> Output {
    canary_in(&repo(), args)
}

/// Run `canary` with `args` in the folder `cwd`.
pub fn canary_in(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_canary"))
        .args(args)
        .current_dir(cwd)
        .env_remove("CANARY_PROJECT")
        .env("NO_COLOR", "1")
        .output()
        .expect("run canary")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
