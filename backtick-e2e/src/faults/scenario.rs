//! The scenarios and the profiles that pick them: how each fault is made, and one scenario's
//! run from a fresh database to its audited [`Row`].

use std::sync::Arc;
use std::time::Duration;

use backtick_postgres::sqlx::{self, Connection, PgConnection, PgPool};
use chrono::{DateTime, Utc};

use super::audit::{self, Row};
use super::cluster::Lab;
use super::fleet::{Fleet, RunnerSettings};
use super::producer::{ProducerPlan, produce};
use super::proxy::StallProxy;
use crate::{Backend, HarnessError};

/// One kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// SIGKILL a runner process, start a new one; repeated.
    RunnerSigkill,
    /// SIGTERM every runner process, wait for them, start them again.
    SigtermAll,
    /// `pg_terminate_backend` of every session of the database, twice a second.
    TerminateBackends,
    /// Fast shutdown of the server, down for longer than the lease, then start again.
    PgRestart,
    /// Another client takes every connection the server has left, and every slot freed
    /// meanwhile, for a while.
    Exhaustion,
    /// Payloads the worker cannot decode and workers that panic, among normal jobs.
    Poison,
    /// Every runner's connections go through a proxy that stops forwarding for longer than the
    /// lease.
    NetworkStall,
}

impl Scenario {
    /// Every scenario.
    pub const ALL: [Scenario; 7] = [
        Scenario::RunnerSigkill,
        Scenario::SigtermAll,
        Scenario::TerminateBackends,
        Scenario::PgRestart,
        Scenario::Exhaustion,
        Scenario::Poison,
        Scenario::NetworkStall,
    ];

    /// The scenario's name in the table.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::RunnerSigkill => "runner-sigkill",
            Scenario::SigtermAll => "sigterm-all",
            Scenario::TerminateBackends => "terminate-backends",
            Scenario::PgRestart => "pg-restart",
            Scenario::Exhaustion => "exhaustion",
            Scenario::Poison => "poison",
            Scenario::NetworkStall => "network-stall",
        }
    }
}

/// How long, how fast, and which scenarios on which backends.
#[derive(Debug, Clone)]
pub struct Profile {
    /// The profile's name.
    pub name: &'static str,
    /// The scenarios, in order, each on every backend of `backends`.
    pub scenarios: Vec<Scenario>,
    /// The backends.
    pub backends: Vec<Backend>,
    /// Runner processes.
    pub runners: usize,
    /// Jobs each runner runs at once.
    pub concurrency: usize,
    /// The producer's rate, jobs per second.
    pub rate: u64,
    /// Jobs per scenario.
    pub jobs: u64,
    /// Each job's sleep, in milliseconds.
    pub sleep_ms: u64,
    /// The runners' lease TTL, in milliseconds.
    pub lease_ms: u64,
    /// The runners' revive interval, in milliseconds.
    pub revive_ms: u64,
    /// When the fault starts, after the producer's start.
    pub fault_at: Duration,
    /// How many times a repeated fault (SIGKILL, restart, stall, SIGTERM) is made.
    pub repeats: usize,
    /// How long a lasting fault (terminations, exhaustion) lasts.
    pub fault_for: Duration,
    /// How long the runners may take, after the producer is done, to finish every job.
    pub settle_limit: Duration,
}

impl Profile {
    /// The profile of `cargo xtask test`: every scenario on both backends, 600 jobs each, one
    /// fault each.
    pub fn short() -> Self {
        Profile {
            name: "short",
            scenarios: Scenario::ALL.to_vec(),
            backends: Backend::ALL.to_vec(),
            runners: 3,
            concurrency: 16,
            rate: 100,
            jobs: 600,
            sleep_ms: 200,
            lease_ms: 2_000,
            revive_ms: 1_000,
            fault_at: Duration::from_millis(1_500),
            repeats: 1,
            fault_for: Duration::from_secs(3),
            settle_limit: Duration::from_secs(60),
        }
    }

    /// The profile of `cargo xtask chaos`: every scenario on both backends, 2,500 jobs each,
    /// faults repeated.
    pub fn long() -> Self {
        Profile {
            name: "long",
            jobs: 2_500,
            fault_at: Duration::from_secs(3),
            repeats: 3,
            fault_for: Duration::from_secs(10),
            settle_limit: Duration::from_secs(120),
            ..Profile::short()
        }
    }

