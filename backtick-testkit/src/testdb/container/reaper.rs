//! No container outlives its test process, however that process ends.
//!
//! A guard's `Drop` removes its container when a test passes or panics, but nothing in the
//! process runs after SIGKILL (or after `exit`, for the container in a `static`), and
//! testcontainers has no reaper for that: its `watchdog` feature catches SIGTERM, SIGINT and
//! SIGQUIT only. So every container gets two more chances:
//!
//! - a watcher ([`watch_this_process`]): a small `sh` process, in a process group of its own so
//!   that Ctrl-C on the test does not reach it, blocked reading a pipe only this process holds.
//!   When the process ends in any way the kernel closes the pipe, `read` returns, and the
//!   watcher removes every container labelled [`OWNER_LABEL`] with this process (usually none:
//!   the guards removed theirs). It starts before the first container is created, so even a
//!   kill during a start leaves nothing.
//! - [`remove_stale_once`]: each process, before its first container, removes the containers
//!   labelled [`OWNER_LABEL`] whose owner process is gone (a watcher killed together with its
//!   test, a reboot). `.ci/container-suites.sh` does the same before and after its suites.

use std::path::Path;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::OnceLock;

use super::say;

/// The label naming the process that owns a container: `<pid>:<start time>` ([`owner`]).
pub(crate) const OWNER_LABEL: &str = "org.backtick.testkit.owner";

/// This process as an [`OWNER_LABEL`] value: its pid and its start time in clock ticks after
/// boot (field 22 of `/proc/<pid>/stat`), because a pid alone is reused after a process dies.
/// `<pid>:0` where there is no procfs; such containers are never taken for stale.
pub(crate) fn owner() -> String {
    let pid = std::process::id();
    format!("{pid}:{}", start_time(pid).unwrap_or(0))
}

fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid ...`: comm may hold spaces and parentheses, the fields after the
    // last `)` do not. The start time is field 22, the 20th after the comm.
    let after_comm = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    if fields.first() == Some(&"Z") {
        return None; // a killed process nobody reaped yet is gone for our purpose
    }
    fields.get(19)?.parse().ok()
}

/// Whether the process an [`OWNER_LABEL`] value names still runs. Unknown formats, and owners
/// recorded without a start time, count as alive: never remove what might be in use.
fn owner_is_alive(owner: &str) -> bool {
    let Some((pid, started)) = owner.split_once(':') else {
        return true;
    };
    let (Ok(pid), Ok(started)) = (pid.parse::<u32>(), started.parse::<u64>()) else {
        return true;
    };
    if started == 0 || !Path::new("/proc/self/stat").exists() {
        return true;
    }
    start_time(pid) == Some(started)
}

/// Runs [`remove_stale`] once per process, before its first container starts.
pub(crate) fn remove_stale_once() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(remove_stale);
}

/// Removes every container labelled [`OWNER_LABEL`] whose owner process is gone.
fn remove_stale() {
    let format = format!("{{{{.ID}}}} {{{{.Label \"{OWNER_LABEL}\"}}}}");
    let Ok(output) = Command::new("docker")
        .args([
            "ps",
            "-a",
            "--filter",
            &format!("label={OWNER_LABEL}"),
            "--format",
            &format,
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
    else {
        return;
    };
    let listing = String::from_utf8_lossy(&output.stdout);
    for (id, owner) in listing.lines().filter_map(|line| line.split_once(' ')) {
        if owner_is_alive(owner) {
            continue;
        }
        let removed = Command::new("docker")
            .args(["rm", "-f", "-v", id])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if removed {
            say(&format!("removed container {id}: its test process {owner} has ended"));
        }
    }
}

/// Starts, once per process and before its first container, the watcher that removes every
/// container this process still owns when it ends; logged when `sh` cannot be started.
pub(crate) fn watch_this_process() {
    static PIPE: OnceLock<Option<ChildStdin>> = OnceLock::new();
    PIPE.get_or_init(start_watcher);
}

/// The watcher: `read` returns when the pipe closes, that is when this process is gone (the
/// pipe is close-on-exec, so no child of ours keeps it open); then it removes the containers
/// labelled with this process as owner. Never waited for: it outlives us on purpose.
fn start_watcher() -> Option<ChildStdin> {
    let script = r#"read -r _
ids=$(docker ps -aq --filter "label=$1=$2")
[ -z "$ids" ] || exec docker rm -f -v $ids >/dev/null 2>&1"#;
    let mut command = Command::new("sh");
    command
        .args(["-c", script, "backtick-testkit-watcher", OWNER_LABEL, &owner()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    match command.spawn() {
        Ok(mut child) => child.stdin.take(),
        Err(error) => {
            tracing::warn!(%error, "no container watcher: a killed test would leave its containers until the next run");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_other_start_times_or_pids_are_not() {
        let me = owner();
        assert!(owner_is_alive(&me), "{me}");
        let (pid, started) = me.split_once(':').unwrap_or_default();
        assert!(!owner_is_alive(&format!(
            "{pid}:{}",
            started.parse::<u64>().unwrap_or(0) + 1
        )));
        assert!(!owner_is_alive(&format!("{}:{started}", u32::MAX)));
    }

    #[test]
    fn owners_that_cannot_be_checked_count_as_alive() {
        for owner in ["", "garbage", "12:x", "12:0"] {
            assert!(owner_is_alive(owner), "{owner:?}");
        }
    }
}
