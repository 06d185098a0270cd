//! Warming a store's first connection at connect, so that a runner started right after
//! connecting claims its first job without paying for a new server backend's first queries.

use std::time::Duration;

use backtick_core::{ClaimParams, RunnerId};

/// A claim of nothing: [`crate::sql::CLAIM`] bound with these parameters claims no job (its
/// limit is zero), but runs the statement once on the connection. A new server backend's
/// first call of `backtick_claim` loads the catalog, compiles the function and plans its
/// statement, a few milliseconds; the client prepares the statement too. Run once on the
/// pool's first connection at connect, it leaves all of that done (and the statement
/// prepared) for the runner's first claim on that connection.
///
/// # Examples
/// ```
/// let params = backtick_pg_common::warm_up_claim();
/// assert_eq!(params.limit, 0);
/// ```
pub fn warm_up_claim() -> ClaimParams {
    ClaimParams {
        runner_id: RunnerId::new("backtick-warm-up"),
        workers: Vec::new(),
        queues: None,
        limit: 0,
        lease_ttl: Duration::from_secs(1),
        now: None,
    }
}

/// What a warm-up transaction sets first: its statements give up after half a second. A
/// warm-up runs in a transaction of its own that is always rolled back (it writes nothing),
/// and this bound keeps it from waiting on a lock (a migration, a `LOCK TABLE`, a
/// `VACUUM FULL` holding the jobs table) while the connection it warms is wanted: a warm-up cut
/// off leaves the connection cold, nothing worse.
///
/// # Examples
/// ```
/// assert!(backtick_pg_common::WARM_UP_BOUND.starts_with("SET LOCAL statement_timeout"));
/// ```
pub const WARM_UP_BOUND: &str = "SET LOCAL statement_timeout = '500ms'";
