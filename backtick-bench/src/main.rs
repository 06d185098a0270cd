//! The backtick benchmark, run by `cargo xtask bench`.
//!
//! It measures what a user gets: each workload gets a fresh database on the configured
//! server (`BT_DATABASE_URL`, else `DATABASE_URL`, else the server `backtick_testkit::testdb`
//! finds or starts), migrated, used once and dropped; jobs go into a fresh, never-analyzed
//! table; the stores and runners run with their default settings; a drain's clock starts
//! before its runner's store connects, as a user's process starts. Nothing is tuned that a
//! user would not have: no `ANALYZE`, `VACUUM` or server setting, except in the figures
//! labelled as comparisons.
//!
//! In the same run the plain SQL limits of the machine are measured on the same server
//! (module [`limits`]: one-row INSERT per commit, batched INSERT, a claim of 100 + their
//! completion in a loop of plain statements), and every throughput figure is also printed as
//! a ratio to its limit, so that figures from different machines can be compared.
//!
//! | workload | what | figures |
//! |---|---|---|
//! | `L.insert`, `L.bulk`, `L.claim`, `L.steady` | the plain SQL limits (see [`limits`]), run once, before the backends | jobs/s or rows/s; `L.steady`: the latency floor at `C.steady`'s rate, p50 / p99 / max ms |
//! | `A.enqueue.single` | 2,000 jobs, one `enqueue` call (its own transaction) each | jobs/s, ratio to `L.insert` c1 |
//! | `A.enqueue.bulk` | 20,000 jobs, `enqueue_many` in batches of 1,000 | jobs/s, ratio to `L.bulk` |
//! | `A.drain.c10`, `A.drain.c50` | 20,000 no-op jobs queued into the fresh table, then one runner at concurrency 10 / 50, timed from before its store connects until all are done | jobs/s, ratio to `L.claim` |
//! | `A.drain.c50.limited` | `A.drain.c50` on a queue with a global concurrency limit of 50 (the runner's concurrency, so never binding): the cost of the limited claim | jobs/s, ratio to `L.claim` |
//! | `A.drain.c10.analyzed`, `A.drain.c50.analyzed` | comparison only: the same drain after a hand-run `ANALYZE`, which a user's burst does not get, and into the fresh table, interleaved (fresh, analyzed, analyzed, fresh, twice; each drain in a fresh database) | jobs/s of each over its four drains, ratio to `L.claim`, `fresh_vs_analyzed` |
//! | `B.latency` | an idle runner; 300 jobs enqueued one at a time, 10 ms apart | p50 / p95 / p99 ms from `created_at` to the worker's start, on the database clock |
//! | `B.first_job` | 200 trials (p99 is then not just the slowest trial): a runner started with `try_start` (as `run_until` does) on a newly connected store, one job enqueued as soon as it returns | p50 / p99 / max ms from `created_at` to the worker's start; p50 / p99 of the enqueue call (insert and commit) and of the time from its return to the worker's start |
//! | `B.due` | an idle runner while, over 10 s, 500 at-jobs fall due, 100 jobs fail once and are retried after the default backoff, a recurring schedule fires every 250 ms and a cron schedule every second | p50 / p99 ms from the due time (`run_at`) to the worker's start, per kind |
//! | `C.steady` | a producer at 5,000 jobs/s for 30 s while a runner (concurrency 50) works | achieved rate, p50 / p99 ms, dead tuples at the end |
//! | `D.processes` | 20,000 jobs drained by one runner process, and by 4 started together (concurrency 10 each; the benchmark binary in its child mode), timed from before they start; interleaved (one, four, four, one, twice; each drain in a fresh database) | jobs/s of each over its four drains, ratio to `L.claim`, `four_vs_one` |
//! | `D.backlog` (`--large`) | 1,000,000 queued jobs drained at concurrency 50, against 20,000 (four drains, each in a fresh database, two before the big one and two after) | jobs/s each, `vs_base` |
//! | `D.finished_10m` (`--large`) | 20,000 jobs drained at concurrency 50, four times, in a table holding 10,000,000 finished jobs (vacuumed and analyzed, as autovacuum would have, and checkpointed, as the server would have), against four drains into empty tables (two before, two after) | jobs/s each, `vs_empty` |
//! | `E.held_memory` | a runner process at concurrency 5,000 whose jobs sleep: resident memory idle and holding 5,000 claimed jobs | MiB, bytes per held job |
//! | `E.soak` (`--soak [MINUTES]`) | a producer at 5,000 jobs/s for 30 minutes while a runner process (concurrency 50) works; every window (a thirtieth of the run) its latencies, the dead tuples and the runner's resident memory | p50 / p99 ms, worst window p99, dead tuples max / end, RSS after warm-up (first sixth) and at the end, growth % |
//! | `F.admin` | a table of 1,000,000 finished jobs (done, 2% dead with their attempt history, some cancelled; 5 queues, 7 workers, 8 runners, finished over six days; one set-based INSERT, not analyzed by hand) and 10,000 queued ones; then `backtick stats`, `jobs list --state dead` and `queues list`, 20 runs each, through the CLI's command functions on the backend as `&dyn QueueAdmin`, and (backtick-pg) through the `backtick` binary, process start included (skipped when it is not built beside this binary) | p50 / p95 ms each, p95 / the 200 ms target |
//! | `F.dashboard` | the table of `F.admin`, then a GET of every dashboard page (overview; jobs unfiltered, by state, queue, worker, args containment, error text, and a second keyset page; one job; queues; cron; runners; errors) through the router in-process (`tower` `oneshot`, body read), the count cache off, 20 runs each | p50 / p95 ms per page, p95 / the 300 ms target |
//!
//! `--quick` runs every workload not behind a flag at small sizes (under a minute; CI runs
//! it); `--large` and `--soak` add the long ones (tiny with `--quick`).
//!
//! Output: a table on stdout, then one `RESULT <subject> <workload> <metric>=<value>` line per
//! figure (subject `backtick-pg`, `backtick-diesel` or `plain-sql`; ` ratio=<r>` appended when
//! the figure has a limit), and a JSON file in `<target dir>/bench/` (timestamped, and
//! `latest.json`) with the ratios and the soak's samples over time.
//!
//! ```text
//! backtick-bench [--quick] [--large] [--soak [MINUTES]] [--backend pg|diesel|all] [--only PREFIX]
//!                [--out DIR] [--profile] [--drain-jobs N]
//! ```

