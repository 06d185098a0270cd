//! `cargo xtask db start|stop|url|status`: the workspace's development PostgreSQL cluster.
//!
//! The cluster is backtick-testkit's `LocalCluster::workspace_default()`: the checkout's `target/backtick-pg`
//! on 127.0.0.1:55432 (or `BACKTICK_TEST_PG_PORT`; without it, the next free port when another
//! server, such as another checkout's cluster, holds 55432), started from the system's PostgreSQL
//! binaries.
//! It is the same server that tests start on their own when `BACKTICK_TEST_DATABASE_URL` and
//! `DATABASE_URL` are unset, so `db start` before `cargo test` only saves the first test a second.

use backtick_testkit::testdb::{ClusterStatus, LocalCluster};

const USAGE: &str = "usage: cargo xtask db <start|stop|url|status>

  start    start the cluster, creating it on first use, and print its url
  stop     stop the cluster (its data stays in target/backtick-pg)
  url      print the cluster's url
  status   print whether the cluster runs, its url and its directory

The cluster listens on 127.0.0.1:55432, or on the next free port when another server (another
checkout's cluster) holds it (set BACKTICK_TEST_PG_PORT to pin a port), and lives in
target/backtick-pg of the checkout (also when CARGO_TARGET_DIR points elsewhere). As root, when the
postgres user cannot enter that directory, its data lives in /tmp/backtick-pg-<hash>.";

/// Runs `cargo xtask db ARGS`; `args` are the words after `db`.
///
/// Prints the url on stdout for `start` and `url`, so that `export DATABASE_URL=$(cargo xtask db start)` works.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let [command] = args else {
        return Err(USAGE.to_owned());
    };
    if matches!(command.as_str(), "help" | "--help" | "-h") {
        println!("{USAGE}");
        return Ok(());
    }
    let cluster = LocalCluster::workspace_default().map_err(|e| e.to_string())?;
    match command.as_str() {
        "start" => start(&cluster),
        "stop" => stop(&cluster),
        "url" => {
            println!("{}", cluster.url());
            Ok(())
        }
        "status" => {
            println!("{}: {} in {}", cluster.status(), cluster.url(), cluster.dir().display());
            Ok(())
        }
        other => Err(format!("unknown db command {other:?}\n\n{USAGE}")),
    }
}

fn start(cluster: &LocalCluster) -> Result<(), String> {
    let was = cluster.status();
    let cluster = LocalCluster::workspace_running().map_err(|e| e.to_string())?;
    if was != ClusterStatus::Running {
        eprintln!("xtask: started the postgresql cluster in {}", cluster.dir().display());
    }
    println!("{}", cluster.url());
    Ok(())
}

fn stop(cluster: &LocalCluster) -> Result<(), String> {
    if cluster.status() == ClusterStatus::Uninitialized {
        eprintln!("xtask: no cluster in {}", cluster.dir().display());
        return Ok(());
    }
    cluster.stop().map_err(|e| e.to_string())?;
    eprintln!("xtask: the cluster in {} is stopped", cluster.dir().display());
    Ok(())
}
