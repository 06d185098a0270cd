//! [`PostgresContainer`]: a PostgreSQL server in a Docker container, through testcontainers
//! (feature `testcontainers`).
//!
//! The container shares the host's network (no bridge, no port mapping) and its server listens
//! on 127.0.0.1 only, on a free port chosen here and passed as `-p <port>` and `PGPORT`. Both
//! the official `postgres` image and the image `.ci/container-image.sh` builds accept that
//! interface: arguments starting with `-` go to `postgres`, `POSTGRES_HOST_AUTH_METHOD=trust`
//! lets the `postgres` superuser in without a password.
//!
//! Ready means: testcontainers saw "database system is ready to accept connections" in the
//! log (which the official image also prints for its unix-socket-only setup server), then a
//! query over TCP on the chosen port succeeded while the container still ran (so it is this
//! container's server that answers, not a stranger's that took the port first).

mod reaper;

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use testcontainers::core::WaitFor;
use testcontainers::core::error::WaitContainerError;
use testcontainers::runners::SyncRunner as _;
use testcontainers::{Container, GenericImage, ImageExt as _, TestcontainersError};

use super::TestDbError;
use super::container_mode::ImageRef;
use super::pg;
use StartError::{Exited, Failed};
use reaper::OWNER_LABEL;

/// How long `docker info` may take to say that an engine answers.
const DOCKER_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the container may take to start, pull included (testcontainers' own limit).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the server may take to answer a query after the container started.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Starts tried when the server exits before it is ready (its port was taken meanwhile).
const START_ATTEMPTS: usize = 3;
/// Server settings: fast and unsafe, as for the workspace cluster; enough connections for
/// parallel test binaries with pools of their own.
const SETTINGS: [&str; 4] = [
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "max_connections=300",
];

/// A PostgreSQL server in a container, removed when this handle drops (also while a test
/// panics), or by the process's watcher when the process dies first.
pub(crate) struct PostgresContainer {
    container: Option<Container<GenericImage>>,
    id: String,
    image: ImageRef,
    port: u16,
}

impl std::fmt::Debug for PostgresContainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresContainer")
            .field("id", &self.id)
            .field("image", &self.image.to_string())
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl PostgresContainer {
    /// Starts a container from `image` and waits until its server answers.
    ///
    /// Blocks. Call it on a thread of its own: testcontainers' blocking runner drives its own
    /// tokio runtime, which panics when started from inside another one.
    pub(crate) fn start(image: &ImageRef) -> Result<Self, TestDbError> {
        reaper::remove_stale_once();
        reaper::watch_this_process();
        let mut attempt = 1;
        loop {
            match free_port().and_then(|port| Self::start_on(image, port)) {
                Err(Exited(detail)) if attempt < START_ATTEMPTS => {
                    tracing::info!(%detail, "postgres container exited before it was ready; trying another port");
                    attempt += 1;
                }
                Err(Exited(message) | Failed(message)) => return Err(TestDbError::Container { message }),
                Ok(container) => return Ok(container),
            }
        }
    }

    fn start_on(image: &ImageRef, port: u16) -> Result<Self, StartError> {
        let keep = std::env::var("TESTCONTAINERS_COMMAND").is_ok_and(|command| command == "keep");
        let mut args = vec!["-p".to_owned(), port.to_string()];
        args.extend(
            std::iter::once("listen_addresses=127.0.0.1")
                .chain(SETTINGS)
                .flat_map(|setting| ["-c".to_owned(), setting.to_owned()]),
        );
        let request = GenericImage::new(image.name.as_str(), image.tag.as_str())
            .with_wait_for(WaitFor::message_on_stderr(
                "database system is ready to accept connections",
            ))
            .with_network("host")
            .with_env_var("PGPORT", port.to_string())
            .with_env_var("POSTGRES_HOST_AUTH_METHOD", "trust")
            // A container kept on purpose (TESTCONTAINERS_COMMAND=keep) is nobody's to reap.
            .with_label(
                if keep { "org.backtick.testkit.kept" } else { OWNER_LABEL },
                reaper::owner(),
            )
            .with_cmd(args)
            .with_startup_timeout(STARTUP_TIMEOUT);
        let container = request.start().map_err(StartError::from_testcontainers)?;
        let started = Self {
            id: container.id().to_owned(),
            container: Some(container),
            image: image.clone(),
            port,
        };
        started.wait_until_ready()?;
        say(&format!(
            "started postgres container {} from image {} on 127.0.0.1:{port} (host network)",
            short_id(&started.id),
            started.image
        ));
        Ok(started)
    }

    fn wait_until_ready(&self) -> Result<(), StartError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Failed(format!("cannot build a runtime to reach the container: {e}")))?;
        let url = self.url();
        let start = Instant::now();
        while start.elapsed() < READY_TIMEOUT {
            if !self.is_running() {
                return Err(Exited(format!(
                    "container {} exited: {}",
                    short_id(&self.id),
                    self.log_tail()
                )));
            }
            if runtime.block_on(pg::answers(&url)) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(Failed(format!(
            "the server in container {} did not answer on 127.0.0.1:{} within {}s: {}",
            short_id(&self.id),
            self.port,
            READY_TIMEOUT.as_secs(),
            self.log_tail()
        )))
    }

    fn is_running(&self) -> bool {
        self.container.as_ref().is_some_and(|c| c.is_running().unwrap_or(false))
    }

    fn log_tail(&self) -> String {
        let Some(container) = &self.container else {
            return String::new();
        };
        let log = container.stderr_to_vec().unwrap_or_default();
        let log = String::from_utf8_lossy(&log);
        let lines: Vec<&str> = log.trim_end().lines().collect();
        lines[lines.len().saturating_sub(5)..].join(" | ")
    }

    /// The server's URL: superuser `postgres`, no password, database `postgres`.
    pub(crate) fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The container's id.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// The image the container runs.
    pub(crate) fn image(&self) -> &ImageRef {
        &self.image
    }
}

