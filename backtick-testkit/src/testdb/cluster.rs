//! [`LocalCluster`]: a PostgreSQL cluster of our own, started with `initdb` and `pg_ctl`.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::os::{RunAs, lock_file, run};
use super::{DEFAULT_PORT, PgBinaries, TestDbError, pinned_port, workspace_cluster_dir};

/// Database superuser created by `initdb` and used in [`LocalCluster::url`].
const SUPERUSER: &str = "postgres";
/// Longest unix socket path (`sun_path` holds 108 bytes with the trailing NUL).
const MAX_SOCKET_PATH: usize = 107;
/// How long `pg_ctl` may take to start or stop the server.
const PG_CTL_TIMEOUT_SECS: u64 = 60;
/// How long to wait for a started server to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How many taken ports a cluster whose port is not pinned moves past before giving up.
const PORT_ATTEMPTS: usize = 50;
/// File in the cluster directory naming the directory that holds `data/` and the log, when they
/// live elsewhere (root, and the `postgres` OS user cannot reach the cluster directory).
const SERVER_DIR_FILE: &str = "server-dir";
/// File in the cluster directory holding the port the workspace cluster last started on.
const PORT_FILE: &str = "port";
/// Where the data of a cluster the `postgres` OS user cannot reach goes: world-traversable on
/// every unix (a private `TMPDIR` would not do).
const REACHABLE_BASE: &str = "/tmp";

/// Whether a cluster's server runs, as told by [`LocalCluster::status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClusterStatus {
    /// No data directory yet: [`LocalCluster::ensure_running`] will create it with `initdb`.
    Uninitialized,
    /// The data directory exists but no server answers on the cluster's port.
    Stopped,
    /// The cluster's server runs and accepts TCP connections on its port.
    Running,
}

impl std::fmt::Display for ClusterStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Uninitialized => "uninitialized",
            Self::Stopped => "stopped",
            Self::Running => "running",
        })
    }
}

/// A PostgreSQL cluster of our own in a directory, on `127.0.0.1:<port>`, for tests and development.
///
/// Layout of `dir`: `data/` (the data directory), `postgres.log` and `lock`. The server trusts
/// every local connection, listens on 127.0.0.1 and on a unix socket in `data/` (when the path is
/// short enough), and trades durability for speed (`fsync`, `synchronous_commit` and
/// `full_page_writes` off), with `max_connections = 300`. When run as root, the binaries run as the
/// `postgres` OS user, which then owns `dir`; when that user cannot reach `dir` (a parent
/// directory it may not traverse, such as a private home or temporary directory), `data/` and
/// the log live in `/tmp/backtick-pg-<hash of dir>/` instead, named by the file `dir/server-dir`
/// ([`LocalCluster::data_dir`] says where).
///
/// The server outlives the process that started it: it is reused by later test binaries and runs
/// until [`LocalCluster::stop`]. Starting and stopping hold a file lock on `dir/lock`, so parallel
/// test binaries never race.
///
/// # Examples
///
/// ```no_run
/// use backtick_testkit::testdb::LocalCluster;
///
/// let cluster = LocalCluster::start("target/backtick-pg-dev", 55433)?;
/// println!("{} is {}", cluster.url(), cluster.status());
/// cluster.stop()?;
/// # Ok::<(), backtick_testkit::testdb::TestDbError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalCluster {
    dir: PathBuf,
    port: u16,
}

impl LocalCluster {
    /// A handle on the cluster in `dir` on `port`; touches nothing.
    pub fn new(dir: impl Into<PathBuf>, port: u16) -> Self {
        Self { dir: dir.into(), port }
    }

