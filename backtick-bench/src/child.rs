//! Runners in processes of their own: the benchmark binary started again with
//! `--child ...` runs one runner and reports on its stdout, one line per event, until its
//! stdin closes. `D.processes` starts several to see how runner processes add up;
//! `E.held_memory` and `E.soak` read one runner's memory (`/proc/<pid>/status`) without the
//! benchmark's own allocations in it.
//!
//! The lines a child prints:
//!
//! | line | when |
//! |---|---|
//! | `ready` | its wake-up listener is up and its first claim has passed |
//! | `progress <claimed> <completed>` | with `--progress`, when the counters changed (checked every 2 ms) |
//! | `window <completed> <n> <p50 ms> <p99 ms> <max ms>` | with `--window MS` and the timed worker: start latencies of the jobs started in the last window |
//! | `total <completed> <n> <p50 ms> <p99 ms> <max ms>` | at the end, with the timed worker: all start latencies |
//! | `stopped` | after its runner shut down |

use std::io::{BufRead, BufReader, Write as _};
use std::process::{ChildStdin, ExitCode, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use backtick_postgres::{JobContext, Runner, RunnerBuilder, worker_fn};
use tokio::sync::mpsc;

use crate::backend::{Backend, Store};
use crate::recorder::{Histogram, clock_offset, ms_since};
use crate::workloads::{Args, NOOP, TIMED, wait_idle};

/// The first argument that makes the binary a child runner.
pub(crate) const FLAG: &str = "--child";

/// A worker that holds its job (sleeps for an hour) and so keeps it in memory.
pub(crate) const HOLD: &str = "bench_hold";

/// What the child runner's one worker does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChildWorker {
    /// [`NOOP`]: nothing.
    Noop,
    /// [`TIMED`]: counts its start latency (from `created_at`, database clock).
    Timed,
    /// [`HOLD`]: sleeps for an hour.
    Hold,
}

impl ChildWorker {
    fn name(self) -> &'static str {
        match self {
            ChildWorker::Noop => "noop",
            ChildWorker::Timed => "timed",
            ChildWorker::Hold => "hold",
        }
    }
}

/// How to start a child runner.
#[derive(Debug, Clone)]
pub(crate) struct ChildSpec {
    pub(crate) backend: Backend,
    pub(crate) url: String,
    pub(crate) concurrency: usize,
    pub(crate) worker: ChildWorker,
    /// Print `progress` lines.
    pub(crate) progress: bool,
    /// Print a `window` line this often (timed worker).
    pub(crate) window: Option<Duration>,
}

impl ChildSpec {
    fn to_args(&self) -> Vec<String> {
        let mut args = vec![
            FLAG.to_owned(),
            "--backend".to_owned(),
            self.backend.name().to_owned(),
            "--url".to_owned(),
            self.url.clone(),
            "--concurrency".to_owned(),
            self.concurrency.to_string(),
            "--worker".to_owned(),
            self.worker.name().to_owned(),
        ];
        if self.progress {
            args.push("--progress".to_owned());
        }
        if let Some(window) = self.window {
            args.extend(["--window".to_owned(), window.as_millis().to_string()]);
        }
        args
    }

    fn parse(args: &[String]) -> Result<ChildSpec, String> {
        let mut spec = ChildSpec {
            backend: Backend::Pg,
            url: String::new(),
            concurrency: 10,
            worker: ChildWorker::Noop,
            progress: false,
            window: None,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = || args.next().cloned().ok_or_else(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--backend" => {
                    let name = value()?;
                    spec.backend = Backend::from_name(&name).ok_or_else(|| format!("unknown backend {name:?}"))?;
                }
                "--url" => spec.url = value()?,
                "--concurrency" => spec.concurrency = value()?.parse().map_err(|e| format!("--concurrency: {e}"))?,
                "--worker" => {
                    spec.worker = match value()?.as_str() {
                        "noop" => ChildWorker::Noop,
                        "timed" => ChildWorker::Timed,
                        "hold" => ChildWorker::Hold,
                        other => return Err(format!("unknown worker {other:?}")),
                    }
                }
                "--progress" => spec.progress = true,
                "--window" => {
                    let ms: u64 = value()?.parse().map_err(|e| format!("--window: {e}"))?;
                    spec.window = Some(Duration::from_millis(ms.max(1)));
                }
                other => return Err(format!("unknown child argument {other:?}")),
            }
        }
        Ok(spec)
    }
}

