//! Test databases: find or start a PostgreSQL server for tests.
//!
//! [`server_url`] returns the URL of a PostgreSQL *server*, not of a database: each backend's
//! tests create their own database or schema on it. It takes the first of:
//!
//! 1. when `BACKTICK_TEST_CONTAINER` asks for one (`1`, or an image `name:tag`), a PostgreSQL
//!    container started for this test process and removed when it exits (feature
//!    `testcontainers`; without the feature this is an error, never a silent fallback);
//! 2. `BACKTICK_TEST_DATABASE_URL`, else `DATABASE_URL`, returned as is ([`configured_url`]);
//! 3. a throwaway [`LocalCluster`] in `<target dir>/backtick-pg`, started with the system's
//!    `initdb` and `pg_ctl` on `127.0.0.1:55432` ([`DEFAULT_PORT`]; when another checkout's
//!    cluster or any other server holds that port, on the next free one, remembered in
//!    `<target dir>/backtick-pg/port`) and shared by every test binary and run of the
//!    workspace. It keeps running after the tests, for the next run: `cargo xtask db stop`
//!    stops it, and `cargo xtask test` and `cargo xtask demo` stop a cluster they started;
//! 4. else [`TestDbError::PostgresNotFound`], whose message says how to provide a server.
//!
//! So CI runs a backend's existing suites on a container by setting a variable, without
//! touching the tests: `BACKTICK_TEST_CONTAINER=1 cargo test -p backtick-postgres --features
//! backtick-testkit/testcontainers --test conformance`. The same [`LocalCluster`] backs `cargo
//! xtask db start|stop|url|status`.
//!
//! For an application's integration test, `TestPostgres` (feature `testcontainers`) is the one
//! obvious way: a migrated database in a container of its own, removed when its guard drops.
//!
//! # Containers
//!
//! Containers run on the host's network (no bridge, no port mapping); their server listens on
//! 127.0.0.1 only, on a free port. The image is `BACKTICK_TEST_POSTGRES_IMAGE`, default
//! [`DEFAULT_POSTGRES_IMAGE`] (the official image; CI, which cannot pull, builds
//! `backtick-postgres:15-local` with `.ci/container-image.sh`). Each container is labelled
//! `org.backtick.testkit.owner=<pid>:<start time>` and is removed:
//!
//! - when its guard drops, also while a test panics (the shared container of [`server_url`]
//!   lives in a `static`, which is never dropped, so it takes the next way);
//! - when the process ends in any way, SIGKILL included, by a watcher process that waits for a
//!   pipe of the test process to close;
//! - by the next test process (and by `.ci/container-suites.sh`), if its owner is gone and
//!   somehow it is still there.
//!
//! `TESTCONTAINERS_COMMAND=keep` keeps containers for debugging: they are not labelled as
//! owned, so nothing removes them (`docker rm -f` them yourself).
//!
//! # Environment
//!
//! | variable | effect | default |
//! | --- | --- | --- |
//! | `BACKTICK_TEST_CONTAINER` | `1`/`image:tag`: servers are containers; `0`: `TestPostgres` never starts one | unset: only `TestPostgres` starts containers |
//! | `BACKTICK_TEST_POSTGRES_IMAGE` | image of the containers | `postgres:17-alpine` |
//! | `BACKTICK_TEST_DATABASE_URL`, `DATABASE_URL` | server to use, as is | none |
//! | `BACKTICK_TEST_PG_PORT` | port of the workspace cluster | `55432` |
//! | `PG_BINDIR` | directory holding `initdb`, `pg_ctl` and `postgres`, searched first | none |
//! | `CARGO_TARGET_DIR` | not where the workspace cluster lives: that is always the checkout's `target/backtick-pg` ([`workspace_cluster_dir`]), so checkouts sharing a target dir keep a cluster each | `<workspace>/target` |

mod binaries;
mod cluster;
#[cfg(feature = "testcontainers")]
mod container;
mod container_mode;
mod error;
mod os;
#[cfg(feature = "testcontainers")]
mod pg;
#[cfg(feature = "testcontainers")]
mod test_postgres;
#[cfg(test)]
mod test_support;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub use binaries::PgBinaries;
pub use cluster::{ClusterStatus, LocalCluster};
pub use container_mode::DEFAULT_POSTGRES_IMAGE;
pub use error::TestDbError;
#[cfg(feature = "testcontainers")]
#[cfg_attr(docsrs, doc(cfg(feature = "testcontainers")))]
pub use test_postgres::TestPostgres;

