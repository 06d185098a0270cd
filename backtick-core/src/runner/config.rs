//! Runner configuration: every option, its default and its unit.

use std::time::Duration;

use crate::error::ConfigError;
use crate::job::RunnerId;
use crate::retry::RetryPolicy;

/// How a [`crate::Runner`] behaves. Every option has a default; [`RunnerConfig::validate`]
/// checks them all and names the first one that is wrong.
///
/// | option | default | unit | meaning |
/// |---|---|---|---|
/// | `runner_id` | `runner-<uuid>` | | this process's identity; fences its writes |
/// | `queues` | `None` (every queue) | | the queues this runner serves |
/// | `concurrency` | 10 | jobs | jobs run at once (the bounded pool) |
/// | `poll_interval` | 1 | second | the longest wait between claims when idle |
/// | `lease_ttl` | 30 | seconds | how long a claim lives without a heartbeat |
/// | `heartbeat_interval` | 10 | seconds | how often running jobs' leases are extended |
/// | `revive_interval` | 15 | seconds | how often expired leases are looked for |
/// | `job_timeout` | 300 | seconds | how long one run may take (a worker may override) |
/// | `shutdown_timeout` | 30 | seconds | how long shutdown waits for running jobs |
/// | `completion_batch_size` | 256 | jobs | completions written in one statement, at most |
/// | `completion_flush_interval` | 2 | milliseconds | how long a completion may wait for others |
/// | `retention` | 7 days | | finished jobs are pruned after this |
/// | `prune_interval` | 60 | seconds | how often the pruner runs |
/// | `vacuum_interval` | 5 | seconds | how often the jobs table is checked for a due vacuum (`None`: never) |
/// | `schedule_interval` | 1 | second | the longest wait between looks for due recurring/cron schedules (the firer wakes at each fire time) |
/// | `schedule_grace` | 10 | seconds | a fire later than this is *missed* (see [`crate::schedule`]) |
/// | `unserved_warning` | 60 | seconds | warn (once an hour per worker) of jobs due this long for a worker no live runner has (`None`: never); also how often to look |
/// | `retry_policy` | [`RetryPolicy::default`] | | backoff after a failure |
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use std::time::Duration;
/// use backtick_postgres::RunnerConfig;
/// let config = RunnerConfig { concurrency: 50, ..RunnerConfig::default() };
/// assert!(config.validate().is_ok());
/// let bad = RunnerConfig { heartbeat_interval: Duration::from_secs(60), ..RunnerConfig::default() };
/// assert!(bad.validate().unwrap_err().to_string().contains("heartbeat_interval"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RunnerConfig {
    /// This process's identity. Must be unique per process lifetime.
    pub runner_id: RunnerId,
    /// The queues this runner serves; `None` for every queue.
    pub queues: Option<Vec<String>>,
    /// How many jobs run at once.
    pub concurrency: usize,
    /// The longest wait between claims when no wake-up arrives.
    pub poll_interval: Duration,
    /// How long a claim lives without a heartbeat.
    pub lease_ttl: Duration,
    /// How often the leases of running jobs are extended. Must be below `lease_ttl`.
    pub heartbeat_interval: Duration,
    /// How often the reviver looks for expired leases.
    pub revive_interval: Duration,
    /// How long one run may take unless the worker sets its own timeout.
    pub job_timeout: Duration,
    /// How long a graceful shutdown waits for running jobs before releasing them.
    pub shutdown_timeout: Duration,
    /// The most completions written in one store call.
    pub completion_batch_size: usize,
    /// How long a completion may wait for others to share its write.
    pub completion_flush_interval: Duration,
    /// Finished jobs are pruned this long after they finished.
    pub retention: Duration,
    /// How often the pruner runs.
    pub prune_interval: Duration,
    /// How often the store is asked to vacuum the jobs table if it is due
    /// ([`crate::QueueStore::vacuum`]); `None` leaves it to the server's autovacuum alone.
    pub vacuum_interval: Option<Duration>,
    /// The longest wait between looks for due recurring and cron schedules (and operators'
    /// run-now requests); the firer also wakes at each known fire time.
    pub schedule_interval: Duration,
    /// A schedule fire older than this is missed (every runner was down) and follows the
    /// schedule's catch-up policy instead of firing on its own.
    pub schedule_grace: Duration,
    /// Jobs due this long for a worker that no live runner registers are warned of in the
    /// log, once an hour per worker ([`crate::maintenance::UnservedWarner`]); the look runs
    /// this often. `None`: never.
    pub unserved_warning: Option<Duration>,
    /// Backoff between attempts of a failing job.
    pub retry_policy: RetryPolicy,
    /// Limits this runner sets on queues when it starts ([`crate::QueueStore::set_queue_limits`],
    /// before its first claim), each replacing what the queue had. Operators change them at run
    /// time (`backtick queues limit`); the next runner start sets these again. Default: none
    /// (the queues keep what is stored).
    pub queue_limits: Vec<(String, crate::flow::QueueLimits)>,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            runner_id: RunnerId::generate(),
            queues: None,
            concurrency: 10,
            queue_limits: Vec::new(),
            poll_interval: Duration::from_secs(1),
            lease_ttl: Duration::from_secs(30),
            heartbeat_interval: Duration::from_secs(10),
            revive_interval: Duration::from_secs(15),
            job_timeout: Duration::from_secs(300),
            shutdown_timeout: Duration::from_secs(30),
            completion_batch_size: 256,
            completion_flush_interval: Duration::from_millis(2),
            retention: Duration::from_secs(7 * 24 * 3600),
            prune_interval: Duration::from_secs(60),
            vacuum_interval: Some(Duration::from_secs(5)),
            schedule_interval: Duration::from_secs(1),
            schedule_grace: Duration::from_secs(10),
            unserved_warning: Some(Duration::from_secs(60)),
            retry_policy: RetryPolicy::default(),
        }
    }
}

