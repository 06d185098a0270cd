//! Taking a connection from a pool without stalling on a full server, and without dropping a
//! connection halfway through sqlx's test of it.
//!
//! sqlx's `acquire`, once it has decided to open a new connection, keeps retrying the connect
//! while the server answers "too many clients" (SQLSTATE 53300) until `acquire_timeout`, and
//! does not take a connection another task returns to the pool meanwhile: on a full server a
//! store call waited the whole timeout (10 s by default) although the pool held open
//! connections. [`acquire`] asks in slices instead: when a slice ends with no connection, a
//! further `acquire` starts beside the ones still running and takes a connection returned
//! meanwhile (tested as sqlx tests idle connections; `Pool::try_acquire` would skip that test
//! and hand out connections the server has closed). Whichever attempt finishes first serves
//! the call. The slices double up to two seconds, so a connect that is merely slow (a remote
//! server, TLS) still gets the time it needs.
//!
//! An attempt is never dropped while it runs: sqlx would drop the connection it was testing
//! (`test_before_acquire` pings an idle connection) with the answer unread, the server would
//! see the session reset, and the pool would open a new one cold. The attempts left over when
//! the call returns or is cancelled (a runner's wait for the next due job gives up its query
//! when a job is enqueued) run to their end in a task of their own, and their connections go
//! back to the pool.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use backtick_core::StoreError;
use futures::stream::{FuturesUnordered, StreamExt};
use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};
use tokio::time::Instant;

/// The first slice; each next one is twice as long, up to [`LONGEST_SLICE`].
const FIRST_SLICE: Duration = Duration::from_millis(50);
/// The longest slice: how long a returned connection waits at most for a caller stuck in a
/// connect. Also the longest connect [`acquire`] lets finish, far above a connect's usual
/// milliseconds even across regions.
const LONGEST_SLICE: Duration = Duration::from_secs(2);
/// At most this many attempts run for one call: each may hold one of the pool's places while
/// it connects, and one waiting attempt is enough to take a connection returned to the pool.
const MOST_ATTEMPTS: usize = 4;

type Attempt = Pin<Box<dyn Future<Output = Result<PoolConnection<Postgres>, sqlx::Error>> + Send>>;

/// A connection of `pool` within its `acquire_timeout`: an idle one at once, else whichever
/// comes first of a new connection and one returned to the pool (looked for at each slice).
///
/// # Errors
/// `sqlx::Error::PoolTimedOut` after the pool's `acquire_timeout`; a connect error that sqlx
/// does not retry.
pub(crate) async fn acquire(pool: &PgPool) -> Result<PoolConnection<Postgres>, sqlx::Error> {
    let deadline = Instant::now() + pool.options().get_acquire_timeout();
    let mut attempts = Attempts::default();
    let mut slice = FIRST_SLICE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(sqlx::Error::PoolTimedOut);
        }
        if attempts.running.len() < MOST_ATTEMPTS {
            attempts.running.push(Box::pin(pool.acquire()));
        }
        if let Ok(Some(result)) = tokio::time::timeout(slice.min(left), attempts.running.next()).await {
            return result;
        }
        slice = (slice * 2).min(LONGEST_SLICE);
    }
}

/// The attempts of one [`acquire`] call still running; those left when it ends finish in a
/// task of their own (see the module documentation).
#[derive(Default)]
struct Attempts {
    running: FuturesUnordered<Attempt>,
}

impl Drop for Attempts {
    fn drop(&mut self) {
        if self.running.is_empty() {
            return;
        }
        let mut left = std::mem::take(&mut self.running);
        // No runtime (the call is dropped as its runtime shuts down): the pool is going too.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            // A connection an attempt still gets is dropped here: sqlx returns it to the pool.
            runtime.spawn(async move { while left.next().await.is_some() {} });
        }
    }
}

/// Close `conn` instead of returning it to the pool when its call failed with a connection
/// error (a terminated session, a restart): sqlx would test it on release and log a warning
/// ("error occurred while testing the connection on-release") per broken connection, dozens
/// per outage, on top of the one error the caller reports.
pub(crate) fn close_if_broken<T>(conn: &mut PoolConnection<Postgres>, result: &Result<T, StoreError>) {
    if matches!(result, Err(StoreError::Connection { .. })) {
        conn.close_on_drop();
    }
}
