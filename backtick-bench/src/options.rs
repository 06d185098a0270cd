//! The command line and the sizes of the workloads.

use std::path::PathBuf;
use std::time::Duration;

use crate::backend::Backend;
use crate::workloads::Gate;

pub(crate) const USAGE: &str =
    "usage: backtick-bench [--quick] [--large] [--soak [MINUTES]] [--backend pg|diesel|all] [--only PREFIX]
                     [--out DIR] [--profile] [--drain-jobs N]

  --quick          small sizes, under a minute in all (CI runs this so the benchmark never rots)
  --large          also the workloads that take minutes: D.backlog (1,000,000 queued jobs) and
                   D.finished_10m (10,000,000 finished jobs in the table); tiny with --quick
  --soak [MINUTES] also E.soak: 5,000 jobs/s for MINUTES (default 30; fractions allowed)
  --backend B      pg, diesel or all (default: all)
  --only PREFIX    run only the workloads whose name starts with PREFIX (e.g. A.drain, L.claim);
                   the plain SQL limits the selected workloads are compared with run too
  --out DIR        where the JSON goes (default: <target dir>/bench)
  --profile        print where the drain's time goes: store calls (round trips), rows per call,
                   time per call, and the CPU of this process, the database's backends, the machine
  --drain-jobs N   drain N jobs instead of 20,000 (2,000 with --quick): a longer, steadier
                   measurement when comparing variants

The server: BT_DATABASE_URL, else DATABASE_URL, else the one backtick-testkit finds or starts.
Each workload runs in a fresh database created on it (CREATEDB needed) and dropped afterwards.";

/// Command-line options.
pub(crate) struct Options {
    pub(crate) quick: bool,
    pub(crate) large: bool,
    /// `--soak`: how long.
    pub(crate) soak: Option<Duration>,
    pub(crate) backends: Vec<Backend>,
    pub(crate) only: Option<String>,
    pub(crate) out: Option<PathBuf>,
    pub(crate) profile: bool,
    pub(crate) drain_jobs: Option<usize>,
}

impl Options {
    /// Whether a workload behind `gate` was asked for.
    pub(crate) fn opens(&self, gate: Gate) -> bool {
        match gate {
            Gate::Always => true,
            Gate::Large => self.large,
            Gate::Soak => self.soak.is_some(),
        }
    }

    /// Whether `--only` (if given) selects `name`.
    pub(crate) fn selects(&self, name: &str) -> bool {
        self.only.as_deref().is_none_or(|prefix| name.starts_with(prefix))
    }

    /// The sizes of this run.
    pub(crate) fn sizes(&self) -> Sizes {
        let mut sizes = if self.quick { Sizes::QUICK } else { Sizes::FULL };
        if let Some(n) = self.drain_jobs {
            sizes.drain = n;
        }
        if let Some(soak) = self.soak {
            sizes.soak_for = soak;
        }
        sizes
    }
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
    /// B.first_job: runners started.
    pub(crate) first_job_trials: usize,
    /// B.due: how long due jobs keep falling due.
    pub(crate) due_window: Duration,
    pub(crate) due_at_jobs: usize,
    pub(crate) due_retry_jobs: usize,
    /// E.held_memory: jobs one runner holds.
    pub(crate) held_jobs: usize,
    /// D.backlog: queued jobs.
    pub(crate) backlog: usize,
    /// D.finished_10m: finished jobs in the table.
    pub(crate) finished_rows: u64,
    /// F.admin and F.dashboard: finished jobs in the table.
    pub(crate) admin_finished: u64,
    /// F.admin and F.dashboard: queued jobs beside them.
    pub(crate) admin_queued: usize,
    /// F.admin and F.dashboard: runs of each command or page.
    pub(crate) admin_repeats: usize,
    pub(crate) soak_rate: u32,
    pub(crate) soak_for: Duration,
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
        first_job_trials: 200,
        due_window: Duration::from_secs(10),
        due_at_jobs: 500,
        due_retry_jobs: 100,
        held_jobs: 5_000,
        backlog: 1_000_000,
        finished_rows: 10_000_000,
        admin_finished: 1_000_000,
        admin_queued: 10_000,
        admin_repeats: 20,
        soak_rate: 5_000,
        soak_for: Duration::from_secs(30 * 60),
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
        first_job_trials: 5,
        due_window: Duration::from_secs(2),
        due_at_jobs: 40,
        due_retry_jobs: 5,
        held_jobs: 500,
        backlog: 20_000,
        finished_rows: 100_000,
        admin_finished: 20_000,
        admin_queued: 1_000,
        admin_repeats: 3,
        soak_rate: 5_000,
        soak_for: Duration::from_secs(30 * 60),
    };
}

/// The default length of `--soak`.
const SOAK_MINUTES: f64 = 30.0;

/// Parse the command line (without the program name).
///
/// # Errors
/// The message to print: the usage, or what is wrong.
pub(crate) fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        quick: false,
        large: false,
        soak: None,
        backends: Backend::ALL.to_vec(),
        only: None,
        out: None,
        profile: false,
        drain_jobs: None,
    };
    let mut args = args.iter().peekable();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value\n\n{USAGE}"))
        };
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--large" => options.large = true,
            "--profile" => options.profile = true,
            "--soak" => {
                let minutes = match args.peek().and_then(|next| next.parse::<f64>().ok()) {
                    Some(minutes) => {
                        args.next();
                        minutes
                    }
                    None => SOAK_MINUTES,
                };
                if !(minutes.is_finite() && minutes > 0.0) {
                    return Err(format!("--soak takes a positive number of minutes, not {minutes}"));
                }
                options.soak = Some(Duration::from_secs_f64(minutes * 60.0));
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(args: &[&str]) -> Options {
        parse(&args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn soak_takes_optional_minutes() {
        assert_eq!(parsed(&["--soak"]).soak, Some(Duration::from_secs(1_800)));
        assert_eq!(parsed(&["--soak", "0.5"]).soak, Some(Duration::from_secs(30)));
        let options = parsed(&["--soak", "--quick"]);
        assert_eq!(options.soak, Some(Duration::from_secs(1_800)));
        assert!(options.quick);
        assert!(parse(&["--soak".to_owned(), "0".to_owned()]).is_err());
    }

    #[test]
    fn gated_workloads_run_only_when_asked_for() {
        let plain = parsed(&["--quick"]);
        assert!(plain.opens(Gate::Always));
        assert!(!plain.opens(Gate::Large));
        assert!(!plain.opens(Gate::Soak));
        let all = parsed(&["--large", "--soak", "1"]);
        assert!(all.opens(Gate::Large) && all.opens(Gate::Soak));
        assert_eq!(all.sizes().soak_for, Duration::from_secs(60));
    }

    #[test]
    fn only_selects_by_prefix() {
        let options = parsed(&["--only", "A.drain"]);
        assert!(options.selects("A.drain.c10.analyzed"));
        assert!(!options.selects("A.enqueue.bulk"));
        assert!(parsed(&[]).selects("anything"));
    }
}
