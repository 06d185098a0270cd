//! The testcontainers step of [`server_url`](super::server_url) (feature `testcontainers`).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use testcontainers::runners::SyncRunner as _;
use testcontainers::{ImageExt as _, ReuseDirective};
use testcontainers_modules::postgres::Postgres;

use super::TestDbError;
use super::os::lock_file;

const NAME: &str = "backtick-test-postgres";
const TAG: &str = "17-alpine";
const DOCKER_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether `docker info` succeeds within [`DOCKER_TIMEOUT`].
pub(super) fn docker_answers() -> bool {
    let Ok(mut child) = Command::new("docker")
        .arg("info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        return false;
    };
    let start = Instant::now();
    while start.elapsed() < DOCKER_TIMEOUT {
        match child.try_wait() {
            Ok(Some(status)) => return status.success(),
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(_) => break,
        }
    }
    // Best effort: the check already failed, a zombie `docker info` changes nothing.
    let _ = child.kill();
    let _ = child.wait();
    false
}

/// Starts (or reuses) the named container and returns its URL.
///
/// Runs on its own thread because the sync runner blocks on its own tokio runtime, which
/// panics inside an async test. The container is marked for reuse, so it outlives the process
/// and later runs find it; `docker rm -f backtick-test-postgres` removes it.
pub(super) fn start() -> Result<String, TestDbError> {
    let lock_path = std::env::temp_dir().join("backtick-testcontainer.lock");
    let _lock = lock_file(&lock_path)?;
    std::thread::spawn(start_on_this_thread)
        .join()
        .map_err(|_| TestDbError::Container {
            message: "the container start panicked".to_owned(),
        })?
}

fn start_on_this_thread() -> Result<String, TestDbError> {
    let error = |e: testcontainers::TestcontainersError| TestDbError::Container { message: e.to_string() };
    let settings = [
        "fsync=off",
        "synchronous_commit=off",
        "full_page_writes=off",
        "max_connections=300",
    ];
    let container = Postgres::default()
        .with_host_auth()
        .with_cmd(settings.into_iter().flat_map(|setting| ["-c", setting]))
        .with_tag(TAG)
        .with_container_name(NAME)
        .with_reuse(ReuseDirective::Always)
        .start()
        .map_err(error)?;
    let url = format!(
        "postgres://postgres@{}:{}/postgres",
        container.get_host().map_err(error)?,
        container.get_host_port_ipv4(5432).map_err(error)?
    );
    // Keep the handle (and its runtime) for the whole process; dropping it would not remove
    // a reusable container anyway.
    let _kept: &'static mut _ = Box::leak(Box::new(container));
    Ok(url)
}