    /// The workspace cluster used by [`server_url`](super::server_url) and `cargo xtask db`, as
    /// it stands; touches nothing ([`LocalCluster::workspace_running`] starts it).
    ///
    /// Lives in [`workspace_cluster_dir`](super::workspace_cluster_dir) (the checkout's
    /// `target/backtick-pg`, whatever `CARGO_TARGET_DIR` says), on `BACKTICK_TEST_PG_PORT` when set;
    /// otherwise on the port its server runs on, else the port it last started on (the file
    /// `port` in its directory), else [`DEFAULT_PORT`](super::DEFAULT_PORT).
    ///
    /// # Errors
    ///
    /// [`TestDbError::TargetDirNotFound`] or [`TestDbError::InvalidPort`].
    pub fn workspace_default() -> Result<Self, TestDbError> {
        let dir = workspace_cluster_dir()?;
        Ok(match pinned_port()? {
            Some(port) => Self::new(dir, port),
            None => Self::new(&dir, Self::preferred_port(&dir, DEFAULT_PORT)),
        })
    }

    /// Starts the workspace cluster ([`LocalCluster::workspace_default`]) if it is not running, and
    /// returns it.
    ///
    /// Unless `BACKTICK_TEST_PG_PORT` pins the port, a port held by another server (another
    /// checkout's cluster, say) does not stop it: the cluster starts on the next free port
    /// and remembers it for the next run. A running cluster of this checkout is reused.
    ///
    /// # Errors
    ///
    /// As [`LocalCluster::ensure_running`]; [`TestDbError::PortInUse`] only for a pinned port
    /// (or when 50 ports in a row are taken).
    pub fn workspace_running() -> Result<Self, TestDbError> {
        let dir = workspace_cluster_dir()?;
        match pinned_port()? {
            Some(port) => Self::start(dir, port),
            None => Self::start_on_free_port(dir, DEFAULT_PORT),
        }
    }

    /// Starts the cluster in `dir` on the port it runs or last ran on, else on `first_port`, and
    /// moves on to the next free port while the one tried is taken by another server.
    ///
    /// # Errors
    ///
    /// As [`LocalCluster::ensure_running`].
    pub fn start_on_free_port(dir: impl Into<PathBuf>, first_port: u16) -> Result<Self, TestDbError> {
        let dir = dir.into();
        let mut cluster = Self::new(&dir, Self::preferred_port(&dir, first_port));
        for _ in 0..PORT_ATTEMPTS {
            match cluster.ensure_running() {
                Ok(()) => {
                    cluster.remember_port();
                    return Ok(cluster);
                }
                Err(TestDbError::PortInUse { port, .. }) if port < u16::MAX => {
                    let next = next_free_port(port + 1).unwrap_or(port + 1);
                    tracing::info!(taken = port, next, dir = %dir.display(), "port taken by another server; trying the next");
                    cluster = Self::new(&dir, next);
                }
                Err(error) => return Err(error),
            }
        }
        cluster.ensure_running().map(|()| cluster)
    }

    /// The port of the cluster in `dir`: the one its server runs on, else the one it last started
    /// on, else `fallback`.
    fn preferred_port(dir: &Path, fallback: u16) -> u16 {
        let probe = Self::new(dir, fallback);
        if let Some(info) = probe.postmaster() {
            return info.port;
        }
        fs::read_to_string(dir.join(PORT_FILE))
            .ok()
            .and_then(|text| text.trim().parse::<u16>().ok())
            .filter(|port| *port > 0)
            .unwrap_or(fallback)
    }

    /// Records the port for [`LocalCluster::preferred_port`]; a failure only costs the next run a
    /// look for a free port, so it is logged, not returned.
    fn remember_port(&self) {
        let path = self.dir.join(PORT_FILE);
        if let Err(error) = fs::write(&path, format!("{}\n", self.port)) {
            tracing::warn!(path = %path.display(), %error, "cannot record the cluster's port");
        }
    }

    /// Starts the cluster in `dir` on `port` ([`LocalCluster::ensure_running`]) and returns it.
    ///
    /// # Errors
    ///
    /// As [`LocalCluster::ensure_running`].
    pub fn start(dir: impl Into<PathBuf>, port: u16) -> Result<Self, TestDbError> {
        let cluster = Self::new(dir, port);
        cluster.ensure_running()?;
        Ok(cluster)
    }