impl RunnerConfig {
    /// Check every option.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first invalid option and what is allowed.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("poll_interval", self.poll_interval),
            ("lease_ttl", self.lease_ttl),
            ("heartbeat_interval", self.heartbeat_interval),
            ("revive_interval", self.revive_interval),
            ("job_timeout", self.job_timeout),
            ("prune_interval", self.prune_interval),
            ("vacuum_interval", self.vacuum_interval.unwrap_or(Duration::MAX)),
            ("schedule_interval", self.schedule_interval),
            ("unserved_warning", self.unserved_warning.unwrap_or(Duration::MAX)),
        ];
        if let Some((option, _)) = positive.iter().find(|(_, value)| value.is_zero()) {
            return Err(ConfigError::new(option, "must be greater than zero"));
        }
        for (queue, limits) in &self.queue_limits {
            if queue.is_empty() {
                return Err(ConfigError::new("queue_limits", "names an empty queue"));
            }
            if let Err(error) = limits.validate() {
                return Err(ConfigError::new("queue_limits", format!("of queue {queue:?}: {error}")));
            }
        }
        if self.runner_id.as_str().trim().is_empty() {
            return Err(ConfigError::new("runner_id", "must not be empty"));
        }
        if !(1..=10_000).contains(&self.concurrency) {
            return Err(ConfigError::new(
                "concurrency",
                format!("is {}, it must be within 1..=10000", self.concurrency),
            ));
        }
        if self.heartbeat_interval >= self.lease_ttl {
            return Err(ConfigError::new(
                "heartbeat_interval",
                format!(
                    "({:?}) must be shorter than lease_ttl ({:?}); a third of it is a good choice",
                    self.heartbeat_interval, self.lease_ttl
                ),
            ));
        }
        if self.completion_batch_size == 0 {
            return Err(ConfigError::new("completion_batch_size", "must be at least 1"));
        }
        if let Some(queues) = &self.queues
            && (queues.is_empty() || queues.iter().any(|q| q.trim().is_empty()))
        {
            return Err(ConfigError::new(
                "queues",
                "must name at least one queue and no empty name; use None for every queue",
            ));
        }
        self.retry_policy
            .validate()
            .map_err(|problem| ConfigError::new("retry_policy", problem))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(RunnerConfig::default().validate(), Ok(()));
    }

    #[test]
    fn each_bad_option_is_named() {
        let cases = [
            (
                "concurrency",
                RunnerConfig {
                    concurrency: 0,
                    ..RunnerConfig::default()
                },
            ),
            (
                "poll_interval",
                RunnerConfig {
                    poll_interval: Duration::ZERO,
                    ..RunnerConfig::default()
                },
            ),
            (
                "vacuum_interval",
                RunnerConfig {
                    vacuum_interval: Some(Duration::ZERO),
                    ..RunnerConfig::default()
                },
            ),
            (
                "heartbeat_interval",
                RunnerConfig {
                    lease_ttl: Duration::from_secs(5),
                    ..RunnerConfig::default()
                },
            ),
            (
                "queues",
                RunnerConfig {
                    queues: Some(vec![]),
                    ..RunnerConfig::default()
                },
            ),
            (
                "completion_batch_size",
                RunnerConfig {
                    completion_batch_size: 0,
                    ..RunnerConfig::default()
                },
            ),
            (
                "runner_id",
                RunnerConfig {
                    runner_id: RunnerId::new(""),
                    ..RunnerConfig::default()
                },
            ),
        ];
        for (option, config) in cases {
            let err = config.validate().expect_err(option);
            assert_eq!(err.option, option, "{err}");
        }
    }
}
