//! `cargo xtask chaos`: the long fault profile ([`backtick_e2e::faults::Profile::long`]) on a
//! private cluster under `target/faults-chaos-<profile>` (127.0.0.1:56211, stall proxy on the first free port of 56212-56219); prints
//! the table of scenario × backend and exits non-zero when an audit failed.
//!
//! ```text
//! e2e-chaos [--profile short|long] [--only SCENARIO] [--backend pg|diesel]
//! ```
//!
//! The runner processes are the `e2e-runner` binary next to this one.

use std::process::ExitCode;

use backtick_e2e::faults::{Lab, Profile, table};
use backtick_e2e::{Backend, HarnessError};

const PG_PORT: u16 = 56211;
const PROXY_PORT: u16 = 56212;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn profile(args: &[String]) -> Result<Profile, HarnessError> {
    let mut profile = match arg(args, "--profile").as_deref() {
        None | Some("long") => Profile::long(),
        Some("short") => Profile::short(),
        Some(other) => return Err(format!("unknown profile {other:?}: expected short or long").into()),
    };
    if let Some(only) = arg(args, "--only") {
        profile.scenarios.retain(|s| s.name() == only);
        if profile.scenarios.is_empty() {
            return Err(format!("no scenario is called {only:?}").into());
        }
    }
    if let Some(backend) = arg(args, "--backend") {
        profile.backends = vec![Backend::from_name(&backend)?];
    }
    Ok(profile)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<ExitCode, HarnessError> {
    let args: Vec<String> = std::env::args().collect();
    let profile = profile(&args)?;
    let exe = std::env::current_exe()?
        .parent()
        .ok_or("the executable has no directory")?
        .join("e2e-runner");
    let dir = backtick_testkit::testdb::workspace_target_dir()?.join(format!("faults-chaos-{}", profile.name));
    let mut lab = Lab::open(&dir, PG_PORT, PROXY_PORT, exe).await?;
    let mut rows = Vec::new();
    let started = std::time::Instant::now();
    for scenario in &profile.scenarios {
        for backend in &profile.backends {
            let row = lab.run(*scenario, *backend, &profile).await?;
            eprintln!(
                "{} on {}: {}",
                scenario.name(),
                backend.name(),
                if row.passed() { "ok" } else { "FAILED" }
            );
            rows.push(row);
        }
    }
    lab.close()?;
    println!(
        "fault profile {} ({} jobs per scenario at {}/s, lease {} ms), {:.0} s:\n\n{}",
        profile.name,
        profile.jobs,
        profile.rate,
        profile.lease_ms,
        started.elapsed().as_secs_f64(),
        table(&rows)
    );
    Ok(if rows.iter().all(|r| r.passed()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
