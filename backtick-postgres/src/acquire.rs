//! Taking a connection from a pool without stalling on a full server.
//!
//! sqlx's `acquire`, once it has decided to open a new connection, keeps retrying the connect
//! while the server answers "too many clients" (SQLSTATE 53300) until `acquire_timeout`, and
//! does not take a connection another task returns to the pool meanwhile: on a full server a
//! store call waited the whole timeout (10 s by default) although the pool held open
//! connections. [`acquire`] asks in slices instead: a slice that is still connecting is
//! dropped (sqlx then gives its place in the pool back) and the next slice starts a new
//! `acquire`, which takes a connection returned meanwhile (tested as sqlx tests idle
//! connections; `Pool::try_acquire` would skip that test and hand out connections the server
//! has closed). The slices double up to two seconds, so a connect that is merely slow (a remote
//! server, TLS) still gets the time it needs.

use std::time::Duration;

use backtick_core::StoreError;
use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};
use tokio::time::Instant;

/// The first slice; each next one is twice as long, up to [`LONGEST_SLICE`].
const FIRST_SLICE: Duration = Duration::from_millis(50);
/// The longest slice: how long a returned connection waits at most for a caller stuck in a
/// connect. Also the longest connect [`acquire`] lets finish, far above a connect's usual
/// milliseconds even across regions.
const LONGEST_SLICE: Duration = Duration::from_secs(2);

/// A connection of `pool` within its `acquire_timeout`: an idle one at once, else whichever
/// comes first of a new connection and one returned to the pool (looked for at each slice).
///
/// # Errors
/// `sqlx::Error::PoolTimedOut` after the pool's `acquire_timeout`; a connect error that sqlx
/// does not retry.
pub(crate) async fn acquire(pool: &PgPool) -> Result<PoolConnection<Postgres>, sqlx::Error> {
    let deadline = Instant::now() + pool.options().get_acquire_timeout();
    let mut slice = FIRST_SLICE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(sqlx::Error::PoolTimedOut);
        }
        if let Ok(result) = tokio::time::timeout(slice.min(left), pool.acquire()).await {
            return result;
        }
        slice = (slice * 2).min(LONGEST_SLICE);
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
