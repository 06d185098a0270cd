//! `cargo xtask bench [--quick] [--large] [--soak [MINUTES]] [--backend pg|diesel|all] ...`:
//! build and run the benchmark (`backtick-bench`; its module docs list the workloads).
//!
//! The full run builds in release; `--quick` (small sizes, under a minute, run by CI so the
//! benchmark never rots) runs in the dev profile so that CI builds only one profile. The
//! benchmark uses `BT_DATABASE_URL`, else `DATABASE_URL`, else the server backtick-testkit finds
//! or starts, and creates a fresh database per workload on it. It measures the plain SQL
//! limits of the same server first, then prints a table, one
//! `RESULT <subject> <workload> <metric>=<value>` line per figure (with ` ratio=<r>` to its
//! limit where it has one), and writes `<target dir>/bench/latest.json`.

use std::process::Command;

const USAGE: &str = "usage: cargo xtask bench [--quick] [--large] [--soak [MINUTES]] [--backend pg|diesel|all]
                         [--only PREFIX] [--profile] [--drain-jobs N] [--out DIR]

  --quick          small sizes, under a minute, dev profile (what CI runs)
  --large          also D.backlog (1,000,000 queued jobs) and D.finished_10m (10,000,000 finished
                   jobs in the table): minutes each; tiny with --quick
                   (F.admin, 1,000,000 finished + 10,000 queued jobs, runs without it)
  --soak [MINUTES] also E.soak, 5,000 jobs/s for MINUTES (default 30)
  --backend B      pg, diesel or all (default: all)
  --only PREFIX    only the workloads whose name starts with PREFIX (A.enqueue, A.drain.c50, B, L.claim...)
                   and the plain SQL limits they are compared with
  --profile        also print where the drain's time goes (store calls, round trips, CPU)
  --drain-jobs N   drain N jobs instead of 20,000 (2,000 with --quick)
  --out DIR        where the JSON goes (default: <target dir>/bench)

The server: BT_DATABASE_URL, else DATABASE_URL, else the one backtick-testkit finds or starts
(the development cluster under target/). Each workload gets a database of its own, dropped after.
Results: a table (with each figure's ratio to the plain SQL limit of the same run), RESULT lines,
and <target dir>/bench/latest.json.";

/// Runs `cargo xtask bench ARGS`; `args` are the words after `bench`.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let mut quick = false;
    let mut forwarded: Vec<&str> = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--profile" | "--large" => forwarded.push(arg),
            "--soak" => {
                forwarded.push(arg);
                // MINUTES is optional.
                if let Some(minutes) = rest.clone().next().filter(|next| next.parse::<f64>().is_ok()) {
                    forwarded.push(minutes);
                    rest.next();
                }
            }
            "--backend" | "--only" | "--drain-jobs" | "--out" => {
                let value = rest.next().ok_or_else(|| format!("{arg} needs a value\n\n{USAGE}"))?;
                forwarded.extend([arg.as_str(), value.as_str()]);
            }
            "-h" | "--help" | "help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown bench argument {other:?}\n\n{USAGE}")),
        }
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    // F.admin also times the `backtick` binary end to end (it looks for it beside the
    // benchmark): one build of both, so the dependencies they share are compiled once, with
    // one set of features, not once for each.
    let mut build_args = vec![
        "build",
        "--locked",
        "--package",
        "backtick-bench",
        "--package",
        "backtick-cli",
        "--bin",
        "backtick-bench",
        "--bin",
        "backtick",
    ];
    let profile_dir = if quick {
        forwarded.push("--quick");
        "debug"
    } else {
        build_args.push("--release");
        "release"
    };
    eprintln!("xtask: running cargo {}", build_args.join(" "));
    let built = Command::new(&cargo)
        .args(&build_args)
        .status()
        .map_err(|e| format!("cannot run {cargo}: {e}"))?;
    if !built.success() {
        return Err(format!("building the benchmark failed ({built})"));
    }
    let bench = crate::built_exe(profile_dir, "backtick-bench")?;
    eprintln!("xtask: running {} {}", bench.display(), forwarded.join(" "));
    let status = Command::new(&bench)
        .args(&forwarded)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", bench.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("the benchmark failed ({status})"))
    }
}
