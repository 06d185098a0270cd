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
