//! `canary`: the command-line front door of the Canary KPI engine.
//!
//! Each command maps its arguments to one operation of `canary_core` and presents the
//! outcome; nothing here computes. Every command returns an [`ExitStatus`], turned into the
//! process's exit code in `main` and nowhere else.

mod args;
mod commands;
mod output;
mod progress;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use args::Cli;

/// How a command ended; documented in docs/cli.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Exit code 0: the command did what was asked and found nothing wrong.
    Success,
    /// Exit code 1: the command ran and found problems (diagnostics, a log that does not
    /// verify, a breaking change, a replay that does not match).
    Findings,
    /// Exit code 2: bad usage, or an error stopped the command.
    Error,
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> ExitCode {
        ExitCode::from(match status {
            ExitStatus::Success => 0,
            ExitStatus::Findings => 1,
            ExitStatus::Error => 2,
        })
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // `--help` and `--version` are not errors.
            let status = if e.use_stderr() {
                ExitStatus::Error
            } else {
                ExitStatus::Success
            };
            return status.into();
        }
    };
    let style = output::Style::detect(cli.color);
    let status = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(commands::run(cli, &style)),
        Err(e) => {
            output::report(&style, &format!("cannot start the runtime: {e}"), None);
            ExitStatus::Error
        }
    };
    let _ = std::io::stdout().flush();
    status.into()
}
