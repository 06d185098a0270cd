//! The job filter flags as a [`JobQuery`].

use backtick_core::admin::{JobQuery, TimeRange};
use backtick_core::{QueueAdmin, RunnerId, Timestamp};

use crate::cli::FilterArgs;
use crate::commands::parse_time;
use crate::error::CliError;

/// The [`JobQuery`] the flags describe; times given as ages are measured from the store's
/// clock.
///
/// # Errors
/// [`CliError::BadInput`] for `--args-contain` that is not JSON or a time that does not
/// parse.
pub async fn query(admin: &dyn QueueAdmin, args: &FilterArgs) -> Result<JobQuery, CliError> {
    let mut query = JobQuery {
        states: args.states.clone(),
        queue: args.queue.clone(),
        worker: args.worker.clone(),
        runner: args.runner.clone().map(RunnerId::new),
        error_contains: args.error.clone(),
        ..JobQuery::default()
    };
    if let Some(text) = &args.args_contain {
        query.args_contain = Some(parse_json("--args-contain", text)?);
    }
    let times = [
        &args.created_after,
        &args.created_before,
        &args.finished_after,
        &args.finished_before,
    ];
    if times.iter().any(|t| t.is_some()) {
        let now = admin.now().await?;
        query.created = range(
            ("--created-after", &args.created_after),
            ("--created-before", &args.created_before),
            now,
        )?;
        query.finished = range(
            ("--finished-after", &args.finished_after),
            ("--finished-before", &args.finished_before),
            now,
        )?;
    }
    Ok(query)
}

fn range(from: (&str, &Option<String>), until: (&str, &Option<String>), now: Timestamp) -> Result<TimeRange, CliError> {
    let ago = |now: Timestamp, d: chrono::Duration| now - d;
    let at = |(flag, text): (&str, &Option<String>)| text.as_deref().map(|t| parse_time(flag, t, now, ago)).transpose();
    Ok(TimeRange {
        from: at(from)?,
        until: at(until)?,
    })
}

/// `text` as JSON.
///
/// # Errors
/// [`CliError::BadInput`] naming `flag` and where the JSON is malformed.
pub fn parse_json(flag: &str, text: &str) -> Result<serde_json::Value, CliError> {
    serde_json::from_str(text).map_err(|error| {
        CliError::bad_input(format!(
            "{flag} is not valid JSON ({error}); quote it for the shell, e.g. {flag} '{{\"user_id\": 42}}'"
        ))
    })
}

/// True when no filter flag is set.
pub fn is_empty(args: &FilterArgs) -> bool {
    args.states.is_empty()
        && [
            &args.queue,
            &args.worker,
            &args.runner,
            &args.args_contain,
            &args.error,
            &args.created_after,
            &args.created_before,
            &args.finished_after,
            &args.finished_before,
        ]
        .iter()
        .all(|flag| flag.is_none())
}
