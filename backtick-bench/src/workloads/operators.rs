//! F: the operators' reads on a big table. A table holding `admin_finished` finished jobs
//! (1,000,000: mostly done, some dead, a few cancelled, over several queues, workers and
//! runners, finished over the last six days) and `admin_queued` queued jobs (10,000), then
//! `backtick stats`, `backtick jobs list --state dead` and `backtick queues list`, each run
//! `admin_repeats` times through the CLI's own command functions on the backend's store as
//! `&dyn QueueAdmin`, and (on backtick-postgres, which the binary uses) through the built
//! `backtick` binary, process start included. Each against the 200 ms target of issue 10.
//!
//! The table is filled as a user's runners would have left it, but set-based: one `INSERT ...
//! SELECT generate_series` writing the columns the store's claim and finish write (see
//! [`FILL_FINISHED`]); the queued jobs go through `enqueue_many`. Nothing is analyzed or
//! vacuumed by hand: the reads run on a table whose statistics are whatever autovacuum made of
//! it (on a server without autovacuum, or right after a bulk load: none).

use std::io::sink;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use backtick_cli::cli::Cli;
use backtick_cli::output::Output;
use backtick_postgres::sqlx::{self, Connection, PgConnection};
use backtick_postgres::{NewJob, QueueAdmin};
use clap::Parser;

use super::{ARGS, Env};
use crate::admin::Database;
use crate::backend::Backend;
use crate::report::Figure;

/// What each of the three commands must stay under, in milliseconds.
const TARGET_MS: f64 = 200.0;

