//! `backtick stats [--watch]`: counts per state, recent throughput, the oldest waiting job.

use std::collections::BTreeMap;
use std::time::Duration;

use backtick_core::admin::{COUNT_CAP, Count, QueueInfo, TimeRange};
use backtick_core::{JobState, QueueAdmin, Timestamp};
use serde::Serialize;

use crate::cli::StatsArgs;
use crate::error::CliError;
use crate::output::{Output, Table, age, time};
use crate::views::CountView;

/// Clears the terminal and moves the cursor home, so `--watch` redraws in place.
const CLEAR: &str = "\x1b[2J\x1b[H";

/// The numbers `stats` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    /// When they were taken (the store's clock).
    pub at: Timestamp,
    /// Jobs per state (capped per state).
    pub counts: BTreeMap<&'static str, CountView>,
    /// Jobs finished over the window.
    pub throughput: Throughput,
    /// How long the oldest due job has waited, in seconds; `null` when none is due.
    pub oldest_due_age_secs: Option<u64>,
    /// The queue of that job.
    pub oldest_due_queue: Option<String>,
    /// The paused queues.
    pub paused_queues: Vec<String>,
}

/// Jobs that finished over the last minutes.
#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    /// The window, in minutes.
    pub window_minutes: u32,
    /// Jobs done in the window.
    pub done: u64,
    /// Jobs dead in the window.
    pub dead: u64,
    /// Done jobs per minute over the window.
    pub done_per_minute: f64,
    /// True when more than [`COUNT_CAP`] jobs finished in the window: the figures count the
    /// newest of them only, lower bounds.
    pub capped: bool,
}

/// `stats`: once, or with `--watch` redrawn every `--interval` seconds until interrupted (or
/// `--count` times).
///
/// # Errors
/// A store failure.
pub async fn stats(admin: &dyn QueueAdmin, args: &StatsArgs, out: &mut Output<'_>) -> Result<(), CliError> {
    if args.watch {
        watch(admin, args, out, args.count).await
    } else {
        let stats = collect(admin, args.minutes).await?;
        render(&stats, out)
    }
}

/// Redraw the stats every `--interval` seconds, `frames` times (`None`: until interrupted).
/// With `--json`, one JSON document per refresh instead of a redraw.
///
/// # Errors
/// A store failure.
pub async fn watch(
    admin: &dyn QueueAdmin,
    args: &StatsArgs,
    out: &mut Output<'_>,
    frames: Option<u32>,
) -> Result<(), CliError> {
    let mut drawn = 0;
    loop {
        let stats = collect(admin, args.minutes).await?;
        if out.json {
            serde_json::to_writer(&mut *out.out, &stats).map_err(std::io::Error::from)?;
            out.line("")?;
        } else {
            write!(out.out, "{CLEAR}")?;
            render(&stats, out)?;
            out.line(format!("(every {}s; Ctrl-C to stop)", args.interval))?;
        }
        out.out.flush()?;
        drawn += 1;
        if frames.is_some_and(|frames| drawn >= frames) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(args.interval.max(1))).await;
    }
}

/// Take the numbers.
///
/// # Errors
/// A store failure.
pub async fn collect(admin: &dyn QueueAdmin, minutes: u32) -> Result<Stats, CliError> {
    let at = admin.now().await?;
    // The queue listing already counts every queue's jobs per state: the totals are their
    // sums (a lower bound where a queue's count stopped at the cap), so no second count is
    // made, and the throughput's count runs beside it on another connection.
    let (queues, throughput) = tokio::try_join!(
        async { admin.list_queues(Some(at)).await.map_err(CliError::from) },
        throughput(admin, at, minutes),
    )?;
    let oldest = queues
        .iter()
        .filter_map(|q| q.oldest_due_age.map(|age| (age, &q.name)))
        .max();
    Ok(Stats {
        at,
        counts: JobState::ALL
            .iter()
            .map(|s| (s.as_str(), CountView::from(total(&queues, *s))))
            .collect(),
        throughput,
        oldest_due_age_secs: oldest.map(|(age, _)| age.as_secs()),
        oldest_due_queue: oldest.map(|(_, name)| name.clone()),
        paused_queues: queues
            .iter()
            .filter(|q| q.is_paused())
            .map(|q| q.name.clone())
            .collect(),
    })
}

/// The jobs in `state` over every queue: the sum of the queues' counts, capped when any is.
fn total(queues: &[QueueInfo], state: JobState) -> Count {
    queues
        .iter()
        .map(|q| q.count(state))
        .fold(Count::exact(0), |sum, count| Count {
            value: sum.value + count.value,
            capped: sum.capped || count.capped,
        })
}

/// Done and dead jobs finished in the last `minutes`: one capped count of the finished jobs
/// in the window ([`QueueAdmin::count_finished`], at most [`COUNT_CAP`] jobs read).
async fn throughput(admin: &dyn QueueAdmin, now: Timestamp, minutes: u32) -> Result<Throughput, CliError> {
    let window = TimeRange::since(now - chrono::Duration::minutes(i64::from(minutes)));
    let finished = admin.count_finished(window, COUNT_CAP).await?;
    let (done, dead) = (finished.total(JobState::Done), finished.total(JobState::Dead));
    Ok(Throughput {
        window_minutes: minutes,
        done: done.value,
        dead: dead.value,
        done_per_minute: done.value as f64 / f64::from(minutes.max(1)),
        capped: done.capped || dead.capped,
    })
}

/// Print the numbers, as a table or JSON.
///
/// # Errors
/// [`CliError::Io`].
pub fn render(stats: &Stats, out: &mut Output<'_>) -> Result<(), CliError> {
    if out.json {
        return out.json(stats);
    }
    let mut table = Table::new(&["PENDING", "QUEUED", "RUNNING", "DONE", "DEAD", "CANCELLED"]);
    table.row(
        JobState::ALL
            .iter()
            .map(|s| stats.counts.get(s.as_str()).map_or("0".into(), count_text))
            .collect(),
    );
    out.line(format!("backtick stats at {}", time(Some(stats.at))))?;
    out.table(&table, "")?;
    let t = &stats.throughput;
    let bound = if t.capped { "at least " } else { "" };
    out.line(format!(
        "last {} min: {bound}{} done ({:.1}/min), {bound}{} dead",
        t.window_minutes, t.done, t.done_per_minute, t.dead
    ))?;
    let oldest = match (&stats.oldest_due_queue, stats.oldest_due_age_secs) {
        (Some(queue), Some(secs)) => format!("{} (queue {queue})", age(Some(Duration::from_secs(secs)))),
        _ => "none due".to_owned(),
    };
    out.line(format!("oldest due job waiting: {oldest}"))?;
    if !stats.paused_queues.is_empty() {
        out.line(format!("paused queues: {}", stats.paused_queues.join(", ")))?;
    }
    Ok(())
}

fn count_text(count: &CountView) -> String {
    format!("{}{}", count.value, if count.capped { "+" } else { "" })
}
