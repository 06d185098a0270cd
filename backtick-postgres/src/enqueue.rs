//! Enqueueing: through the store's pool, or inside a caller's transaction.

use std::collections::HashMap;
use std::time::Duration;

use backtick_core::{JobId, NewJob, RunAt, StoreError, Timestamp};
use sqlx::{Acquire, PgConnection, Row};

use crate::error::store_error;
use crate::sql;

/// Put `job` on the queue inside the caller's transaction: the job exists only if the caller
/// commits, and its wake-up NOTIFY is sent only then. Times come from the database clock.
///
/// With a `unique_key` an existing job already holds, nothing is inserted and that job's id
/// is returned.
///
/// Pass a sqlx [`sqlx::Transaction`] (`&mut tx`) or a plain connection. A job with a unique
/// key is written under a savepoint, which relies on sqlx knowing the connection is in a
/// transaction: do not open the transaction with a hand-written `BEGIN`.
///
/// # Errors
/// [`StoreError::InvalidJob`] when `job.validate()` fails; otherwise as
/// [`backtick_core::QueueStore::enqueue`].
///
/// # Examples
/// ```no_run
/// # async fn example(pool: sqlx::PgPool) -> Result<(), Box<dyn std::error::Error>> {
/// use backtick_postgres::{NewJob, enqueue_in};
/// let mut tx = pool.begin().await?;
/// // ... the application's own writes on `tx` ...
/// let id = enqueue_in(&mut tx, NewJob::new("send_welcome_mail", &42_i64)?).await?;
/// tx.commit().await?; // the job and the application's writes land together, or neither
/// # let _ = id;
/// # Ok(())
/// # }
/// ```
pub async fn enqueue_in(conn: &mut PgConnection, job: NewJob) -> Result<JobId, StoreError> {
    let ids = enqueue_many_in(conn, vec![job]).await?;
    ids.into_iter().next().ok_or_else(|| StoreError::Other {
        source: "the insert returned no id".into(),
    })
}

/// Put many jobs on the queue inside the caller's transaction, atomically, in one statement.
/// Ids come back in input order. See [`enqueue_in`].
///
/// # Errors
/// As [`enqueue_in`]; on error nothing of this call is left in the transaction.
pub async fn enqueue_many_in(conn: &mut PgConnection, jobs: Vec<NewJob>) -> Result<Vec<JobId>, StoreError> {
    enqueue_on(conn, jobs, None).await
}

/// The one enqueue path. Without unique keys it is a single statement. With unique keys it
/// runs inside a transaction (a savepoint when the connection already is in one), because a
/// key committed by a concurrent insert after the statement's snapshot needs a second
/// statement to find its id; if even that finds nothing, the whole call is rolled back.
pub(crate) async fn enqueue_on(
    conn: &mut PgConnection,
    jobs: Vec<NewJob>,
    now: Option<Timestamp>,
) -> Result<Vec<JobId>, StoreError> {
    for job in &jobs {
        job.validate()?;
    }
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    if jobs.iter().all(|job| job.unique_key.is_none()) {
        return insert_plain(conn, Columns::from(jobs), now).await;
    }
    let mut tx = conn.begin().await.map_err(store_error)?;
    let ids = insert_unique(&mut tx, jobs, now).await?;
    tx.commit().await.map_err(store_error)?;
    Ok(ids)
}

async fn insert_unique(
    conn: &mut PgConnection,
    jobs: Vec<NewJob>,
    now: Option<Timestamp>,
) -> Result<Vec<JobId>, StoreError> {
    let keys: Vec<Option<String>> = jobs.iter().map(|job| job.unique_key.clone()).collect();
    let ids = insert(conn, Columns::from(jobs), now).await?;
    let unresolved: Vec<String> = ids
        .iter()
        .zip(&keys)
        .filter(|(id, _)| id.is_none())
        .filter_map(|(_, key)| key.clone())
        .collect();
    let found = if unresolved.is_empty() {
        HashMap::new()
    } else {
        ids_by_key(conn, unresolved).await?
    };
    ids.into_iter()
        .zip(keys)
        .map(|(id, key)| match (id, key) {
            (Some(id), _) => Ok(JobId(id)),
            (None, Some(key)) => found.get(&key).copied().map(JobId).ok_or_else(|| vanished_key(&key)),
            (None, None) => Err(missing_id()),
        })
        .collect()
}