    /// Longer than a lease: the downtime of a restart and the length of a stall.
    fn outage(&self) -> Duration {
        Duration::from_millis(self.lease_ms + 1_500)
    }
}

/// When a fault began and ended (wall clock, which the local server shares).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FaultWindow {
    pub(crate) start: DateTime<Utc>,
    pub(crate) end: DateTime<Utc>,
}

/// What a fault needs to act on.
struct Target<'a> {
    lab: &'a Lab,
    fleet: &'a mut Fleet,
    proxy: Option<&'a StallProxy>,
    database: &'a str,
    profile: &'a Profile,
}

impl Lab {
    /// Run `scenario` on `backend` with `profile`'s settings, from a fresh database to the
    /// audit of its ledger.
    ///
    /// # Errors
    /// When the harness itself fails (the database cannot be created, a process cannot be
    /// started); a failed audit is a [`Row`], not an error.
    pub async fn run(&mut self, scenario: Scenario, backend: Backend, profile: &Profile) -> Result<Row, HarnessError> {
        let label = format!("{}_{}", scenario.name().replace('-', "_"), backend.name());
        let (url, database) = self.create_database(&label).await?;
        let proxy = match scenario {
            Scenario::NetworkStall => Some(StallProxy::start(self.proxy_port, self.port()).await?),
            _ => None,
        };
        let log_dir = self.log_dir(&format!("{}-{label}", profile.name));
        let _ = std::fs::remove_dir_all(&log_dir);
        let settings = RunnerSettings {
            exe: self.runner_exe.clone(),
            backend,
            url: proxy
                .as_ref()
                .map_or_else(|| url.clone(), |proxy| self.proxied_url(proxy.port(), &database)),
            lease_ms: profile.lease_ms,
            revive_ms: profile.revive_ms,
            concurrency: profile.concurrency,
            log_dir: log_dir.clone(),
        };
        let mut fleet = Fleet::start(settings, profile.runners)?;
        let store = backend.connect(&url).await?;
        let plan = ProducerPlan {
            rate: profile.rate,
            jobs: profile.jobs,
            sleep_ms: profile.sleep_ms,
            panic_every: if scenario == Scenario::Poison { 20 } else { 0 },
            poison_every: if scenario == Scenario::Poison { 50 } else { 0 },
        };
        let producing = tokio::spawn(produce(Arc::clone(&store), plan));
        let producer_started = Utc::now();
        tokio::time::sleep(profile.fault_at).await;
        let window = {
            let mut target = Target {
                lab: self,
                fleet: &mut fleet,
                proxy: proxy.as_ref(),
                database: &database,
                profile,
            };
            match scenario {
                Scenario::Poison => FaultWindow {
                    start: producer_started,
                    end: Utc::now(),
                },
                _ => target.inject(scenario).await?,
            }
        };
        let acked = producing.await??;
        let window = match scenario {
            Scenario::Poison => FaultWindow {
                end: Utc::now(),
                ..window
            },
            _ => window,
        };
        let pool = PgPool::connect(&url).await?;
        let ids: Vec<i64> = acked.iter().map(|a| a.id.0).collect();
        let settled = settle(&pool, &ids, &mut fleet, profile.settle_limit).await?;
        fleet.stop_all(Duration::from_secs(30)).await?;
        drop(proxy);
        let mut row = audit::audit(&pool, &acked, &fleet, window, profile.rate).await?;
        row.scenario = scenario.name();
        row.backend = backend.name();
        row.settled = settled;
        pool.close().await;
        drop(store);
        self.drop_database(&database).await?;
        Ok(row)
    }
}

/// Wait until every acknowledged job is final, or `limit`; watch the runners meanwhile.
/// Returns whether everything settled.
async fn settle(pool: &PgPool, ids: &[i64], fleet: &mut Fleet, limit: Duration) -> Result<bool, HarnessError> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        fleet.watch();
        let open: Result<i64, _> = sqlx::query_scalar(
            "SELECT count(*) FROM backtick_jobs WHERE id = ANY($1) AND state NOT IN ('done', 'dead', 'cancelled')",
        )
        .bind(ids)
        .fetch_one(pool)
        .await;
        if matches!(open, Ok(0)) {
            return Ok(true);
        }
        if tokio::time::Instant::now() > deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

