//! Enqueueing: through the store's pool, or inside a caller's transaction. What to run is
//! decided by [`enqueue`]; this file binds and runs the statements with sqlx.

use std::collections::HashMap;

use backtick_core::{Enqueued, JobId, NewJob, StoreError, Timestamp, single_enqueued, single_id};
use backtick_pg_common::enqueue::{EnqueueConnection, EnqueueRow, JobColumns, UniqueKeys, enqueue, ids_in_input_order};
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
    single_id(enqueue_many_in(conn, vec![job]).await?)
}

/// Put many jobs on the queue inside the caller's transaction, atomically: one statement, or
/// with unique keys a savepoint around it and, when a key's holder was committed concurrently,
/// a second statement to find that job. Ids come back in input order. See [`enqueue_in`].
///
/// # Errors
/// As [`enqueue_in`]; on error nothing of this call is left in the transaction.
pub async fn enqueue_many_in(conn: &mut PgConnection, jobs: Vec<NewJob>) -> Result<Vec<JobId>, StoreError> {
    let enqueued = enqueue_many_in_reporting(conn, jobs).await?;
    Ok(enqueued.into_iter().map(|e| e.id).collect())
}

/// [`enqueue_in`], reporting whether the job was inserted or its `unique_key` was already held
/// by a job, whose id is returned ([`Enqueued::duplicate`]). A key held by a job another
/// transaction has not committed yet waits for that transaction, as any unique insert does.
///
/// # Errors
/// As [`enqueue_in`].
pub async fn enqueue_in_reporting(conn: &mut PgConnection, job: NewJob) -> Result<Enqueued, StoreError> {
    single_enqueued(enqueue_many_in_reporting(conn, vec![job]).await?)
}

/// [`enqueue_many_in`], reporting for each job, in input order, its id and whether it was a
/// duplicate of a stored job or of an earlier job of the batch.
///
/// # Errors
/// As [`enqueue_many_in`].
pub async fn enqueue_many_in_reporting(
    conn: &mut PgConnection,
    jobs: Vec<NewJob>,
) -> Result<Vec<Enqueued>, StoreError> {
    enqueue(&mut EnqueueStatements(conn), jobs, None).await
}

/// The enqueue statements on a sqlx connection, for [`enqueue`]: the one enqueue path of
/// the store, of [`enqueue_many_in`] and of a schedule's fire.
pub(crate) struct EnqueueStatements<'c>(pub(crate) &'c mut PgConnection);

impl EnqueueConnection for EnqueueStatements<'_> {
    async fn insert_plain(&mut self, c: JobColumns, now: Option<Timestamp>) -> Result<Vec<JobId>, StoreError> {
        let n = c.len();
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
            .bind(c.trace_context)
            .fetch_all(&mut *self.0)
            .await
            .map_err(store_error)?;
        let ids = rows
            .iter()
            .map(|row| row.try_get::<i64, _>(0).map(JobId).map_err(store_error))
            .collect::<Result<Vec<_>, _>>()?;
        ids_in_input_order(ids, n)
    }

    /// sqlx opens a savepoint when the connection already is in a transaction; dropping `tx`
    /// on an error rolls the whole call back.
    async fn insert_unique(
        &mut self,
        columns: JobColumns,
        keys: UniqueKeys,
        now: Option<Timestamp>,
    ) -> Result<Vec<Enqueued>, StoreError> {
        let mut tx = self.0.begin().await.map_err(store_error)?;
        let conn: &mut PgConnection = &mut tx;
        let ids = insert(&mut *conn, columns, now).await?;
        let ids = keys
            .resolve(ids, move |unresolved| ids_by_key(conn, unresolved))
            .await?;
        tx.commit().await.map_err(store_error)?;
        Ok(ids)
    }
}

/// Insert with [`sql::ENQUEUE`]; per job an id, NULL where a concurrent holder of its key
/// is not visible yet, and whether this statement inserted it.
async fn insert(conn: &mut PgConnection, c: JobColumns, now: Option<Timestamp>) -> Result<Vec<EnqueueRow>, StoreError> {
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
        .bind(c.trace_context)
        .bind(c.unique_period_us)
        .bind(c.unique_states)
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get::<Option<i64>, _>("id").map_err(store_error)?,
                row.try_get::<bool, _>("inserted").map_err(store_error)?,
                row.try_get::<Option<String>, _>("key").map_err(store_error)?,
            ))
        })
        .collect()
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
