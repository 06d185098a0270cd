//! The runner processes of a scenario: started, killed, stopped, and watched for exits nobody
//! asked for.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::{Backend, HarnessError};

/// How each runner process is configured.
#[derive(Debug, Clone)]
pub struct RunnerSettings {
    /// The `e2e-runner` executable.
    pub exe: PathBuf,
    /// The store the runners use.
    pub backend: Backend,
    /// The database URL the runners connect to (directly, or through the stall proxy).
    pub url: String,
    /// Lease TTL in milliseconds (heartbeat at a quarter of it).
    pub lease_ms: u64,
    /// Revive interval in milliseconds.
    pub revive_ms: u64,
    /// Jobs each runner runs at once.
    pub concurrency: usize,
    /// Where each runner's stderr (its log, at `RUST_LOG=info`) goes.
    pub log_dir: PathBuf,
}

struct Member {
    /// `name-pid`, as the runner records itself in the ledger.
    id: String,
    child: Child,
}

/// The runner processes of one scenario.
pub struct Fleet {
    settings: RunnerSettings,
    members: Vec<Member>,
    started: usize,
    /// Runner ids killed with SIGKILL: their running jobs may rightly run again.
    pub killed: Vec<String>,
    /// Runner ids that exited without being told to, or failed at a SIGTERM.
    pub self_exits: Vec<String>,
}

impl Fleet {
    /// Start `count` runner processes.
    ///
    /// # Errors
    /// When a process cannot be started.
    pub fn start(settings: RunnerSettings, count: usize) -> Result<Self, HarnessError> {
        std::fs::create_dir_all(&settings.log_dir)?;
        let mut fleet = Fleet {
            settings,
            members: Vec::new(),
            started: 0,
            killed: Vec::new(),
            self_exits: Vec::new(),
        };
        for _ in 0..count {
            fleet.spawn_one()?;
        }
        Ok(fleet)
    }

    /// Start one more runner process.
    ///
    /// # Errors
    /// When the process cannot be started.
    pub fn spawn_one(&mut self) -> Result<(), HarnessError> {
        self.started += 1;
        let name = format!("r{}", self.started);
        let s = &self.settings;
        let log = std::fs::File::create(s.log_dir.join(format!("{name}.log")))?;
        let child = Command::new(&s.exe)
            .args(["--url", &s.url, "--name", &name, "--backend", s.backend.name()])
            .args(["--concurrency", &s.concurrency.to_string()])
            .args(["--lease-ms", &s.lease_ms.to_string()])
            .args(["--heartbeat-ms", &(s.lease_ms / 4).to_string()])
            .args(["--revive-ms", &s.revive_ms.to_string()])
            .env(
                "RUST_LOG",
                std::env::var("BT_FAULTS_RUNNER_LOG").unwrap_or_else(|_| "info".to_owned()),
            )
            .env("NO_COLOR", "1")
            // The poison jobs' panics print no backtrace, whatever the environment says: with
            // RUST_BACKTRACE=1 the first one symbolizes the debug binary's line tables on a
            // worker thread, seen to take two seconds and to hold the runner's heartbeats past
            // the short profile's 2-s lease (the leases expire and the jobs run twice).
            .env("RUST_BACKTRACE", "0")
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()?;
        let pid = child.id().ok_or("the runner exited at once")?;
        self.members.push(Member {
            id: format!("{name}-{pid}"),
            child,
        });
        Ok(())
    }

    /// How many runner processes are up.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether no runner process is up.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Note the runners that exited on their own since the last look.
    pub fn watch(&mut self) {
        let mut index = 0;
        while index < self.members.len() {
            if matches!(self.members[index].child.try_wait(), Ok(Some(_))) {
                let member = self.members.remove(index);
                self.self_exits.push(member.id);
            } else {
                index += 1;
            }
        }
    }

    /// SIGKILL the runner at `index` (modulo the fleet's size); its id joins [`Fleet::killed`].
    ///
    /// # Errors
    /// When the process cannot be killed.
    pub async fn kill(&mut self, index: usize) -> Result<(), HarnessError> {
        self.watch();
        if self.members.is_empty() {
            return Err("no runner left to kill".into());
        }
        let mut member = self.members.remove(index % self.members.len());
        member.child.start_kill()?;
        member.child.wait().await?;
        self.killed.push(member.id);
        Ok(())
    }

    /// SIGTERM every runner and wait for each to exit; one that does not exit with success
    /// within `limit` counts as a self-exit (and is killed).
    ///
    /// # Errors
    /// When a signal cannot be sent.
    pub async fn stop_all(&mut self, limit: Duration) -> Result<(), HarnessError> {
        self.watch();
        for member in &self.members {
            if let Some(pid) = member.child.id() {
                Command::new("kill").args(["-TERM", &pid.to_string()]).status().await?;
            }
        }
        for mut member in std::mem::take(&mut self.members) {
            match tokio::time::timeout(limit, member.child.wait()).await {
                Ok(Ok(status)) if status.success() => {}
                _ => {
                    let _ = member.child.start_kill();
                    self.self_exits.push(member.id);
                }
            }
        }
        Ok(())
    }

    /// The directory of the runners' logs.
    pub fn log_dir(&self) -> &Path {
        &self.settings.log_dir
    }
}
