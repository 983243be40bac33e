//! `canary validate [FILE…]`.

use std::path::PathBuf;

use canary_core::{CanaryError, Engine, OpenOptions};

use super::Context;
use crate::ExitStatus;
use crate::args::DiagFormat;
use crate::output::{Style, print};

pub async fn run(ctx: &Context, files: &[PathBuf], format: DiagFormat) -> Result<ExitStatus, CanaryError> {
    let options = OpenOptions {
        extra_files: files.to_vec(),
        ..ctx.env.open_options()
    };
    let v = Engine::validate(&ctx.root()?, &options).await?;
    print(&match format {
        DiagFormat::Json => v.to_json(),
        DiagFormat::Text => v.to_text(&Style::for_stdout(ctx.color)),
    })?;
    Ok(if v.ok() {
        ExitStatus::Success
    } else {
        ExitStatus::Findings
    })
}
