//! The short fault profile: every scenario of [`backtick_e2e::faults`] on both backends, on a
//! private cluster under `target/faults-short` (127.0.0.1:56201, stall proxy on the first free port of 56202-56209). Fails
//! on any lost or stuck job, unexplained duplicate or runner that exited on its own. The long
//! profile is `cargo xtask chaos`.

use std::path::PathBuf;

use backtick_e2e::HarnessError;
use backtick_e2e::faults::{Lab, Profile, table};

const PG_PORT: u16 = 56201;
const PROXY_PORT: u16 = 56202;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_short_fault_profile_loses_no_job_and_explains_every_duplicate() -> Result<(), HarnessError> {
    let dir = backtick_testkit::testdb::workspace_target_dir()?.join("faults-short");
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_e2e-runner"));
    let mut lab = Lab::open(&dir, PG_PORT, PROXY_PORT, exe).await?;
    let profile = Profile::short();
    let mut rows = Vec::new();
    for scenario in &profile.scenarios {
        for backend in &profile.backends {
            let started = std::time::Instant::now();
            let row = lab.run(*scenario, *backend, &profile).await?;
            println!(
                "{} on {}: {:.1} s, {row:?}",
                scenario.name(),
                backend.name(),
                started.elapsed().as_secs_f64()
            );
            rows.push(row);
        }
    }
    lab.close()?;
    let table = table(&rows);
    println!("{table}");
    let failed: Vec<_> = rows.iter().filter(|r| !r.passed()).collect();
    assert!(failed.is_empty(), "the audit failed:\n{table}");
    Ok(())
}