    /// Makes sure the server runs and accepts connections: creates the cluster with `initdb` if
    /// needed, starts it if it is down, and otherwise just returns.
    ///
    /// # Errors
    ///
    /// [`TestDbError::PostgresNotFound`] without binaries, [`TestDbError::PortInUse`] when another
    /// server holds the port, [`TestDbError::NoPostgresUser`] as root without a `postgres` user,
    /// [`TestDbError::Command`] when `initdb` or `pg_ctl` fails, [`TestDbError::NotReady`],
    /// [`TestDbError::LockTimeout`] or [`TestDbError::Io`].
    pub fn ensure_running(&self) -> Result<(), TestDbError> {
        if self.status() == ClusterStatus::Running {
            return Ok(());
        }
        fs::create_dir_all(&self.dir).map_err(|e| TestDbError::io("create directory", &self.dir, e))?;
        let _lock = self.lock()?;
        // Another process may have started it while we waited for the lock.
        if self.status() == ClusterStatus::Running {
            return Ok(());
        }
        let postmaster = self.postmaster();
        if postmaster.is_none() && tcp_answers(self.port) {
            return Err(TestDbError::PortInUse {
                port: self.port,
                dir: self.dir.clone(),
            });
        }
        let bins = PgBinaries::find()?;
        let run_as = RunAs::detect()?;
        match postmaster {
            // Ours, on the right port, but not answering yet: still starting up or recovering.
            Some(info) if info.port == self.port => return self.wait_until_ready(&bins),
            Some(_) => self.pg_ctl_stop(&bins, &run_as)?,
            None => self.remove_stale_files()?,
        }
        run_as.give(&self.dir)?;
        self.place_server_dir(&run_as)?;
        if !self.is_initialized() {
            self.init(&bins, &run_as)?;
        }
        self.write_config(&run_as)?;
        self.pg_ctl_start(&bins, &run_as)?;
        self.wait_until_ready(&bins)
    }

    /// Stops the server (fast shutdown: open sessions are disconnected); the data stays.
    ///
    /// Does nothing when the server is not running.
    ///
    /// # Errors
    ///
    /// [`TestDbError::Command`] when `pg_ctl stop` fails, or as [`LocalCluster::ensure_running`]
    /// for binaries, user and lock.
    pub fn stop(&self) -> Result<(), TestDbError> {
        if !self.is_initialized() {
            return Ok(());
        }
        let _lock = self.lock()?;
        if self.postmaster().is_none() {
            return Ok(());
        }
        self.pg_ctl_stop(&PgBinaries::find()?, &RunAs::detect()?)
    }