/// The child's `main`: `args` are the words after [`FLAG`].
pub(crate) fn main(args: &[String]) -> ExitCode {
    let result = ChildSpec::parse(args).and_then(|spec| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the tokio runtime: {e}"))?
            .block_on(run(spec))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("backtick-bench child runner: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Print one line to the parent; a parent gone away is not this process's problem.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The latencies of the current window and of the whole run.
#[derive(Default)]
struct Latencies {
    window: Histogram,
    total: Histogram,
}

fn latency_line(kind: &str, completed: u64, histogram: &Histogram) -> String {
    format!(
        "{kind} {completed} {} {:.3} {:.3} {:.3}",
        histogram.len(),
        histogram.percentile(50.0),
        histogram.percentile(99.0),
        histogram.max()
    )
}

async fn run(spec: ChildSpec) -> Result<(), String> {
    let store = spec.backend.open(&spec.url).await?;
    let latencies = Arc::new(Mutex::new(Latencies::default()));
    let builder = Runner::builder(store.queue()).concurrency(spec.concurrency);
    let builder = with_worker(builder, &spec, &store, &latencies).await?;
    let handle = builder.build().map_err(|e| e.to_string())?.start();
    let ready_store = store.clone();
    tokio::spawn(async move {
        if wait_idle(&ready_store).await.is_ok() {
            say("ready");
        }
    });
    let (closed_tx, mut closed) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        let _ = closed_tx.send(());
    });
    let mut ticks = tokio::time::interval(Duration::from_millis(2));
    let mut last = None;
    let mut next_window = spec.window.map(|window| tokio::time::Instant::now() + window);
    loop {
        tokio::select! {
            _ = &mut closed => break,
            _ = ticks.tick() => {}
        }
        let stats = handle.stats();
        if spec.progress && last != Some((stats.claimed, stats.completed)) {
            last = Some((stats.claimed, stats.completed));
            say(&format!("progress {} {}", stats.claimed, stats.completed));
        }
        if let (Some(at), Some(window)) = (next_window, spec.window)
            && tokio::time::Instant::now() >= at
        {
            let histogram = std::mem::take(&mut latencies.lock().unwrap_or_else(PoisonError::into_inner).window);
            say(&latency_line("window", stats.completed, &histogram));
            next_window = Some(at + window);
        }
    }
    if spec.worker == ChildWorker::Hold {
        // Its jobs sleep for an hour: a graceful shutdown would wait `shutdown_timeout` for
        // them. The database is dropped after the workload anyway.
        say("stopped");
        return Ok(());
    }
    let stats = handle.shutdown().await;
    store.close().await;
    if spec.worker == ChildWorker::Timed {
        let total = latencies.lock().unwrap_or_else(PoisonError::into_inner).total.clone();
        say(&latency_line("total", stats.completed, &total));
    }
    say("stopped");
    Ok(())
}

async fn with_worker(
    builder: RunnerBuilder,
    spec: &ChildSpec,
    store: &Store,
    latencies: &Arc<Mutex<Latencies>>,
) -> Result<RunnerBuilder, String> {
    let builder = match spec.worker {
        ChildWorker::Noop => builder.worker(worker_fn(NOOP, |_: JobContext, _: Args| async { Ok(()) })),
        ChildWorker::Hold => builder.worker(worker_fn(HOLD, |_: JobContext, _: Args| async {
            tokio::time::sleep(Duration::from_secs(3_600)).await;
            Ok(())
        })),
        ChildWorker::Timed => {
            let offset = clock_offset(&*store.queue()).await?;
            let latencies = latencies.clone();
            builder.worker(worker_fn(TIMED, move |ctx: JobContext, _: Args| {
                let ms = ms_since(ctx.job().created_at, offset);
                let mut latencies = latencies.lock().unwrap_or_else(PoisonError::into_inner);
                latencies.window.record(ms);
                latencies.total.record(ms);
                async { Ok(()) }
            }))
        }
    };
    Ok(builder)
}

/// One line a child printed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Event {
    Ready,
    Progress { claimed: u64, completed: u64 },
    Window(LatencyLine),
    Total(LatencyLine),
    Stopped,
}