async fn insert(conn: &mut PgConnection, c: Columns, now: Option<Timestamp>) -> Result<Vec<Option<i64>>, StoreError> {
    let rows = sqlx::query(sql::ENQUEUE)
        .bind(now)
        .bind(c.worker)
        .bind(c.queue)
        .bind(c.args)
        .bind(c.codec)
        .bind(c.priority)
        .bind(c.max_attempts)
        .bind(c.run_at)
        .bind(c.delay_us)
        .bind(c.unique_key)
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?;
    rows.iter()
        .map(|row| row.try_get::<Option<i64>, _>("id").map_err(store_error))
        .collect()
}

/// Insert jobs without unique keys with [`sql::ENQUEUE_PLAIN`]; ids in input order.
async fn insert_plain(conn: &mut PgConnection, c: Columns, now: Option<Timestamp>) -> Result<Vec<JobId>, StoreError> {
    let n = c.worker.len();
    let rows = sqlx::query(sql::ENQUEUE_PLAIN)
        .bind(now)
        .bind(c.worker)
        .bind(c.queue)
        .bind(c.args)
        .bind(c.codec)
        .bind(c.priority)
        .bind(c.max_attempts)
        .bind(c.run_at)
        .bind(c.delay_us)
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?;
    let mut ids = rows
        .iter()
        .map(|row| row.try_get::<i64, _>(0).map(JobId).map_err(store_error))
        .collect::<Result<Vec<_>, _>>()?;
    if ids.len() != n {
        return Err(missing_id());
    }
    ids.sort_unstable();
    Ok(ids)
}

async fn ids_by_key(conn: &mut PgConnection, keys: Vec<String>) -> Result<HashMap<String, i64>, StoreError> {
    let rows = sqlx::query(sql::SELECT_IDS_BY_UNIQUE_KEY)
        .bind(keys)
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get("unique_key").map_err(store_error)?,
                row.try_get("id").map_err(store_error)?,
            ))
        })
        .collect()
}

fn missing_id() -> StoreError {
    StoreError::Other {
        source: "the insert returned no id for a job without a unique key".into(),
    }
}

fn vanished_key(key: &str) -> StoreError {
    let message = format!(
        "unique key {key:?} is held by a job this transaction cannot see (inserted concurrently, then pruned, \
         or hidden by a repeatable-read snapshot); nothing was enqueued, try again"
    );
    StoreError::Conflict { source: message.into() }
}

/// Microseconds, saturating (Postgres rejects the out-of-range interval with a clear error).
pub(crate) fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// The jobs as one array per column, for `unnest`.
#[derive(Default)]
struct Columns {
    worker: Vec<String>,
    queue: Vec<String>,
    args: Vec<Vec<u8>>,
    codec: Vec<&'static str>,
    priority: Vec<i16>,
    max_attempts: Vec<i32>,
    run_at: Vec<Option<Timestamp>>,
    delay_us: Vec<Option<i64>>,
    unique_key: Vec<Option<String>>,
}

impl From<Vec<NewJob>> for Columns {
    fn from(jobs: Vec<NewJob>) -> Self {
        let mut c = Columns::default();
        for job in jobs {
            let (run_at, delay) = match job.run_at {
                Some(RunAt::At(at)) => (Some(at), None),
                Some(RunAt::After(after)) => (None, Some(micros(after))),
                None => (None, None),
            };
            c.worker.push(job.worker);
            c.queue.push(job.queue);
            c.args.push(job.args);
            c.codec.push(job.codec.as_str());
            c.priority.push(job.priority);
            c.max_attempts.push(job.max_attempts);
            c.run_at.push(run_at);
            c.delay_us.push(delay);
            c.unique_key.push(job.unique_key);
        }
        c
    }
}