    /// The server's URL: superuser `postgres`, no password, database `postgres`.
    pub fn url(&self) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/postgres", self.port)
    }

    /// Whether the cluster exists and its server runs on [`LocalCluster::port`].
    pub fn status(&self) -> ClusterStatus {
        if !self.is_initialized() {
            return ClusterStatus::Uninitialized;
        }
        match self.postmaster() {
            Some(info) if info.port == self.port && tcp_answers(self.port) => ClusterStatus::Running,
            _ => ClusterStatus::Stopped,
        }
    }

    /// The cluster directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The data directory: `dir/data`, or `/tmp/backtick-pg-<hash>/data` when it had to move
    /// where the `postgres` OS user can reach it (see [`LocalCluster`]).
    pub fn data_dir(&self) -> PathBuf {
        self.server_dir().join("data")
    }

    /// The server log, `postgres.log` beside [`LocalCluster::data_dir`].
    pub fn log_file(&self) -> PathBuf {
        self.server_dir().join("postgres.log")
    }

    /// The directory holding `data/` and the log: `dir`, unless `dir/server-dir` names another.
    fn server_dir(&self) -> PathBuf {
        fs::read_to_string(self.dir.join(SERVER_DIR_FILE))
            .ok()
            .map(|text| PathBuf::from(text.trim_end_matches('\n')))
            .filter(|path| path.is_absolute())
            .unwrap_or_else(|| self.dir.clone())
    }

    /// As root, when the `postgres` OS user cannot enter `dir` (a parent it may not traverse),
    /// moves where the server's files go to a directory of its own under [`REACHABLE_BASE`],
    /// named after `dir`, and records it in `dir/server-dir`. Only under the cluster lock.
    fn place_server_dir(&self, run_as: &RunAs) -> Result<(), TestDbError> {
        let recorded = self.server_dir();
        if recorded != self.dir {
            // Recorded by an earlier start; `/tmp` may have been cleaned since.
            fs::create_dir_all(&recorded).map_err(|e| TestDbError::io("create directory", &recorded, e))?;
            return run_as.give(&recorded);
        }
        if *run_as == RunAs::CurrentUser || run_as.can_enter(&self.dir) {
            return Ok(());
        }
        let canonical = fs::canonicalize(&self.dir).unwrap_or_else(|_| self.dir.clone());
        let mut hasher = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(&canonical, &mut hasher);
        let server_dir =
            Path::new(REACHABLE_BASE).join(format!("backtick-pg-{:016x}", std::hash::Hasher::finish(&hasher)));
        fs::create_dir_all(&server_dir).map_err(|e| TestDbError::io("create directory", &server_dir, e))?;
        run_as.give(&server_dir)?;
        tracing::info!(
            dir = %self.dir.display(),
            data = %server_dir.display(),
            "the postgres user cannot reach the cluster directory; its data lives elsewhere"
        );
        let pointer = self.dir.join(SERVER_DIR_FILE);
        fs::write(&pointer, format!("{}\n", server_dir.display())).map_err(|e| TestDbError::io("write", &pointer, e))
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    fn is_initialized(&self) -> bool {
        self.data_dir().join("PG_VERSION").is_file()
    }

    /// Takes the cluster's start lock ([`lock_file`]); released when dropped.
    fn lock(&self) -> Result<File, TestDbError> {
        let path = self.dir.join("lock");
        lock_file(&path)
    }

    /// The running postmaster according to `data/postmaster.pid`, if that process is alive.
    fn postmaster(&self) -> Option<PostmasterInfo> {
        let text = fs::read_to_string(self.data_dir().join("postmaster.pid")).ok()?;
        let mut lines = text.lines();
        let pid: u32 = lines.next()?.trim().parse().ok()?;
        let port: u16 = lines.nth(2)?.trim().parse().ok()?;
        process_is_postgres(pid).then_some(PostmasterInfo { port })
    }

    /// Removes the `postmaster.pid` and socket lock files left by a server that died: their pid
    /// may now belong to another process (or to an unreaped zombie), and then postgres refuses to
    /// start. Only called under the cluster lock, with no live postmaster of ours.
    fn remove_stale_files(&self) -> Result<(), TestDbError> {
        let data = self.data_dir();
        let Ok(entries) = fs::read_dir(&data) else {
            return Ok(());
        };
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name == "postmaster.pid" || name.starts_with(".s.PGSQL.") {
                let path = entry.path();
                match fs::remove_file(&path) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => {
                        return Err(TestDbError::io("remove stale", &path, e));
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    fn init(&self, bins: &PgBinaries, run_as: &RunAs) -> Result<(), TestDbError> {
        let data = self.data_dir();
        if data.exists() {
            // Left by an initdb that did not finish.
            fs::remove_dir_all(&data).map_err(|e| TestDbError::io("remove incomplete data directory", &data, e))?;
        }
        let mut args: Vec<OsString> = vec!["-D".into(), data.clone().into()];
        args.extend(["-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"].map(OsString::from));
        run(run_as.command(&bins.initdb(), &args, &self.server_dir()), None)?;
        let conf = data.join("postgresql.conf");
        let mut file = fs::OpenOptions::new()
            .append(true)
            .open(&conf)
            .map_err(|e| TestDbError::io("open", &conf, e))?;
        file.write_all(b"\n# backtick test cluster settings\ninclude 'backtick.conf'\n")
            .map_err(|e| TestDbError::io("append to", &conf, e))
    }

    /// Writes `data/backtick.conf` (included by `postgresql.conf`) on every start, so that a
    /// change of port or directory takes effect.
    fn write_config(&self, run_as: &RunAs) -> Result<(), TestDbError> {
        let path = self.data_dir().join("backtick.conf");
        fs::write(&path, cluster_config(&self.data_dir(), self.port))
            .map_err(|e| TestDbError::io("write", &path, e))?;
        run_as.give(&path)
    }

    fn pg_ctl_start(&self, bins: &PgBinaries, run_as: &RunAs) -> Result<(), TestDbError> {
        let timeout = PG_CTL_TIMEOUT_SECS.to_string();
        let log = self.log_file();
        let args = pg_ctl_args(
            "start",
            &self.data_dir(),
            &[
                OsStr::new("-l"),
                log.as_os_str(),
                OsStr::new("-t"),
                OsStr::new(&timeout),
            ],
        );
        tracing::info!(dir = %self.dir.display(), port = self.port, "starting postgresql test cluster");
        run(
            run_as.command(&bins.pg_ctl(), &args, &self.server_dir()),
            Some(&self.log_file()),
        )
        .map(drop)
    }

    fn pg_ctl_stop(&self, bins: &PgBinaries, run_as: &RunAs) -> Result<(), TestDbError> {
        let timeout = PG_CTL_TIMEOUT_SECS.to_string();
        let args = pg_ctl_args(
            "stop",
            &self.data_dir(),
            &[
                OsStr::new("-m"),
                OsStr::new("fast"),
                OsStr::new("-t"),
                OsStr::new(&timeout),
            ],
        );
        tracing::info!(dir = %self.dir.display(), "stopping postgresql test cluster");
        run(
            run_as.command(&bins.pg_ctl(), &args, &self.server_dir()),
            Some(&self.log_file()),
        )
        .map(drop)
    }

    /// Polls with `pg_isready` (or a TCP connect when it is missing) until the server accepts connections.
    fn wait_until_ready(&self, bins: &PgBinaries) -> Result<(), TestDbError> {
        let pg_isready = bins.tool("pg_isready");
        let start = Instant::now();
        while start.elapsed() < READY_TIMEOUT {
            let ready = match &pg_isready {
                Some(tool) => Command::new(tool)
                    .args([
                        "-q",
                        "-h",
                        "127.0.0.1",
                        "-U",
                        SUPERUSER,
                        "-d",
                        "postgres",
                        "-t",
                        "2",
                        "-p",
                        &self.port.to_string(),
                    ])
                    .stdin(Stdio::null())
                    .status()
                    .is_ok_and(|status| status.success()),
                None => tcp_answers(self.port),
            };
            if ready {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(TestDbError::NotReady {
            port: self.port,
            waited: READY_TIMEOUT,
            log: self.log_file(),
        })
    }
}

struct PostmasterInfo {
    port: u16,
}

fn pg_ctl_args(action: &str, data: &Path, extra: &[&OsStr]) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![action.into(), "-D".into(), data.into(), "-w".into(), "-s".into()];
    args.extend(extra.iter().map(|arg| arg.to_os_string()));
    args
}

/// The settings of `backtick.conf`.
fn cluster_config(data_dir: &Path, port: u16) -> String {
    let socket_dir = data_dir.to_string_lossy();
    // A unix socket path longer than sun_path makes the server fail to start: use TCP only then.
    let socket_dir = if socket_dir.len() + format!("/.s.PGSQL.{port}").len() <= MAX_SOCKET_PATH {
        socket_dir.replace('\'', "''")
    } else {
        String::new()
    };
    format!(
        "listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{socket_dir}'\n\
         max_connections = 300\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
    )
}

/// Whether `pid` is alive and is a postgres process (it may be a reused pid after a crash or reboot).
fn process_is_postgres(pid: u32) -> bool {
    if !Path::new("/proc/self").exists() {
        // No procfs to ask: trust the pid file; the TCP check in `status` decides.
        return true;
    }
    // `pid (comm) state ...`; a zombie (a killed server nobody reaped yet) counts as dead.
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
        return false;
    };
    let comm = &stat[open + 1..close];
    let state = stat[close + 1..].trim_start().chars().next();
    (comm.starts_with("postgres") || comm.starts_with("postmaster")) && !matches!(state, Some('Z' | 'X') | None)
}

/// The first port from `from` on that 127.0.0.1 lets us bind (so no server listens there).
fn next_free_port(from: u16) -> Option<u16> {
    (from..=u16::MAX)
        .take(1000)
        .find(|port| std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, *port)).is_ok())
}

fn tcp_answers(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::os::command_stdout;
    use super::super::test_support::TempDir;
    use super::*;

    /// Stops the cluster even when an assertion fails.
    struct StopOnDrop(LocalCluster);

    impl Drop for StopOnDrop {
        fn drop(&mut self) {
            let _ = self.0.stop();
        }
    }

    fn free_port() -> u16 {
        std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    /// A free port from `base` on; each test has its own base in 56100..56200 (a range no other
    /// test uses), so tests running at once do not race for one port.
    fn free_port_from(base: u16) -> u16 {
        next_free_port(base).unwrap()
    }

    fn select_one(port: u16) -> Option<String> {
        let psql = PgBinaries::find().unwrap().tool("psql").expect("psql next to initdb");
        command_stdout(
            Command::new(&psql)
                .args([
                    "-X",
                    "-At",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &port.to_string(),
                    "-U",
                    "postgres",
                ])
                .args(["-d", "postgres", "-c", "select 1"]),
        )
    }

    #[test]
    fn a_second_checkout_starts_on_the_next_free_port_and_keeps_it() {
        // Two checkouts side by side, each with its cluster in its own target directory; the
        // first holds the port both would take by default.
        let tmp = TempDir::new("checkouts");
        let first_dir = tmp.0.join("first").join("target").join("backtick-pg");
        let second_dir = tmp.0.join("second").join("target").join("backtick-pg");
        let port = free_port_from(56100);
        let first = StopOnDrop(LocalCluster::start_on_free_port(&first_dir, port).unwrap());
        assert_eq!(first.0.port(), port);

        let second = StopOnDrop(LocalCluster::start_on_free_port(&second_dir, port).unwrap());

        assert_ne!(
            second.0.port(),
            port,
            "the second checkout must not fight over the port"
        );
        assert_eq!(first.0.status(), ClusterStatus::Running);
        assert_eq!(second.0.status(), ClusterStatus::Running);
        assert_eq!(select_one(port).as_deref(), Some("1"));
        assert_eq!(select_one(second.0.port()).as_deref(), Some("1"));
        // The next run of the second checkout finds its own cluster (running, then stopped).
        let again = LocalCluster::start_on_free_port(&second_dir, port).unwrap();
        assert_eq!(again, second.0, "a running cluster of this checkout is reused");
        second.0.stop().unwrap();
        assert_eq!(LocalCluster::preferred_port(&second_dir, port), second.0.port());
        let restarted = LocalCluster::start_on_free_port(&second_dir, port).unwrap();
        assert_eq!(restarted.port(), second.0.port(), "the remembered port is used again");
        assert_eq!(restarted.status(), ClusterStatus::Running);
    }

    #[test]
    fn a_pinned_port_taken_by_another_server_is_refused_by_start() {
        let tmp = TempDir::new("pinned");
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, free_port_from(56160))).unwrap();
        let port = listener.local_addr().unwrap().port();

        let error = LocalCluster::start(tmp.0.join("pg"), port).unwrap_err();

        assert!(
            matches!(error, TestDbError::PortInUse { port: p, .. } if p == port),
            "{error}"
        );
    }

    #[test]
    fn a_cluster_under_a_parent_directory_only_its_owner_may_enter_starts() {
        use std::os::unix::fs::PermissionsExt as _;
        // A checkout in a private directory (a home directory, a private TMPDIR): as root, the
        // `postgres` OS user that runs the server cannot traverse it.
        let tmp = TempDir::new("private");
        fs::set_permissions(&tmp.0, fs::Permissions::from_mode(0o700)).unwrap();
        let dir = tmp.0.join("checkout").join("target").join("backtick-pg");
        let port = free_port_from(56140);

        let cluster = StopOnDrop(LocalCluster::start_on_free_port(&dir, port).unwrap());

        assert_eq!(cluster.0.status(), ClusterStatus::Running);
        assert_eq!(select_one(cluster.0.port()).as_deref(), Some("1"));
        let run_as = RunAs::detect().unwrap();
        let data = cluster.0.data_dir();
        if run_as == RunAs::CurrentUser {
            assert_eq!(data, dir.join("data"), "no need to move it");
        } else {
            assert!(
                !run_as.can_enter(&dir),
                "the test's premise: postgres cannot enter {}",
                dir.display()
            );
            assert!(
                !data.starts_with(&tmp.0),
                "{} must be outside the private directory",
                data.display()
            );
            assert!(run_as.can_enter(&data), "postgres owns {}", data.display());
            assert!(cluster.0.log_file().is_file());
        }
        // Stopped and started again, it finds its data where it put it.
        cluster.0.stop().unwrap();
        assert_eq!(cluster.0.status(), ClusterStatus::Stopped);
        cluster.0.ensure_running().unwrap();
        assert_eq!(cluster.0.data_dir(), data);
        cluster.0.stop().unwrap();
        if data.parent() != Some(dir.as_path()) {
            fs::remove_dir_all(data.parent().unwrap()).unwrap();
        }
    }

    #[test]
    fn config_uses_tcp_only_when_the_socket_path_would_be_too_long() {
        let short = cluster_config(Path::new("/tmp/it's"), 55432);
        let long = cluster_config(&PathBuf::from(format!("/tmp/{}", "d".repeat(100))), 55432);

        assert!(short.contains("unix_socket_directories = '/tmp/it''s'\n"), "{short}");
        assert!(long.contains("unix_socket_directories = ''\n"), "{long}");
        for setting in [
            "port = 55432",
            "fsync = off",
            "synchronous_commit = off",
            "full_page_writes = off",
        ] {
            assert!(long.contains(setting), "{setting:?} missing from: {long}");
        }
    }

    #[test]
    fn starting_on_a_port_taken_by_another_server_is_refused() {
        let tmp = TempDir::new("taken");
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();

        let error = LocalCluster::new(&tmp.0, port).ensure_running().unwrap_err();

        assert!(
            matches!(error, TestDbError::PortInUse { port: p, .. } if p == port),
            "{error}"
        );
        assert!(!tmp.0.join("data").exists());
    }

    #[test]
    fn local_cluster_starts_answers_restarts_and_stops() {
        let tmp = TempDir::new("cluster");
        let port = free_port();
        let cluster = LocalCluster::new(tmp.0.join("pg"), port);
        assert_eq!(cluster.status(), ClusterStatus::Uninitialized);

        let guard = StopOnDrop(LocalCluster::start(cluster.dir(), port).unwrap());
        assert_eq!(guard.0.status(), ClusterStatus::Running);
        assert_eq!(cluster.url(), format!("postgres://postgres@127.0.0.1:{port}/postgres"));
        let psql = PgBinaries::find().unwrap().tool("psql").expect("psql next to initdb");
        let select = |sql: &str| {
            let port = port.to_string();
            command_stdout(
                Command::new(&psql)
                    .args(["-X", "-At", "-h", "127.0.0.1", "-p", &port, "-U", "postgres"])
                    .args(["-d", "postgres", "-c", sql]),
            )
        };
        assert_eq!(select("select 1").as_deref(), Some("1"));
        assert_eq!(select("show fsync").as_deref(), Some("off"));
        assert_eq!(select("show max_connections").as_deref(), Some("300"));
        let started_at = select("select pg_postmaster_start_time()").unwrap();

        cluster.ensure_running().unwrap();
        assert_eq!(
            select("select pg_postmaster_start_time()").unwrap(),
            started_at,
            "a running cluster is reused"
        );

        cluster.stop().unwrap();
        assert_eq!(cluster.status(), ClusterStatus::Stopped);
        assert!(!tcp_answers(port));

        cluster.ensure_running().unwrap();
        assert_eq!(cluster.status(), ClusterStatus::Running);
        assert_eq!(select("select 1").as_deref(), Some("1"));
        drop(guard);
        assert_eq!(cluster.status(), ClusterStatus::Stopped);
    }
}
