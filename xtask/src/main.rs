//! `cargo xtask`: the project's developer commands.
//!
//! ```text
//! cargo xtask demo                       the demo, on the configured database or a throwaway one
//! cargo xtask test                       every test
//! cargo xtask chaos [ARGS]              the long fault profile: every fault scenario on both backends
//! cargo xtask ci                         cargo fmt --check, clippy -D warnings, test, demo, bench --quick
//! cargo xtask bench [--quick] [--large] [--soak [MIN]] [--backend pg|diesel|all] ...
//!                                        the benchmark; figures in target/bench/
//! cargo xtask migrate run|revert|status  the schema, on the configured database
//! cargo xtask migrate new NAME           a new pair of migration files
//! cargo xtask db start|stop|url|status   the development cluster under target/
//! ```

mod bench;
mod db;
mod migrate;

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::FAILURE;
    };
    let result = match command.as_str() {
        "test" => test(rest),
        "chaos" => chaos(rest),
        "ci" => ci(),
        "demo" => demo(),
        "bench" => bench::run(rest),
        "db" => db::run(rest),
        "migrate" => migrate::run(rest),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command {other:?}\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "usage: cargo xtask <command>

commands:
  demo                       run the demo on BT_DATABASE_URL / DATABASE_URL, else on a throwaway
                             cluster under target/ (started from the system's PostgreSQL)
  test [ARGS]                run every test of the workspace (extra ARGS go to `cargo test`)
  chaos [--profile short|long] [--only SCENARIO] [--backend pg|diesel]
                             the fault suite's long profile on a private cluster under target/
                             (127.0.0.1:56211): prints scenario x lost, duplicates, explained,
                             stuck, self-exits, recovery seconds; fails on a failed audit
  ci                         cargo fmt --check, cargo clippy --all-targets -D warnings, `test`, `demo`,
                             `bench --quick`
  bench [--quick] [--large] [--soak [MIN]] [--backend pg|diesel|all] [--only PREFIX]
        [--profile] [--drain-jobs N] [--out DIR]
                             the benchmark (release; --quick: small N in the dev profile, for CI;
                             --large: the workloads of minutes; --soak: the long steady run);
                             `cargo xtask bench --help` explains each flag
  migrate run|revert|status  apply, revert the last, or list migrations on BT_DATABASE_URL / DATABASE_URL
  migrate new NAME           create migrations/NNNN_NAME.up.sql and .down.sql
  db start|stop|url|status   the development cluster under target/ (127.0.0.1:55432)";

/// Run every test: unit, integration and doc tests of every crate.
fn test(extra: &[String]) -> Result<(), String> {
    let mut args = vec!["test", "--workspace", "--locked"];
    args.extend(extra.iter().map(String::as_str));
    cargo(&args)
}

/// The long fault profile: build the e2e binaries, then run `e2e-chaos` (which starts the
/// `e2e-runner` processes next to it).
fn chaos(extra: &[String]) -> Result<(), String> {
    cargo(&["build", "--locked", "--package", "backtick-e2e", "--bins"])?;
    let target = backtick_testkit::testdb::workspace_target_dir().map_err(|e| e.to_string())?;
    let exe = target.join("debug").join("e2e-chaos");
    let status = Command::new(&exe)
        .args(extra)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("the fault suite failed ({status})"))
    }
}

/// The demo: on the configured database, else on the development cluster (started if needed).
fn demo() -> Result<(), String> {
    let url = match migrate::configured_url() {
        Some(url) => url,
        None => {
            let cluster = backtick_testkit::testdb::LocalCluster::workspace_default().map_err(|e| e.to_string())?;
            eprintln!(
                "xtask: no BT_DATABASE_URL or DATABASE_URL; using a throwaway cluster in {}",
                cluster.dir().display()
            );
            cluster.ensure_running().map_err(|e| e.to_string())?;
            cluster.url()
        }
    };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(&cargo)
        .args(["run", "--locked", "--quiet", "--package", "backtick-demo"])
        .env("BT_DATABASE_URL", &url)
        .status()
        .map_err(|e| format!("cannot run {cargo}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("the demo failed ({status})"))
    }
}

fn ci() -> Result<(), String> {
    cargo(&["fmt", "--all", "--check"])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ])?;
    test(&[])?;
    // The example application must run, not only build; the benchmark must not rot.
    demo()?;
    bench::run(&["--quick".to_owned()])
}

fn cargo(args: &[&str]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    eprintln!("xtask: running cargo {}", args.join(" "));
    let status = Command::new(&cargo)
        .args(args)
        .status()
        .map_err(|e| format!("cannot run {cargo}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cargo {} failed ({status})", args.join(" ")))
    }
}
