//! `canary mf query`: a MetricFlow query over Parquet.

use canary_core::CanaryError;
use canary_core::mf::MfQuery;

use crate::ExitStatus;
use crate::args::MfCommand;
use crate::output::{check_binary_to_terminal, emit};
use crate::progress::Progress;

pub async fn run(command: MfCommand) -> Result<ExitStatus, CanaryError> {
    let MfCommand::Query(args) = command;
    check_binary_to_terminal(args.format, args.output.as_deref())?;
    let query = MfQuery {
        metrics: args.metrics,
        group_by: args.group_by,
        where_filters: args.filters,
        order_by: args.order_by,
        limit: args.limit,
        start_time: args.start_time,
        end_time: args.end_time,
        saved_query: args.saved_query,
        min_max_only: args.min_max_only,
        apply_group_by: !args.no_dedupe,
    };
    let progress = Progress::start("computing".into());
    let result = canary_core::mf::run_query(&args.manifest, &args.data, &query).await;
    progress.finish();
    let result = result?;
    emit(
        &result.schema,
        &result.batches,
        args.format,
        None,
        args.output.as_deref(),
    )?;
    Ok(ExitStatus::Success)
}
