//! The backtick benchmark, run by `cargo xtask bench`.
//!
//! For each backend, each workload gets a fresh database on the configured server
//! (`BT_DATABASE_URL`, else `DATABASE_URL`, else the server `backtick_testkit::testdb` finds or
//! starts), migrated, used once and dropped:
//!
//! | workload | what | figures |
//! |---|---|---|
//! | `A.enqueue.single` | 2,000 jobs, one `enqueue` call (its own transaction) each | jobs/s |
//! | `A.enqueue.bulk` | 20,000 jobs, `enqueue_many` in batches of 1,000 | jobs/s |
//! | `A.drain.c10`, `A.drain.c50` | 20,000 no-op jobs queued first, then one runner at concurrency 10 / 50, timed from its start until all are done | jobs/s |
//! | `B.latency` | an idle runner; 300 jobs enqueued one at a time, 10 ms apart | p50 / p95 / p99 ms from `created_at` to the worker's start, on the database clock |
//! | `C.steady` | a producer at 5,000 jobs/s for 30 s while a runner (concurrency 50) works | achieved rate, p50 / p99 ms, dead tuples at the end |
//!
//! Output: a table on stdout, then one `RESULT backtick-<backend> <workload> <metric>=<value>`
//! line per figure, and a JSON file in `<target dir>/bench/` (timestamped, and `latest.json`).
//!
//! ```text
//! backtick-bench [--quick] [--backend pg|diesel|all] [--only PREFIX] [--out DIR] [--profile] [--drain-jobs N]
//! ```

mod admin;
mod backend;
mod profile;
mod report;
mod workloads;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use backend::Backend;
use report::{Figure, Report};

const USAGE: &str =
    "usage: backtick-bench [--quick] [--backend pg|diesel|all] [--only PREFIX] [--out DIR] [--profile] [--drain-jobs N]

  --quick          small sizes, a few seconds in all (CI runs this so the benchmark never rots)
  --backend B      pg, diesel or all (default: all)
  --only PREFIX    run only the workloads whose name starts with PREFIX (e.g. A.drain)
  --out DIR        where the JSON goes (default: <target dir>/bench)
  --profile        print where the drain's time goes: store calls (round trips), rows per call,
                   time per call, and the CPU of this process, the database's backends, the machine
  --drain-jobs N   drain N jobs instead of 20,000 (2,000 with --quick): a longer, steadier
                   measurement when comparing variants

The server: BT_DATABASE_URL, else DATABASE_URL, else the one backtick-testkit finds or starts.
Each workload runs in a fresh database created on it (CREATEDB needed) and dropped afterwards.";

/// Command-line options.
struct Options {
    quick: bool,
    backends: Vec<Backend>,
    only: Option<String>,
    out: Option<PathBuf>,
    profile: bool,
    drain_jobs: Option<usize>,
}

/// How big each workload is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    pub(crate) single: usize,
    pub(crate) bulk: usize,
    pub(crate) bulk_batch: usize,
    pub(crate) drain: usize,
    pub(crate) latency_jobs: usize,
    pub(crate) latency_gap: Duration,
    pub(crate) steady_rate: u32,
    pub(crate) steady_for: Duration,
}

impl Sizes {
    const FULL: Sizes = Sizes {
        single: 2_000,
        bulk: 20_000,
        bulk_batch: 1_000,
        drain: 20_000,
        latency_jobs: 300,
        latency_gap: Duration::from_millis(10),
        steady_rate: 5_000,
        steady_for: Duration::from_secs(30),
    };

    const QUICK: Sizes = Sizes {
        single: 200,
        bulk: 2_000,
        bulk_batch: 1_000,
        drain: 2_000,
        latency_jobs: 30,
        latency_gap: Duration::from_millis(10),
        steady_rate: 5_000,
        steady_for: Duration::from_secs(2),
    };
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        quick: false,
        backends: Backend::ALL.to_vec(),
        only: None,
        out: None,
        profile: false,
        drain_jobs: None,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value\n\n{USAGE}"))
        };
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--profile" => options.profile = true,
            "--backend" => {
                let name = value("--backend")?;
                options.backends = match name.as_str() {
                    "all" => Backend::ALL.to_vec(),
                    other => vec![
                        Backend::from_name(other)
                            .ok_or_else(|| format!("unknown backend {other:?}: use pg, diesel or all\n\n{USAGE}"))?,
                    ],
                };
            }
            "--only" => options.only = Some(value("--only")?),
            "--drain-jobs" => {
                let n = value("--drain-jobs")?;
                options.drain_jobs = Some(
                    n.parse()
                        .map_err(|_| format!("--drain-jobs takes a number of jobs, not {n:?}"))?,
                );
            }
            "--out" => options.out = Some(PathBuf::from(value("--out")?)),
            "-h" | "--help" | "help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n\n{USAGE}")),
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse(&args) {
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

async fn run(options: Options) -> Result<(), String> {
    let mut sizes = if options.quick { Sizes::QUICK } else { Sizes::FULL };
    if let Some(n) = options.drain_jobs {
        sizes.drain = n;
    }
    let server = admin::Server::find().await?;
    eprintln!("bench: server {} ({})", server.display_url(), server.version);
    let mut report = Report::new(options.quick, server.settings.clone(), server.version.clone());
    for backend in &options.backends {
        for workload in workloads::ALL {
            if options
                .only
                .as_deref()
                .is_some_and(|prefix| !workload.name.starts_with(prefix))
            {
                continue;
            }
            let load = report::loadavg();
            eprintln!("bench: {} {} (load {load}) ...", backend.result_name(), workload.name);
            let figures = run_one(&server, *backend, workload, &sizes, options.profile).await?;
            for figure in &figures {
                eprintln!("bench:   {}", figure.human());
            }
            report.add(*backend, workload.name, &load, figures);
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

/// One workload on one backend, in a database of its own that is dropped afterwards (also
/// when the workload fails).
async fn run_one(
    server: &admin::Server,
    backend: Backend,
    workload: &workloads::Workload,
    sizes: &Sizes,
    profile: bool,
) -> Result<Vec<Figure>, String> {
    let db = server.create_database(backend.name(), workload.name).await?;
    let result = async {
        let store = backend.open(&db.url).await?;
        let figures = (workload.run)(workloads::Env {
            store: store.clone(),
            db: &db,
            sizes: *sizes,
            profile,
        })
        .await;
        store.close().await;
        figures
    }
    .await;
    server.drop_database(&db).await?;
    result.map_err(|e| format!("{} {}: {e}", backend.result_name(), workload.name))
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
