//! [`TestDbError`]: what went wrong while finding or starting a server.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::DEFAULT_PORT;

/// What went wrong while finding or starting a PostgreSQL server for tests.
///
/// Messages say what to do about it; the set of variants may grow.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TestDbError {
    /// No server was configured and no PostgreSQL server binaries were found.
    #[error(
        "no postgresql server for tests: set BACKTICK_TEST_DATABASE_URL to a server url \
         (e.g. postgres://postgres@127.0.0.1:5432/postgres), or install postgresql so that initdb, pg_ctl \
         and postgres can be found (set PG_BINDIR to their directory; searched: {}), or set \
         BACKTICK_TEST_CONTAINER=1 with the `testcontainers` feature of backtick-testkit and a running \
         docker engine",
        display_paths(.searched)
    )]
    PostgresNotFound {
        /// Directories that were searched for the binaries, in order.
        searched: Vec<PathBuf>,
    },
    /// A file system operation failed.
    #[error("could not {action} {}: {source}", .path.display())]
    Io {
        /// What was being done, e.g. `create directory`.
        action: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: Arc<io::Error>,
    },
    /// A PostgreSQL tool (or `runuser`, `id`) failed.
    #[error("`{command}` failed: {detail}")]
    Command {
        /// The command line that failed.
        command: String,
        /// Exit status, the tail of its output and of the server log where relevant.
        detail: String,
    },
    /// Tests run as root and there is no `postgres` OS user to run the server as.
    #[error(
        "running as root, but there is no `postgres` os user to run the server as (postgresql refuses \
         to run as root): create one (`useradd --system --user-group postgres`), run the tests as a \
         non-root user, or set BACKTICK_TEST_DATABASE_URL"
    )]
    NoPostgresUser,
    /// Another server already listens on the cluster's port.
    #[error(
        "port {port} on 127.0.0.1 is taken by another server, not by the cluster in {}: stop that server \
         (`cargo xtask db stop` with the CARGO_TARGET_DIR that started it), set BACKTICK_TEST_PG_PORT to a \
         free port, or set BACKTICK_TEST_DATABASE_URL to use that server",
        .dir.display()
    )]
    PortInUse {
        /// The port that is taken.
        port: u16,
        /// The cluster directory that wanted it.
        dir: PathBuf,
    },
    /// The server started but did not accept connections in time.
    #[error(
        "postgresql on 127.0.0.1:{port} did not accept connections within {}s: see {}",
        .waited.as_secs(),
        .log.display()
    )]
    NotReady {
        /// The port it should listen on.
        port: u16,
        /// How long we waited.
        waited: Duration,
        /// The server log.
        log: PathBuf,
    },
    /// Another process held the cluster's start lock for too long.
    #[error(
        "timed out after {}s waiting for the lock {} held by another process starting or stopping the \
         cluster: check for a stuck `pg_ctl` or `initdb` process",
        .waited.as_secs(),
        .path.display()
    )]
    LockTimeout {
        /// The lock file.
        path: PathBuf,
        /// How long we waited.
        waited: Duration,
    },
    /// No cargo target directory could be found for the workspace cluster.
    #[error(
        "could not find the cargo target directory for the test cluster: set CARGO_TARGET_DIR, or run from \
         inside the workspace (no Cargo.lock above {})",
        .start.display()
    )]
    TargetDirNotFound {
        /// Where the search for `Cargo.lock` started.
        start: PathBuf,
    },
    /// `BACKTICK_TEST_PG_PORT` is not a port number.
    #[error("BACKTICK_TEST_PG_PORT={value:?} is not a port number: use 1 to 65535, or unset it for {DEFAULT_PORT}")]
    InvalidPort {
        /// The value found.
        value: String,
    },
    /// The testcontainers Postgres container could not be started (feature `testcontainers`).
    #[error(
        "could not start a postgres container: {message} (is a docker engine running, and is \
         BACKTICK_TEST_POSTGRES_IMAGE an image it has or can pull?)"
    )]
    Container {
        /// What testcontainers, docker or the server reported.
        message: String,
    },
    /// `BACKTICK_TEST_CONTAINER` holds a value that is neither yes, no nor an image.
    #[error(
        "BACKTICK_TEST_CONTAINER={value:?} is not understood: use 1 (a container from \
         BACKTICK_TEST_POSTGRES_IMAGE), an image such as postgres:17-alpine, 0 (no container), or unset it"
    )]
    InvalidContainerSetting {
        /// The value found.
        value: String,
    },
    /// `BACKTICK_TEST_CONTAINER` asks for a container, but this build cannot start one.
    #[error(
        "BACKTICK_TEST_CONTAINER asks for a postgres container, but backtick-testkit was built without \
         its `testcontainers` feature: build with `--features backtick-testkit/testcontainers`, or unset it"
    )]
    ContainerFeatureOff,
    /// A statement the testkit sends to a test server failed (feature `testcontainers`).
    #[error("could not {action}: {message}")]
    Database {
        /// What was being done, e.g. `migrate the test database`.
        action: &'static str,
        /// The driver's or the server's message.
        message: String,
    },
}

impl TestDbError {
    pub(super) fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        Self::Io {
            action,
            path: path.to_path_buf(),
            source: Arc::new(source),
        }
    }
}

fn display_paths(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "nothing".to_owned();
    }
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