/// One command timed.
struct Timed {
    /// As typed after `backtick`.
    args: &'static [&'static str],
    /// Its figures in-process: p50, p95 (ms), p95 / target.
    metrics: [&'static str; 3],
    /// Its figures through the binary.
    bin_metrics: [&'static str; 3],
}

/// The commands timed.
const COMMANDS: &[Timed] = &[
    Timed {
        args: &["stats"],
        metrics: ["stats_p50_ms", "stats_p95_ms", "stats_p95_vs_target"],
        bin_metrics: ["bin_stats_p50_ms", "bin_stats_p95_ms", "bin_stats_p95_vs_target"],
    },
    Timed {
        args: &["jobs", "list", "--state", "dead"],
        metrics: ["dead_list_p50_ms", "dead_list_p95_ms", "dead_list_p95_vs_target"],
        bin_metrics: [
            "bin_dead_list_p50_ms",
            "bin_dead_list_p95_ms",
            "bin_dead_list_p95_vs_target",
        ],
    },
    Timed {
        args: &["queues", "list"],
        metrics: ["queues_list_p50_ms", "queues_list_p95_ms", "queues_list_p95_vs_target"],
        bin_metrics: [
            "bin_queues_list_p50_ms",
            "bin_queues_list_p95_ms",
            "bin_queues_list_p95_vs_target",
        ],
    },
];

/// The workers of the seeded jobs and their queues, one entry per twelfth of the jobs.
const MIX: &[(&str, &str)] = &[
    ("send_email", "mailers"),
    ("send_email", "mailers"),
    ("send_email", "mailers"),
    ("send_sms", "mailers"),
    ("charge_card", "billing"),
    ("refund_payment", "billing"),
    ("build_report", "reports"),
    ("deliver_webhook", "webhooks"),
    ("deliver_webhook", "webhooks"),
    ("resize_image", "default"),
    ("sync_crm", "default"),
    ("resize_image", "default"),
];

/// `$1` how many, `$2` workers and `$3` queues (the [`MIX`], by position), `$4` args, `$5`
/// codec. Finished jobs created 6 days ago to now, id order = creation order, as the store
/// leaves them: 2% dead after 3, 5 or 20 attempts (a failed attempt every 30 s; the history
/// of the earlier attempts in `attempts`, the last error in `last_error`), 0.2% cancelled
/// while queued, 3% done at the second attempt (one failed attempt in the history, its error
/// kept in `last_error` as the finish's `coalesce` keeps it), the rest done at the first;
/// every attempt by one of 8 runners, 3 ms after it was due, lasting up to half a second;
/// lease and cancellation columns cleared, `updated_at` = `finished_at`.
const FILL_FINISHED: &str = "
WITH base AS (
    SELECT i,
           now() - interval '6 days' + (interval '6 days' * i) / $1::int8 AS created,
           abs(hashint8(i)) % 1000 AS fate,
           1 + abs(hashint8(i + 1000003)) % cardinality($2::text[]) AS kind,
           'runner-' || md5('bench-runner-' || (i % 8)) AS runner,
           abs(hashint8(i + 77)) % 500 AS work_ms
    FROM generate_series(1::int8, $1::int8) AS i
),
shaped AS (
    SELECT b.*, ($2::text[])[kind] AS worker, ($3::text[])[kind] AS queue,
           CASE WHEN fate < 20 THEN 'dead' WHEN fate < 22 THEN 'cancelled' ELSE 'done' END AS state,
           CASE WHEN fate < 20 THEN (ARRAY[3, 5, 20])[1 + i % 3]
                WHEN fate < 22 THEN 0
                WHEN fate < 52 THEN 2
                ELSE 1 END AS attempt
    FROM base b
)
INSERT INTO backtick_jobs
    (worker, queue, args, codec, priority, state, attempt, max_attempts, run_at, last_error,
     created_at, updated_at, finished_at, attempted_at, attempted_by, attempts)
SELECT worker, queue, $4::bytea, $5::text, 0, state, attempt,
       CASE WHEN state = 'dead' THEN attempt ELSE 20 END,
       created + greatest(attempt - 1, 0) * interval '30 seconds',
       CASE WHEN state = 'cancelled' THEN 'cancelled by operator'
            WHEN attempt > 1 OR state = 'dead'
            THEN 'error: ' || worker || ' failed: connection reset by peer (attempt ' || attempt || ')' END,
       created,
       created + greatest(attempt - 1, 0) * interval '30 seconds' + (3 + work_ms) * interval '1 ms',
       created + greatest(attempt - 1, 0) * interval '30 seconds' + (3 + work_ms) * interval '1 ms',
       CASE WHEN attempt > 0 THEN created + (attempt - 1) * interval '30 seconds' + interval '3 ms' END,
       CASE WHEN attempt > 0 THEN runner END,
       CASE WHEN attempt > 1 THEN (
           SELECT jsonb_agg(jsonb_build_object(
                      'attempt', a, 'runner', runner,
                      'started_at', created + (a - 1) * interval '30 seconds' + interval '3 ms',
                      'finished_at', created + (a - 1) * interval '30 seconds' + (3 + work_ms) * interval '1 ms',
                      'outcome', 'failed',
                      'error', 'error: ' || worker || ' failed: connection reset by peer (attempt ' || a || ')')
                  ORDER BY a)
           FROM generate_series(1, attempt - 1) AS a) END
FROM shaped
ORDER BY i";

/// F.admin: fill, then time the three commands in-process and through the binary.
pub(super) async fn admin_reads(env: Env<'_>) -> Result<Vec<Figure>, String> {
    let mut figures = seed_operators_table(&env).await?;
    let admin = env.store.admin();
    for command in COMMANDS {
        let times = time_in_process(admin.as_ref(), command.args, env.sizes.admin_repeats).await?;
        figures.extend(summarize(command.args, command.metrics, &times));
    }
    if env.backend == Backend::Pg {
        match binary() {
            Some(binary) => {
                for command in COMMANDS {
                    let times = time_binary(&binary, env.db, command.args, env.sizes.admin_repeats).await?;
                    figures.extend(summarize(command.args, command.bin_metrics, &times));
                }
            }
            None => eprintln!(
                "bench:   no `backtick` binary next to this one (build it: cargo build -p backtick-cli, \
                 in the same profile): the end-to-end rows are skipped"
            ),
        }
    }
    Ok(figures)
}

/// Fill the workload's table as the operators' workloads read it: `admin_finished` finished
/// jobs ([`FILL_FINISHED`]) and `admin_queued` queued ones of the [`MIX`]. Nothing is analyzed
/// or vacuumed. Returns the figures naming the table's size.
pub(super) async fn seed_operators_table(env: &Env<'_>) -> Result<Vec<Figure>, String> {
    let (finished, queued) = (env.sizes.admin_finished, env.sizes.admin_queued);
    let started = Instant::now();
    fill_finished(env.db, finished).await?;
    enqueue_mixed(&*env.store.queue(), queued).await?;
    eprintln!(
        "bench:   {finished} finished + {queued} queued jobs in {:.1} s (not analyzed by hand)",
        started.elapsed().as_secs_f64()
    );
    Ok(vec![
        Figure::new("finished_jobs", finished as f64, "jobs"),
        Figure::new("queued_jobs", queued as f64, "jobs"),
    ])
}

/// Insert `n` finished jobs into `db` with [`FILL_FINISHED`], in one statement.
async fn fill_finished(db: &Database, n: u64) -> Result<(), String> {
    let job = super::job(super::NOOP)?;
    let (workers, queues): (Vec<&str>, Vec<&str>) = MIX.iter().copied().unzip();
    let mut conn = PgConnection::connect(&db.url)
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", db.name))?;
    sqlx::query(FILL_FINISHED)
        .bind(i64::try_from(n).map_err(|e| e.to_string())?)
        .bind(&workers)
        .bind(&queues)
        .bind(&job.args)
        .bind(job.codec.as_str())
        .execute(&mut conn)
        .await
        .map_err(|e| format!("cannot fill the jobs table with finished jobs: {e}"))?;
    let _ = conn.close().await;
    Ok(())
}

/// Enqueue `n` jobs of the [`MIX`] in batches of 1,000; every tenth is due in up to an hour.
async fn enqueue_mixed(store: &dyn backtick_postgres::QueueStore, n: usize) -> Result<(), String> {
    let jobs = (0..n)
        .map(|i| {
            let (worker, queue) = MIX[i % MIX.len()];
            let job = NewJob::new(worker, &ARGS).map_err(|e| e.to_string())?.queue(queue);
            Ok(if i % 10 == 0 {
                job.run_after(Duration::from_secs((i % 3_600) as u64 + 1))
            } else {
                job
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    for batch in jobs.chunks(1_000) {
        store
            .enqueue_many(batch.to_vec(), None)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Run `backtick ARGS` `repeats` times through the CLI's command functions on `admin`, output
/// discarded; the time of each run in milliseconds.
async fn time_in_process(admin: &dyn QueueAdmin, args: &[&str], repeats: usize) -> Result<Vec<f64>, String> {
    let cli = Cli::try_parse_from(std::iter::once("backtick").chain(args.iter().copied()))
        .map_err(|e| format!("bad command line {args:?}: {e}"))?;
    let mut times = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        let mut out = sink();
        let started = Instant::now();
        backtick_cli::commands::run_admin(admin, &cli.command, &mut Output::new(&mut out, false))
            .await
            .map_err(|e| format!("backtick {}: {e}", args.join(" ")))?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(times)
}

/// Run the `backtick` binary with ARGS on `db` `repeats` times, from process start to exit.
async fn time_binary(binary: &Path, db: &Database, args: &[&str], repeats: usize) -> Result<Vec<f64>, String> {
    let mut times = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        let mut command = std::process::Command::new(binary);
        command
            .arg("--database-url")
            .arg(&db.url)
            .args(args)
            .stdout(Stdio::null());
        let started = Instant::now();
        let status = tokio::task::spawn_blocking(move || command.status())
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        if !status.success() {
            return Err(format!("backtick {} failed ({status})", args.join(" ")));
        }
    }
    Ok(times)
}

/// The `backtick` binary cargo built beside this one (`<target dir>/<profile>/backtick`).
fn binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let binary = exe.parent()?.join(format!("backtick{}", std::env::consts::EXE_SUFFIX));
    binary.is_file().then_some(binary)
}

/// The figures of one command: see [`super::timed_figures`].
fn summarize(args: &[&str], metrics: [&'static str; 3], times: &[f64]) -> Vec<Figure> {
    let how = if metrics[0].starts_with("bin_") {
        "binary"
    } else {
        "in-process"
    };
    super::timed_figures(
        &format!("{how} `backtick {}`", args.join(" ")),
        metrics,
        times,
        TARGET_MS,
    )
}
