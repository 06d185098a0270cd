//! The fault suite: real runner processes on a private PostgreSQL cluster, a producer, and a
//! ledger of every execution, under one fault at a time; then an audit of what happened to
//! every job the producer was told was stored.
//!
//! Each [`Scenario`] runs on a fresh database of a cluster the suite starts itself under
//! `target/` (never a shared server: it is restarted, flooded with connections and has its
//! sessions terminated). A [`Profile`] says how long, how fast and which scenarios and
//! backends: [`Profile::short`] runs in `cargo xtask test` (the `faults` test of this crate),
//! [`Profile::long`] in `cargo xtask chaos`, which prints the table of [`Row`]s.
//!
//! The audit ([`Row`]): a job the producer got an id for and that did not end `done` with an
//! execution in the ledger is *lost* (poison payloads must end `dead`); a job with more than
//! one execution is a *duplicate*, *explained* when every execution but its last ran in a
//! runner process the scenario killed with SIGKILL; a job still `queued` or `running` at the
//! end is *stuck*; a runner process that exited without being killed, or failed its SIGTERM,
//! is a *self-exit*.

mod audit;
mod cluster;
mod fleet;
mod producer;
mod proxy;
mod scenario;

pub use audit::{Row, table};
pub use cluster::Lab;
pub use fleet::{Fleet, RunnerSettings};
pub use producer::{Acked, JobKind, ProducerPlan, produce};
pub use proxy::StallProxy;
pub use scenario::{Profile, Scenario};

/// The worker of the fault suite's jobs (in the `e2e-runner` binary).
pub const LEDGER_WORKER: &str = "e2e_ledger";

/// The ledger: one row per execution of a job (per attempt: a write that committed but whose
/// answer was lost is retried by the worker and counted once).
pub const LEDGER_TABLE_SQL: &str = "CREATE TABLE IF NOT EXISTS e2e_ledger (
    seq bigint NOT NULL,
    job_id bigint NOT NULL,
    attempt int NOT NULL,
    runner text NOT NULL,
    at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (job_id, attempt)
)";

/// The worker's write: `$1` seq, `$2` job id, `$3` attempt, `$4` runner.
pub const LEDGER_SQL: &str = "INSERT INTO e2e_ledger (seq, job_id, attempt, runner) VALUES ($1, $2, $3, $4)
ON CONFLICT (job_id, attempt) DO NOTHING";

/// The arguments of a ledger job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LedgerArgs {
    /// The producer's sequence number.
    pub seq: i64,
    /// How long the worker sleeps after recording, in milliseconds.
    pub sleep_ms: u64,
    /// Whether the worker panics on the first attempt.
    pub panic_first: bool,
}
