//! `canary init DIR`.

use std::path::Path;

use canary_core::CanaryError;

use crate::ExitStatus;
use crate::output::eprint;

pub fn run(dir: &Path) -> Result<ExitStatus, CanaryError> {
    canary_core::scaffold::create_project(dir)?;
    let dir = dir.display();
    eprint(&format!(
        "created {dir}: try `canary --project {dir} compute revenue sales average_sale --grain month --by region`\n"
    ));
    Ok(ExitStatus::Success)
}
