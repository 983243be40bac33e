//! `canary`: the command-line front door of the Canary KPI engine.

mod args;
mod commands;
mod evidence;
mod init;
mod output;
mod progress;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use args::Cli;

/// Exit codes, documented in docs/cli.md.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// The command ran and found problems (e.g. validation diagnostics).
    pub const FINDINGS: u8 = 1;
    /// Bad usage, or an error that stopped the command.
    pub const ERROR: u8 = 2;
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { exit::ERROR } else { exit::OK };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let style = output::Style::detect(cli.color);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            report(&style, &format!("cannot start the runtime: {e}"), None);
            return ExitCode::from(exit::ERROR);
        }
    };
    let code = runtime.block_on(commands::run(cli, &style));
    let _ = std::io::stdout().flush();
    ExitCode::from(code)
}

/// Print an error to stderr.
pub fn report(style: &output::Style, message: &str, hint: Option<&str>) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{}: {message}", style.error("error"));
    if let Some(h) = hint {
        let _ = writeln!(err, "  {}: {h}", style.hint("hint"));
    }
}