impl Target<'_> {
    async fn inject(&mut self, scenario: Scenario) -> Result<FaultWindow, HarnessError> {
        let mut start = Utc::now();
        match scenario {
            Scenario::RunnerSigkill => self.sigkill().await?,
            Scenario::SigtermAll => self.sigterm_all().await?,
            Scenario::TerminateBackends => self.terminate_backends().await?,
            Scenario::PgRestart => self.restart().await?,
            // Measured from when the server is full.
            Scenario::Exhaustion => start = self.exhaust().await?,
            Scenario::NetworkStall => self.stall().await?,
            Scenario::Poison => {}
        }
        Ok(FaultWindow { start, end: Utc::now() })
    }

    /// The gap between repeated faults.
    fn between(&self) -> Duration {
        self.profile.outage()
    }

    async fn sigkill(&mut self) -> Result<(), HarnessError> {
        for round in 0..self.profile.repeats.max(2) {
            if round > 0 {
                tokio::time::sleep(self.between()).await;
            }
            self.fleet.kill(round).await?;
            tokio::time::sleep(Duration::from_millis(300)).await;
            self.fleet.spawn_one()?;
        }
        Ok(())
    }

    async fn sigterm_all(&mut self) -> Result<(), HarnessError> {
        for round in 0..self.profile.repeats {
            if round > 0 {
                tokio::time::sleep(self.between()).await;
            }
            let count = self.fleet.len();
            self.fleet.stop_all(Duration::from_secs(30)).await?;
            for _ in 0..count {
                self.fleet.spawn_one()?;
            }
        }
        Ok(())
    }

    async fn terminate_backends(&mut self) -> Result<(), HarnessError> {
        let until = tokio::time::Instant::now() + self.profile.fault_for;
        while tokio::time::Instant::now() < until {
            // A connection of its own each time: the last one may have been terminated too.
            if let Ok(mut admin) = PgConnection::connect(&self.lab.server_url()).await {
                let _ = sqlx::query(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                     WHERE datname = $1 AND pid <> pg_backend_pid()",
                )
                .bind(self.database)
                .execute(&mut admin)
                .await;
                let _ = admin.close().await;
            }
            self.fleet.watch();
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Ok(())
    }

    async fn restart(&mut self) -> Result<(), HarnessError> {
        for round in 0..self.profile.repeats {
            if round > 0 {
                tokio::time::sleep(self.between()).await;
            }
            self.lab.restart(self.profile.outage()).await?;
        }
        Ok(())
    }

    /// Open connections until the server refuses one, hold them for `fault_for`, then close
    /// them. The runners keep the connections they had; a pool that wants more meets a full
    /// server. Returns when the server was full.
    async fn exhaust(&mut self) -> Result<DateTime<Utc>, HarnessError> {
        let mut hog = Vec::new();
        self.grab(&mut hog).await;
        let full = Utc::now();
        let until = tokio::time::Instant::now() + self.profile.fault_for;
        // Take any slot freed meanwhile too: the server stays full.
        while tokio::time::Instant::now() < until {
            self.grab(&mut hog).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for connection in hog {
            let _ = connection.close().await;
        }
        Ok(full)
    }

    /// Open connections until the server refuses one.
    async fn grab(&self, hog: &mut Vec<PgConnection>) {
        while hog.len() < super::cluster::MAX_CONNECTIONS as usize {
            match PgConnection::connect(&self.lab.server_url()).await {
                Ok(connection) => hog.push(connection),
                Err(_) => return,
            }
        }
    }

    async fn stall(&mut self) -> Result<(), HarnessError> {
        let proxy = self.proxy.ok_or("the stall scenario needs its proxy")?;
        for round in 0..self.profile.repeats {
            if round > 0 {
                tokio::time::sleep(self.between()).await;
            }
            proxy.pause(true);
            tokio::time::sleep(self.profile.outage()).await;
            proxy.pause(false);
        }
        Ok(())
    }
}
