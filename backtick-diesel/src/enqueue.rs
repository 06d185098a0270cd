//! Enqueueing: through the store's pool, or inside a caller's diesel-async transaction. What
//! to run is decided by [`enqueue`]; this file binds and runs the statements with diesel.

use std::collections::HashMap;

use backtick_core::{Enqueued, JobId, NewJob, StoreError, Timestamp, single_enqueued, single_id};
use backtick_pg_common::enqueue::{
    EnqueueConnection, EnqueueRow, JobColumns, UniqueKeys, enqueue, ids_in_input_order, missing_id,
};
use diesel::sql_types::{Array, BigInt, Bytea, Integer, Nullable, SmallInt, Text, Timestamptz};
use diesel_async::{AnsiTransactionManager, AsyncPgConnection, RunQueryDsl, TransactionManager};

use crate::error::store_error;
use crate::row::{EnqueuedRow, KeyedId, MaybeId};
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
    single_id(enqueue_many_in(conn, vec![job]).await?)
}

/// Put many jobs on the queue inside the caller's transaction, atomically: one statement, or
/// with unique keys a savepoint around it and, when a key's holder was committed concurrently,
/// a second statement to find that job. Ids come back in input order. See [`enqueue_in`].
///
/// # Errors
/// As [`enqueue_in`]; on error nothing of this call is left in the transaction.
pub async fn enqueue_many_in(conn: &mut AsyncPgConnection, jobs: Vec<NewJob>) -> Result<Vec<JobId>, StoreError> {
    let enqueued = enqueue_many_in_reporting(conn, jobs).await?;
    Ok(enqueued.into_iter().map(|e| e.id).collect())
}

/// [`enqueue_in`], reporting whether the job was inserted or its `unique_key` was already held
/// by a job, whose id is returned ([`Enqueued::duplicate`]). A key held by a job another
/// transaction has not committed yet waits for that transaction, as any unique insert does.
///
/// # Errors
/// As [`enqueue_in`].
pub async fn enqueue_in_reporting(conn: &mut AsyncPgConnection, job: NewJob) -> Result<Enqueued, StoreError> {
    single_enqueued(enqueue_many_in_reporting(conn, vec![job]).await?)
}

/// [`enqueue_many_in`], reporting for each job, in input order, its id and whether it was a
/// duplicate of a stored job or of an earlier job of the batch.
///
/// # Errors
/// As [`enqueue_many_in`].
pub async fn enqueue_many_in_reporting(
    conn: &mut AsyncPgConnection,
    jobs: Vec<NewJob>,
) -> Result<Vec<Enqueued>, StoreError> {
    enqueue(&mut EnqueueStatements(conn), jobs, None).await
}

/// The enqueue statements on a diesel-async connection, for [`enqueue`]: the one enqueue path of
/// the store, of [`enqueue_many_in`] and of a schedule's fire.
pub(crate) struct EnqueueStatements<'c>(pub(crate) &'c mut AsyncPgConnection);

impl EnqueueConnection for EnqueueStatements<'_> {
    async fn insert_plain(&mut self, c: JobColumns, now: Option<Timestamp>) -> Result<Vec<JobId>, StoreError> {
        let n = c.len();
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
            .bind::<Array<Nullable<Text>>, _>(c.trace_context)
            .load(&mut *self.0)
            .await
            .map_err(store_error)?;
        let ids = rows
            .into_iter()
            .map(|row| row.id.map(JobId).ok_or_else(missing_id))
            .collect::<Result<Vec<_>, _>>()?;
        ids_in_input_order(ids, n)
    }

    /// diesel opens a savepoint when the connection already is in a transaction it knows.
    async fn insert_unique(
        &mut self,
        columns: JobColumns,
        keys: UniqueKeys,
        now: Option<Timestamp>,
    ) -> Result<Vec<Enqueued>, StoreError> {
        let conn = &mut *self.0;
        AnsiTransactionManager::begin_transaction(conn)
            .await
            .map_err(store_error)?;
        match insert_and_resolve(conn, columns, keys, now).await {
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
}

/// [`insert`], then resolve the ids a concurrent insert hid.
async fn insert_and_resolve(
    conn: &mut AsyncPgConnection,
    columns: JobColumns,
    keys: UniqueKeys,
    now: Option<Timestamp>,
) -> Result<Vec<Enqueued>, StoreError> {
    let ids = insert(&mut *conn, columns, now).await?;
    keys.resolve(ids, move |unresolved| ids_by_key(conn, unresolved)).await
}

/// Insert with [`sql::ENQUEUE`]; per job an id, NULL where a concurrent holder of its key
/// is not visible yet, and whether this statement inserted it.
async fn insert(
    conn: &mut AsyncPgConnection,
    c: JobColumns,
    now: Option<Timestamp>,
) -> Result<Vec<EnqueueRow>, StoreError> {
    let rows: Vec<EnqueuedRow> = diesel::sql_query(sql::ENQUEUE)
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
        .bind::<Array<Nullable<Text>>, _>(c.trace_context)
        .bind::<Array<Nullable<BigInt>>, _>(c.unique_period_us)
        .bind::<Array<Nullable<Text>>, _>(c.unique_states)
        .load(conn)
        .await
        .map_err(store_error)?;
    Ok(rows.into_iter().map(|row| (row.id, row.inserted, row.key)).collect())
}

async fn ids_by_key(conn: &mut AsyncPgConnection, keys: Vec<String>) -> Result<HashMap<String, i64>, StoreError> {
    let rows: Vec<KeyedId> = diesel::sql_query(sql::SELECT_IDS_BY_UNIQUE_KEY)
        .bind::<Array<Text>, _>(keys)
        .load(conn)
        .await
        .map_err(store_error)?;
    Ok(rows.into_iter().map(|row| (row.unique_key, row.id)).collect())
}
