//! One file per command. Each maps its arguments to one operation of `canary_core`, presents
//! the outcome and returns an [`ExitStatus`]; errors become statuses in [`run`] only.

mod compute;
mod evidence;
mod explain;
mod impact;
mod import;
mod init;
mod lineage;
mod list;
mod mf;
mod run;
mod validate;

use std::path::PathBuf;

use canary_core::validate::{PROJECT_FILE, find_project_root};
use canary_core::{CanaryError, Engine, Environment, QueryRequest};

use crate::ExitStatus;
use crate::args::{Cli, ColorChoice, Command, QueryArgs};
use crate::output::{self, Style};

/// What every command may need: the project folder, the settings from the environment,
/// how to style messages (on stderr) and the color choice (for stdout).
pub struct Context {
    project: Option<PathBuf>,
    pub env: Environment,
    pub style: Style,
    pub color: ColorChoice,
}

impl Context {
    /// The project folder: `--project`, or the nearest folder upwards holding canary.yaml.
    pub fn root(&self) -> Result<PathBuf, CanaryError> {
        match &self.project {
            Some(dir) if dir.join(PROJECT_FILE).is_file() => Ok(dir.clone()),
            Some(dir) => Err(CanaryError::query_hint(
                format!("`{}` holds no canary.yaml", dir.display()),
                "create a project with `canary init DIR`",
            )),
            None => {
                let cwd = std::env::current_dir().map_err(|e| CanaryError::Io {
                    path: ".".into(),
                    source: e,
                })?;
                find_project_root(&cwd).ok_or_else(|| {
                    CanaryError::query_hint(
                        "no canary.yaml here or in any parent folder",
                        "pass --project DIR, or create a project with `canary init DIR`",
                    )
                })
            }
        }
    }

    /// The project, opened with the environment's storage settings.
    pub async fn open(&self) -> Result<Engine, CanaryError> {
        Engine::open_with(&self.root()?, &self.env.open_options()).await
    }
}

/// The query the arguments ask for, as the core receives it.
pub fn request(args: &QueryArgs) -> QueryRequest {
    QueryRequest {
        kpis: args.kpis.clone(),
        grain: args.grain.clone(),
        by: args.by.clone(),
        filter: args.filter.clone(),
        from: args.from.clone(),
        to: args.to.clone(),
        tenant: args.tenant.clone(),
    }
}

/// Run the command; the one place an error becomes a message and an exit status.
pub async fn run(cli: Cli, style: &Style) -> ExitStatus {
    let outcome = match Environment::from_vars(std::env::vars()) {
        Ok(env) => {
            let ctx = Context {
                project: cli.project,
                env,
                style: *style,
                color: cli.color,
            };
            dispatch(cli.command, &ctx).await
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(status) => status,
        Err(CanaryError::Spec(diags)) => {
            output::eprint(&canary_core::diagnostic::render_all(&diags, style));
            ExitStatus::Findings
        }
        Err(CanaryError::Query { message, hint }) => {
            output::report(style, &message, hint.as_deref());
            ExitStatus::Error
        }
        Err(other) => {
            output::report(style, &error_chain(&other), None);
            ExitStatus::Error
        }
    }
}

/// An error and its causes (the core's wording, as the wheel shows it).
fn error_chain(err: &CanaryError) -> String {
    canary_core::error::with_causes(err)
}

async fn dispatch(command: Command, ctx: &Context) -> Result<ExitStatus, CanaryError> {
    match command {
        Command::Init { dir } => init::run(&dir),
        Command::Validate { files, format } => validate::run(ctx, &files, format).await,
        Command::List { what, kpi, format } => list::run(ctx, what, kpi.as_deref(), format).await,
        Command::Compute {
            query,
            format,
            output,
            layout,
        } => compute::run(ctx, &query, format, output.as_deref(), layout).await,
        Command::Explain { query, optimized, sql } => explain::run(ctx, &query, optimized, sql).await,
        Command::Run {
            query,
            sign_key,
            format,
            output,
        } => run::run(ctx, &query, sign_key.as_deref(), format, output.as_deref()).await,
        Command::Lineage { query, format } => lineage::run(ctx, &query, format).await,
        Command::Impact { old, new, format } => impact::run(ctx, &old, &new, format).await,
        Command::Evidence { command } => evidence::run(ctx, command).await,
        Command::Mf { command } => mf::run(command).await,
        Command::Import { command } => import::run(ctx, command).await,
    }
}