/// A `window` or `total` line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LatencyLine {
    pub(crate) completed: u64,
    pub(crate) n: u64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
}

impl Event {
    fn parse(line: &str) -> Option<Event> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let number = |i: usize| words.get(i).and_then(|w| w.parse::<f64>().ok());
        let latency = || {
            Some(LatencyLine {
                completed: number(1)? as u64,
                n: number(2)? as u64,
                p50_ms: number(3)?,
                p99_ms: number(4)?,
                max_ms: number(5)?,
            })
        };
        match *words.first()? {
            "ready" => Some(Event::Ready),
            "progress" => Some(Event::Progress {
                claimed: number(1)? as u64,
                completed: number(2)? as u64,
            }),
            "window" => latency().map(Event::Window),
            "total" => latency().map(Event::Total),
            "stopped" => Some(Event::Stopped),
            _ => None,
        }
    }
}

/// A running child runner, seen from the parent. Killed if dropped before [`Child::stop`].
pub(crate) struct Child {
    process: Option<std::process::Child>,
    stdin: Option<ChildStdin>,
}

impl Child {
    /// Start a child runner; its events arrive on `events`, tagged with `index`.
    pub(crate) fn spawn(
        spec: &ChildSpec,
        index: usize,
        events: mpsc::UnboundedSender<(usize, Event)>,
    ) -> Result<Child, String> {
        let exe = std::env::current_exe().map_err(|e| format!("cannot find the benchmark's own binary: {e}"))?;
        let mut process = std::process::Command::new(exe)
            .args(spec.to_args())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start a child runner: {e}"))?;
        let stdin = process.stdin.take();
        let stdout = process.stdout.take().ok_or("the child runner has no stdout")?;
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                match Event::parse(&line) {
                    Some(event) => {
                        if events.send((index, event)).is_err() {
                            break;
                        }
                    }
                    None => eprintln!("bench: child runner {index}: {line}"),
                }
            }
        });
        Ok(Child {
            process: Some(process),
            stdin,
        })
    }

    /// The child's process id.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(std::process::Child::id)
    }

    /// Close its stdin (it shuts its runner down) and wait for it to exit.
    pub(crate) async fn stop(mut self) -> Result<(), String> {
        drop(self.stdin.take());
        let Some(mut process) = self.process.take() else {
            return Ok(());
        };
        let status = tokio::task::spawn_blocking(move || process.wait())
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("waiting for a child runner: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("a child runner failed ({status})"))
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if let Some(process) = &mut self.process {
            let _ = process.kill();
            let _ = process.wait();
        }
    }
}

/// The resident memory of process `pid` in KiB (`VmRSS` of `/proc/<pid>/status`).
pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_survives_its_command_line() {
        let spec = ChildSpec {
            backend: Backend::Diesel,
            url: "postgres://u@h/db".to_owned(),
            concurrency: 7,
            worker: ChildWorker::Timed,
            progress: true,
            window: Some(Duration::from_millis(1_500)),
        };
        let args = spec.to_args();
        assert_eq!(args[0], FLAG);
        let parsed = ChildSpec::parse(&args[1..]).unwrap();
        assert_eq!(parsed.backend, spec.backend);
        assert_eq!(parsed.url, spec.url);
        assert_eq!(parsed.concurrency, 7);
        assert_eq!(parsed.worker, ChildWorker::Timed);
        assert!(parsed.progress);
        assert_eq!(parsed.window, spec.window);
    }

    #[test]
    fn events_parse_from_their_lines() {
        assert_eq!(Event::parse("ready"), Some(Event::Ready));
        assert_eq!(
            Event::parse("progress 12 10"),
            Some(Event::Progress {
                claimed: 12,
                completed: 10
            })
        );
        let line = latency_line("window", 40, &Histogram::default());
        assert!(matches!(
            Event::parse(&line),
            Some(Event::Window(LatencyLine {
                completed: 40,
                n: 0,
                ..
            }))
        ));
        assert_eq!(Event::parse("something else"), None);
    }

    #[test]
    fn this_process_has_a_resident_size() {
        assert!(rss_kib(std::process::id()).is_some_and(|kib| kib > 0));
    }
}