use container_mode::{ContainerMode, ImageRef};

/// Port of the workspace cluster, unless `BACKTICK_TEST_PG_PORT` says otherwise.
///
/// Every test binary, run and `cargo xtask db` command of a checkout finds the same server: a
/// checkout whose cluster had to move to another port (this one being taken) remembers it.
pub const DEFAULT_PORT: u16 = 55432;

/// Returns the URL of a PostgreSQL server for tests, finding or starting one on first use.
///
/// The URL names the server's `postgres` database and a superuser, so that tests can create
/// their own databases. The result (success or error) is cached for the life of the process,
/// and concurrent callers wait for the first. See the [module docs](self) for the search order.
///
/// # Errors
///
/// [`TestDbError::PostgresNotFound`] when nothing is configured and no PostgreSQL is installed;
/// [`TestDbError::Container`], [`TestDbError::ContainerFeatureOff`] or
/// [`TestDbError::InvalidContainerSetting`] when `BACKTICK_TEST_CONTAINER` asks for a container
/// that cannot be had; the other variants when starting the local cluster fails.
///
/// # Examples
///
/// ```no_run
/// let url = backtick_testkit::testdb::server_url()?;
/// assert!(url.starts_with("postgres"));
/// # Ok::<(), backtick_testkit::testdb::TestDbError>(())
/// ```
pub fn server_url() -> Result<String, TestDbError> {
    static URL: OnceLock<Result<String, TestDbError>> = OnceLock::new();
    URL.get_or_init(find_or_start_server).clone()
}

/// Returns `BACKTICK_TEST_DATABASE_URL`, else `DATABASE_URL`, when set and not blank.
///
/// Use it to prefer a configured server over starting one, as `cargo xtask demo` does.
///
/// # Examples
///
/// ```
/// if let Some(url) = backtick_testkit::testdb::configured_url() {
///     println!("using {url}");
/// }
/// ```
pub fn configured_url() -> Option<String> {
    ["BACKTICK_TEST_DATABASE_URL", "DATABASE_URL"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|url| !url.trim().is_empty()))
}

fn find_or_start_server() -> Result<String, TestDbError> {
    if let ContainerMode::Required(image) = ContainerMode::from_env()? {
        return process_container_url(image);
    }
    if let Some(url) = configured_url() {
        return Ok(url);
    }
    Ok(LocalCluster::workspace_running()?.url())
}

/// Starts the container [`server_url`] hands out for the rest of the process. It is kept in a
/// `static` (never dropped), so the watcher removes it when the process ends.
#[cfg(feature = "testcontainers")]
fn process_container_url(image: ImageRef) -> Result<String, TestDbError> {
    static CONTAINER: OnceLock<container::PostgresContainer> = OnceLock::new();
    // Its own thread: the container start blocks on a runtime of its own, which panics inside
    // the async test that may be calling us.
    let container = std::thread::spawn(move || container::PostgresContainer::start(&image))
        .join()
        .map_err(|_| TestDbError::Container {
            message: "the thread starting the container panicked".to_owned(),
        })??;
    Ok(CONTAINER.get_or_init(|| container).url())
}

#[cfg(not(feature = "testcontainers"))]
fn process_container_url(_image: ImageRef) -> Result<String, TestDbError> {
    Err(TestDbError::ContainerFeatureOff)
}

/// Returns `url` (a server's url, as from [`server_url`]) with its database replaced by
/// `database`, keeping user, password, host, port and query parameters.
///
/// Tests that create a database of their own on the test server use it to connect there.
///
/// # Examples
///
/// ```
/// use backtick_testkit::testdb::with_database;
/// assert_eq!(with_database("postgres://u@h:5/postgres", "x"), "postgres://u@h:5/x");
/// assert_eq!(with_database("postgres://h?sslmode=disable", "x"), "postgres://h/x?sslmode=disable");
/// ```
pub fn with_database(url: &str, database: &str) -> String {
    let authority_start = url.find("://").map_or(0, |i| i + 3);
    let (base, rest) = url.split_at(authority_start);
    let path_start = rest.find(['/', '?']).unwrap_or(rest.len());
    let query = rest[path_start..].find('?').map_or("", |q| &rest[path_start + q..]);
    format!("{base}{}/{database}{query}", &rest[..path_start])
}

