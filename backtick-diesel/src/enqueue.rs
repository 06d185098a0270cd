//! Enqueueing: through the store's pool, or inside a caller's diesel-async transaction.

use std::collections::HashMap;
use std::time::Duration;

use backtick_core::{JobId, NewJob, RunAt, StoreError, Timestamp};
use diesel::sql_types::{Array, BigInt, Bytea, Integer, Nullable, SmallInt, Text, Timestamptz};
use diesel_async::{AnsiTransactionManager, AsyncPgConnection, RunQueryDsl, TransactionManager};

use crate::error::store_error;
use crate::row::{KeyedId, MaybeId};
use crate::sql;

/// Put `job` on the queue inside the caller's transaction: the job exists only if the caller
/// commits, and its wake-up NOTIFY is sent only then. Times come from the database clock.
///
/// Open the transaction with diesel-async (`conn.transaction(..)` or
/// `AnsiTransactionManager::begin_transaction`), not with a raw `BEGIN`: a job with a unique
/// key is inserted under a savepoint, which diesel opens only inside a transaction it knows.
///
/// With a `unique_key` an existing job already holds, nothing is inserted and that job's id
/// is returned.
///
/// # Errors
/// [`StoreError::InvalidJob`] when `job.validate()` fails; otherwise as
/// [`backtick_core::QueueStore::enqueue`].
///
/// # Examples
/// ```no_run
/// # async fn example(store: backtick_diesel::DieselStore) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// use backtick_diesel::diesel_async::AsyncConnection;
/// use backtick_diesel::{NewJob, enqueue_in};
///
/// let mut conn = store.pool().get().await?;
/// let id = conn
///     .transaction::<_, Box<dyn std::error::Error + Send + Sync>, _>(async |conn| {
///         // ... the application's own writes on `conn` ...
///         Ok(enqueue_in(conn, NewJob::new("send_welcome_mail", &42_i64)?).await?)
///     })
///     .await?; // the job and the application's writes land together, or neither
/// # let _ = id;
/// # Ok(())
/// # }
/// ```
pub async fn enqueue_in(conn: &mut AsyncPgConnection, job: NewJob) -> Result<JobId, StoreError> {
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
pub async fn enqueue_many_in(conn: &mut AsyncPgConnection, jobs: Vec<NewJob>) -> Result<Vec<JobId>, StoreError> {
    enqueue_on(conn, jobs, None).await
}

/// The one enqueue path. Without unique keys it is a single statement. With unique keys it
/// runs inside a transaction (a savepoint when the connection already is in one), because a
/// key committed by a concurrent insert after the statement's snapshot needs a second
/// statement to find its id; if even that finds nothing, the whole call is rolled back.
pub(crate) async fn enqueue_on(
    conn: &mut AsyncPgConnection,
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
    AnsiTransactionManager::begin_transaction(conn)
        .await
        .map_err(store_error)?;
    match insert_unique(conn, jobs, now).await {
        Ok(ids) => {
            AnsiTransactionManager::commit_transaction(conn)
                .await
                .map_err(store_error)?;
            Ok(ids)
        }
        Err(error) => {
            if let Err(rollback) = AnsiTransactionManager::rollback_transaction(conn).await {
                tracing::debug!(error = %rollback, "rolling back a failed enqueue failed");
            }
            Err(error)
        }
    }
}

async fn insert_unique(
    conn: &mut AsyncPgConnection,
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

async fn insert(
    conn: &mut AsyncPgConnection,
    c: Columns,
    now: Option<Timestamp>,
) -> Result<Vec<Option<i64>>, StoreError> {
    let rows: Vec<MaybeId> = diesel::sql_query(sql::ENQUEUE)
        .bind::<Nullable<Timestamptz>, _>(now)
        .bind::<Array<Text>, _>(c.worker)
        .bind::<Array<Text>, _>(c.queue)
        .bind::<Array<Bytea>, _>(c.args)
        .bind::<Array<Text>, _>(c.codec)
        .bind::<Array<SmallInt>, _>(c.priority)
        .bind::<Array<Integer>, _>(c.max_attempts)
        .bind::<Array<Nullable<Timestamptz>>, _>(c.run_at)
        .bind::<Array<Nullable<BigInt>>, _>(c.delay_us)
        .bind::<Array<Nullable<Text>>, _>(c.unique_key)
        .load(conn)
        .await
        .map_err(store_error)?;
    Ok(rows.into_iter().map(|row| row.id).collect())
}

/// Insert jobs without unique keys with [`sql::ENQUEUE_PLAIN`]; ids in input order.
async fn insert_plain(
    conn: &mut AsyncPgConnection,
    c: Columns,
    now: Option<Timestamp>,
) -> Result<Vec<JobId>, StoreError> {
    let n = c.worker.len();
    let rows: Vec<MaybeId> = diesel::sql_query(sql::ENQUEUE_PLAIN)
        .bind::<Nullable<Timestamptz>, _>(now)
        .bind::<Array<Text>, _>(c.worker)
        .bind::<Array<Text>, _>(c.queue)
        .bind::<Array<Bytea>, _>(c.args)
        .bind::<Array<Text>, _>(c.codec)
        .bind::<Array<SmallInt>, _>(c.priority)
        .bind::<Array<Integer>, _>(c.max_attempts)
        .bind::<Array<Nullable<Timestamptz>>, _>(c.run_at)
        .bind::<Array<Nullable<BigInt>>, _>(c.delay_us)
        .load(conn)
        .await
        .map_err(store_error)?;
    let mut ids = rows
        .into_iter()
        .map(|row| row.id.map(JobId).ok_or_else(missing_id))
        .collect::<Result<Vec<_>, _>>()?;
    if ids.len() != n {
        return Err(missing_id());
    }
    ids.sort_unstable();
    Ok(ids)
}

async fn ids_by_key(conn: &mut AsyncPgConnection, keys: Vec<String>) -> Result<HashMap<String, i64>, StoreError> {
    let rows: Vec<KeyedId> = diesel::sql_query(sql::SELECT_IDS_BY_UNIQUE_KEY)
        .bind::<Array<Text>, _>(keys)
        .load(conn)
        .await
        .map_err(store_error)?;
    Ok(rows.into_iter().map(|row| (row.unique_key, row.id)).collect())
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