mod admin;
mod backend;
mod child;
mod limits;
mod metrics_switch;
mod options;
mod profile;
mod recorder;
mod report;
mod workloads;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;

use backend::Backend;
use options::{Options, Sizes};
use report::{Figure, PLAIN_SQL, Report, Subject};
use workloads::{Gate, Workload};

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            // B.due's jobs fail once on purpose: their "job failed; retrying" lines are
            // expected, and sqlx's slow-statement warnings (DROP DATABASE, the fills) say
            // nothing the figures do not: both are hidden unless RUST_LOG asks for them.
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,sqlx::query=error,backtick_core::runner::producer=error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(child::FLAG) {
        return child::main(&args[1..]);
    }
    let options = match options::parse(&args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("backtick-bench: cannot start the tokio runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("backtick-bench: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The backtick workloads `options` select, and the limit workloads they need.
fn selection(options: &Options) -> (Vec<&'static Workload>, Vec<&'static Workload>) {
    let mut selected = Vec::new();
    for workload in workloads::ALL.iter().filter(|w| options.selects(w.name)) {
        if options.opens(workload.gate) {
            selected.push(workload);
        } else {
            let flag = if workload.gate == Gate::Large {
                "--large"
            } else {
                "--soak"
            };
            eprintln!("bench: {} needs {flag}; not run", workload.name);
        }
    }
    let needed = |limit: &Workload| {
        selected
            .iter()
            .any(|w| w.limits.iter().any(|l| l.workload() == limit.name))
    };
    let limits = limits::ALL
        .iter()
        .filter(|limit| options.selects(limit.name) || needed(limit))
        .collect();
    (selected, limits)
}

async fn run(options: Options) -> Result<(), String> {
    let sizes = options.sizes();
    let server = admin::Server::find().await?;
    eprintln!("bench: server {} ({})", server.display_url(), server.version);
    let mut report = Report::new(options.quick, server.settings.clone(), server.version.clone());
    let (selected, limits) = selection(&options);
    let plain_sql = Target {
        subject: PLAIN_SQL,
        backend: limits::SCHEMA_BACKEND,
        db_tag: "sql",
    };
    for workload in limits {
        run_and_add(&server, &plain_sql, workload, &sizes, false, &mut report).await?;
    }
    for backend in &options.backends {
        let target = Target {
            subject: backend.result_name(),
            backend: *backend,
            db_tag: backend.name(),
        };
        for workload in &selected {
            run_and_add(&server, &target, workload, &sizes, options.profile, &mut report).await?;
        }
    }
    let out = match options.out {
        Some(dir) => dir,
        None => default_out_dir()?,
    };
    print!("{}", report.table());
    print!("{}", report.result_lines());
    let written = report.write_json(&out)?;
    eprintln!("bench: wrote {}", written.display());
    Ok(())
}

/// Who a workload runs for: a backend, or the plain SQL limits (on the Postgres backend's
/// schema).
struct Target {
    subject: Subject,
    backend: Backend,
    db_tag: &'static str,
}

/// Run `workload` for `target` and add its figures to `report`.
async fn run_and_add(
    server: &admin::Server,
    target: &Target,
    workload: &'static Workload,
    sizes: &Sizes,
    profile: bool,
    report: &mut Report,
) -> Result<(), String> {
    let load = report::loadavg();
    eprintln!("bench: {} {} (load {load}) ...", target.subject, workload.name);
    let series = Mutex::new(Vec::new());
    let started = std::time::Instant::now();
    let figures = run_one(server, target, workload, sizes, profile, &series).await?;
    eprintln!("bench:   ({:.1} s)", started.elapsed().as_secs_f64());
    report.add(target.subject, workload.name, &load, figures);
    report.add_series(
        target.subject,
        workload.name,
        series.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    for line in report.describe(target.subject, workload.name) {
        eprintln!("bench:   {line}");
    }
    Ok(())
}

/// One workload for one target, in a database of its own that is dropped afterwards (also
/// when the workload fails).
async fn run_one(
    server: &admin::Server,
    target: &Target,
    workload: &'static Workload,
    sizes: &Sizes,
    profile: bool,
    series: &Mutex<Vec<serde_json::Value>>,
) -> Result<Vec<Figure>, String> {
    let db = server.create_database(target.db_tag, workload.name).await?;
    let result = async {
        let store = target.backend.open(&db.url).await?;
        let figures = (workload.run)(workloads::Env {
            backend: target.backend,
            server,
            db: &db,
            store: store.clone(),
            sizes: *sizes,
            profile,
            workload: workload.name,
            db_tag: target.db_tag,
            series,
        })
        .await;
        store.close().await;
        figures
    }
    .await;
    server.drop_database(&db).await?;
    result.map_err(|e| format!("{} {}: {e}", target.subject, workload.name))
}

/// `<target dir>/bench`: the workspace's target directory (as `cargo run` sees it), else the
/// one this binary was built into (`<target dir>/<profile>/backtick-bench`).
fn default_out_dir() -> Result<PathBuf, String> {
    match backtick_testkit::testdb::workspace_target_dir() {
        Ok(dir) => Ok(dir.join("bench")),
        Err(error) => std::env::current_exe()
            .ok()
            .and_then(|exe| Some(exe.parent()?.parent()?.join("bench")))
            .ok_or_else(|| format!("{error}; or pass --out DIR")),
    }
}
