//! Taking a connection from a pool without stalling on a full server.
//!
//! sqlx's `acquire`, once it has decided to open a new connection, keeps retrying the connect
//! while the server answers "too many clients" (SQLSTATE 53300) until `acquire_timeout`, and
//! does not take a connection another task returns to the pool meanwhile: on a full server a
//! store call waited the whole timeout (10 s by default) although the pool held open
//! connections. [`acquire`] asks in slices instead: between slices it takes an idle connection
//! if one was returned, and a slice that is still connecting is dropped (sqlx then gives its
//! place in the pool back). The slices double, so a connect that is merely slow (a remote
//! server, TLS) still gets the time it needs.

use std::time::Duration;

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
/// comes first of a new connection and one returned to the pool (checked between slices).
///
/// # Errors
/// `sqlx::Error::PoolTimedOut` after the pool's `acquire_timeout`; a connect error that sqlx
/// does not retry.
pub(crate) async fn acquire(pool: &PgPool) -> Result<PoolConnection<Postgres>, sqlx::Error> {
    let deadline = Instant::now() + pool.options().get_acquire_timeout();
    let mut slice = FIRST_SLICE;
    loop {
        if let Some(connection) = pool.try_acquire() {
            return Ok(connection);
        }
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
