//! Running the PostgreSQL binaries: as which OS user, with which lock, reporting what.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File, TryLockError};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::TestDbError;
use super::binaries::is_executable;

/// OS user that runs the server when the tests run as root (PostgreSQL refuses to run as root).
const OS_USER: &str = "postgres";
/// How long to wait for another process that holds the cluster's start lock.
const LOCK_TIMEOUT: Duration = Duration::from_secs(180);

/// Takes an exclusive lock on `path` (created if needed), waiting up to [`LOCK_TIMEOUT`].
///
/// The OS releases it when the file is dropped or the process dies, so a crash never leaves it held.
pub(super) fn lock_file(path: &Path) -> Result<File, TestDbError> {
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| TestDbError::io("open lock file", path, e))?;
    let start = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(TryLockError::WouldBlock) if start.elapsed() < LOCK_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(TestDbError::LockTimeout {
                    path: path.to_path_buf(),
                    waited: LOCK_TIMEOUT,
                });
            }
            Err(TryLockError::Error(e)) => return Err(TestDbError::io("lock", path, e)),
        }
    }
}

/// Which OS user runs the PostgreSQL binaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RunAs {
    /// Not root: run them directly.
    CurrentUser,
    /// Root: run them as the `postgres` OS user, which must own the cluster directory.
    Postgres { uid: u32, gid: u32 },
}

impl RunAs {
    pub(super) fn detect() -> Result<Self, TestDbError> {
        static IS_ROOT: OnceLock<bool> = OnceLock::new();
        let is_root = *IS_ROOT.get_or_init(|| command_stdout(Command::new("id").arg("-u")).as_deref() == Some("0"));
        if !is_root {
            return Ok(Self::CurrentUser);
        }
        let id = |flag: &str| {
            command_stdout(Command::new("id").args([flag, OS_USER]))?
                .parse::<u32>()
                .ok()
        };
        match (id("-u"), id("-g")) {
            (Some(uid), Some(gid)) => Ok(Self::Postgres { uid, gid }),
            _ => Err(TestDbError::NoPostgresUser),
        }
    }

    /// A command running `program args` as this user, in `cwd` (which that user can enter):
    /// directly, through `runuser -u postgres --`, or else through `su postgres -c`.
    pub(super) fn command(&self, program: &Path, args: &[OsString], cwd: &Path) -> Command {
        let mut command = match (self, find_runuser()) {
            (Self::CurrentUser, _) => Command::new(program),
            (Self::Postgres { .. }, Some(runuser)) => {
                let mut command = Command::new(runuser);
                command.args(["-u", OS_USER, "--"]).arg(program);
                command
            }
            (Self::Postgres { .. }, None) => {
                let words = std::iter::once(program.as_os_str()).chain(args.iter().map(OsString::as_os_str));
                let script = format!("exec {}", words.map(shell_quote).collect::<Vec<_>>().join(" "));
                let mut command = Command::new("su");
                command.args([OS_USER, "-s", "/bin/sh", "-c", &script]).current_dir(cwd);
                return command;
            }
        };
        command.args(args).current_dir(cwd);
        command
    }

    /// Whether the user that runs the server can enter `dir` (traverse every parent and `dir`).
    pub(super) fn can_enter(&self, dir: &Path) -> bool {
        match self {
            Self::CurrentUser => true,
            Self::Postgres { .. } => {
                let args = [OsString::from("-x"), dir.as_os_str().to_os_string()];
                self.command(Path::new("test"), &args, Path::new("/"))
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|status| status.success())
            }
        }
    }

    /// Gives `path` to the user that runs the server.
    pub(super) fn give(&self, path: &Path) -> Result<(), TestDbError> {
        match self {
            Self::CurrentUser => Ok(()),
            #[cfg(unix)]
            Self::Postgres { uid, gid } => {
                std::os::unix::fs::chown(path, Some(*uid), Some(*gid)).map_err(|e| TestDbError::io("chown", path, e))
            }
            #[cfg(not(unix))]
            Self::Postgres { .. } => Ok(()),
        }
    }
}

fn find_runuser() -> Option<PathBuf> {
    let fixed = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from);
    let path = std::env::var_os("PATH");
    fixed
        .into_iter()
        .chain(path.iter().flat_map(std::env::split_paths))
        .map(|dir| dir.join("runuser"))
        .find(|p| is_executable(p))
}

fn shell_quote(arg: &OsStr) -> String {
    format!("'{}'", arg.to_string_lossy().replace('\'', r"'\''"))
}

/// Runs `command`; on failure returns its status and output, plus the tail of `log` if given.
pub(super) fn run(mut command: Command, log: Option<&Path>) -> Result<Output, TestDbError> {
    let line = format!("{command:?}");
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| TestDbError::Command {
            command: line.clone(),
            detail: e.to_string(),
        })?;
    if output.status.success() {
        return Ok(output);
    }
    let mut detail = format!("{}", output.status);
    for text in [&output.stderr, &output.stdout] {
        let text = String::from_utf8_lossy(text);
        if !text.trim().is_empty() {
            detail = format!("{detail}\n{}", tail(&text, 20));
        }
    }
    if let Some(log) = log.and_then(|log| fs::read_to_string(log).ok().map(|text| (log, text))) {
        detail = format!("{detail}\nlast lines of {}:\n{}", log.0.display(), tail(&log.1, 20));
    }
    Err(TestDbError::Command { command: line, detail })
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.trim_end().lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Trimmed stdout of a command that succeeded, `None` if it failed or printed nothing.
pub(super) fn command_stdout(command: &mut Command) -> Option<String> {
    let output = command.stdin(Stdio::null()).stderr(Stdio::null()).output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    (output.status.success() && !text.is_empty()).then_some(text)
}