impl Drop for PostgresContainer {
    fn drop(&mut self) {
        let container = self.container.take();
        // testcontainers removes the container when its handle drops, blocking on the
        // handle's own runtime: do it on a thread outside any runtime the caller may be in.
        let removed = std::thread::spawn(move || drop(container)).join();
        match removed {
            Ok(()) => say(&format!("removed postgres container {}", short_id(&self.id))),
            Err(_) => say(&format!(
                "removing postgres container {} panicked; the watcher removes it when this process exits",
                short_id(&self.id)
            )),
        }
    }
}

/// Why one start failed.
enum StartError {
    /// The container stopped before its server was ready: worth another port.
    Exited(String),
    /// Anything else.
    Failed(String),
}
impl StartError {
    fn from_testcontainers(error: TestcontainersError) -> Self {
        match error {
            // The log ended before the ready line: the server exited.
            TestcontainersError::WaitContainer(WaitContainerError::WaitLog(_)) => Exited(error.to_string()),
            other => Failed(other.to_string()),
        }
    }
}

/// Whether `docker info` succeeds within [`DOCKER_TIMEOUT`].
pub(crate) fn docker_answers() -> bool {
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

/// A port on 127.0.0.1 that nothing listens on right now.
fn free_port() -> Result<u16, StartError> {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| Failed(format!("cannot find a free port on 127.0.0.1: {e}")))
}

/// The first 12 characters of a container id, as `docker ps` shows it.
pub(crate) fn short_id(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// Prints `message` as one line on the process's stderr, past the test harness's capture
/// (which takes only `print!`/`eprint!`), so CI logs show every container and every fallback.
pub(crate) fn say(message: &str) {
    tracing::info!("{message}");
    let _ = writeln!(std::io::stderr().lock(), "backtick-testkit: {message}");
}