/// Returns the cargo target directory of the current workspace.
///
/// `CARGO_TARGET_DIR` when set (a relative one is taken from the workspace root), else `target/`
/// in the nearest directory holding `Cargo.lock` above `CARGO_MANIFEST_DIR` (set by cargo for
/// tests and `cargo run`) or the current directory.
///
/// # Errors
///
/// [`TestDbError::TargetDirNotFound`] when neither is available.
///
/// # Examples
///
/// ```no_run
/// let dir = backtick_testkit::testdb::workspace_target_dir()?;
/// println!("artifacts go to {}", dir.display());
/// # Ok::<(), backtick_testkit::testdb::TestDbError>(())
/// ```
pub fn workspace_target_dir() -> Result<PathBuf, TestDbError> {
    let start = match std::env::var_os("CARGO_MANIFEST_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => std::env::current_dir().map_err(|e| TestDbError::io("read current directory", Path::new("."), e))?,
    };
    target_dir_from(std::env::var_os("CARGO_TARGET_DIR"), &start)
}

/// Returns the directory of the workspace cluster: `target/backtick-pg` in the checkout (the
/// nearest directory holding `Cargo.lock` above `CARGO_MANIFEST_DIR`, or the current
/// directory), whatever `CARGO_TARGET_DIR` says. Two checkouts that share one target dir (to
/// share compiled artifacts) still have a cluster each.
///
/// # Errors
///
/// [`TestDbError::TargetDirNotFound`] when no `Cargo.lock` is found.
///
/// # Examples
///
/// ```no_run
/// let dir = backtick_testkit::testdb::workspace_cluster_dir()?;
/// println!("cluster lives in {}", dir.display());
/// # Ok::<(), backtick_testkit::testdb::TestDbError>(())
/// ```
pub fn workspace_cluster_dir() -> Result<PathBuf, TestDbError> {
    let start = match std::env::var_os("CARGO_MANIFEST_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => std::env::current_dir().map_err(|e| TestDbError::io("read current directory", Path::new("."), e))?,
    };
    Ok(target_dir_from(None, &start)?.join("backtick-pg"))
}

fn target_dir_from(cargo_target_dir: Option<OsString>, start: &Path) -> Result<PathBuf, TestDbError> {
    let root = start.ancestors().find(|dir| dir.join("Cargo.lock").is_file());
    match (cargo_target_dir.filter(|dir| !dir.is_empty()).map(PathBuf::from), root) {
        (Some(dir), _) if dir.is_absolute() => Ok(dir),
        (Some(dir), Some(root)) => Ok(root.join(dir)),
        (Some(dir), None) => Ok(start.join(dir)),
        (None, Some(root)) => Ok(root.join("target")),
        (None, None) => Err(TestDbError::TargetDirNotFound {
            start: start.to_path_buf(),
        }),
    }
}

/// `BACKTICK_TEST_PG_PORT`, when set: the workspace cluster's port, pinned (never moved).
fn pinned_port() -> Result<Option<u16>, TestDbError> {
    match std::env::var("BACKTICK_TEST_PG_PORT") {
        Ok(value) if !value.trim().is_empty() => match value.trim().parse::<u16>() {
            Ok(port) if port > 0 => Ok(Some(port)),
            _ => Err(TestDbError::InvalidPort { value }),
        },
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::fs;

    use super::test_support::TempDir;
    use super::*;

    #[test]
    fn target_dir_is_cargo_target_dir_or_target_next_to_cargo_lock() {
        let tmp = TempDir::new("workspace");
        let member = tmp.0.join("crate").join("src");
        fs::create_dir_all(&member).unwrap();
        fs::write(tmp.0.join("Cargo.lock"), "").unwrap();

        assert_eq!(target_dir_from(None, &member).unwrap(), tmp.0.join("target"));
        assert_eq!(
            target_dir_from(Some("/elsewhere".into()), &member).unwrap(),
            PathBuf::from("/elsewhere")
        );
        assert_eq!(
            target_dir_from(Some("build".into()), &member).unwrap(),
            tmp.0.join("build")
        );
        let outside = TempDir::new("outside");
        assert!(matches!(
            target_dir_from(None, &outside.0),
            Err(TestDbError::TargetDirNotFound { .. })
        ));
    }
}
