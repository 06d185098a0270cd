//! Migrations through diesel-async: [`backtick_pg_common`] does the work, this is its
//! connection.

use std::time::Duration;

use async_trait::async_trait;
use backtick_core::StoreError;
use backtick_pg_common::{
    Applied, BoxError, MigrateError, Migration, MigrationConnection, MigrationStatus, Migrator, check_applied,
};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};

use crate::connect::Connector;
use crate::error::store_error;
use crate::row::Version;
use crate::sql;
use crate::store::DieselStore;

impl DieselStore {
    /// Apply every pending migration (see [`backtick_pg_common`]); safe to call from many
    /// processes at once. Returns the migrations applied by this call.
    ///
    /// A store connected before its schema existed could not warm its first connection at
    /// connect (its claim and enqueue statements, see [`DieselStore::connect`]); when this call
    /// applied migrations, it warms a connection now, and the store's pool warms each
    /// connection it opens from then on, so that the first enqueue and the first claim after
    /// migrating do not pay for a new server backend's first statements.
    ///
    /// # Errors
    /// [`MigrateError`]: a changed migration, a failing one (rolled back), or no connection.
    pub async fn migrate(&self) -> Result<Vec<Migration>, MigrateError> {
        let applied = on_own_connection(&self.inner.connector, Action::Run).await?;
        self.saw_schema_in_place();
        if !applied.is_empty() {
            let timeout = self.inner.pool.timeouts().wait.unwrap_or(Duration::from_secs(30));
            match tokio::time::timeout(timeout, self.warm_statements()).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::debug!(%error, "warming a connection after migrating failed"),
                Err(_) => tracing::debug!(?timeout, "warming a connection after migrating timed out"),
            }
        }
        Ok(applied)
    }

    /// Revert the last applied migration; `None` when nothing is applied.
    ///
    /// # Errors
    /// As [`backtick_pg_common::Migrator::revert_last`].
    pub async fn revert_last_migration(&self) -> Result<Option<Migration>, MigrateError> {
        Ok(on_own_connection(&self.inner.connector, Action::RevertLast)
            .await?
            .pop())
    }

    /// Every known and applied migration and where it stands.
    ///
    /// # Errors
    /// [`MigrateError::Database`] when the database cannot be read.
    pub async fn migration_status(&self) -> Result<Vec<MigrationStatus>, MigrateError> {
        status(&self.inner.connector).await
    }

    /// Check that every migration of this build is applied, without taking the migration
    /// lock: a cheap start-up check for processes that do not migrate themselves.
    ///
    /// # Errors
    /// [`StoreError::NotMigrated`] naming what is missing; others as for any store call.
    pub async fn check_schema(&self) -> Result<(), StoreError> {
        let rows: Vec<Version> = diesel::sql_query(sql::APPLIED_VERSIONS)
            .load(&mut *self.conn().await?)
            .await
            .map_err(store_error)?;
        let applied: Vec<i64> = rows.into_iter().map(|row| row.version).collect();
        check_applied(&applied)?;
        self.saw_schema_in_place();
        Ok(())
    }
}

/// A diesel-async connection as a [`MigrationConnection`]. Use it to migrate through a
/// connection of your own; [`crate::DieselStore::migrate`] does this for you.
///
/// The runner issues `BEGIN`/`COMMIT` itself, so do not hand it a connection inside a diesel
/// transaction.
///
/// # Examples
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use backtick_diesel::diesel_async::{AsyncConnection, AsyncPgConnection};
/// use backtick_diesel::{DieselMigrationConnection, Migrator};
/// let mut conn = AsyncPgConnection::establish("postgres://postgres@localhost/app").await?;
/// let applied = Migrator::new().run(&mut DieselMigrationConnection(&mut conn)).await?;
/// println!("applied {} migrations", applied.len());
/// # Ok(())
/// # }
/// ```
pub struct DieselMigrationConnection<'c>(pub &'c mut AsyncPgConnection);

impl std::fmt::Debug for DieselMigrationConnection<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("DieselMigrationConnection").finish_non_exhaustive()
    }
}

/// One row of the tracking table.
#[derive(QueryableByName)]
struct AppliedRow {
    #[diesel(sql_type = BigInt)]
    version: i64,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    checksum: String,
    #[diesel(sql_type = Timestamptz)]
    applied_at: chrono::DateTime<chrono::Utc>,
}

#[async_trait]
impl MigrationConnection for DieselMigrationConnection<'_> {
    async fn execute(&mut self, sql: &str) -> Result<(), BoxError> {
        // The simple query protocol: several statements, no binds (the embedded migration
        // files and the runner's own bookkeeping).
        self.0.batch_execute(sql).await?;
        Ok(())
    }

    async fn query_applied(&mut self, sql: &str) -> Result<Vec<Applied>, BoxError> {
        let rows: Vec<AppliedRow> = diesel::sql_query(sql).load(&mut *self.0).await?;
        Ok(rows
            .into_iter()
            .map(|row| Applied {
                version: row.version,
                name: row.name,
                checksum: row.checksum,
                applied_at: row.applied_at,
            })
            .collect())
    }
}

/// What to do with a dedicated connection.
pub(crate) enum Action {
    Run,
    RevertLast,
}

/// Run `action` on a connection of its own, outside the pool: the runner holds a
/// session-level advisory lock, which must not ride back into the pool if the call is
/// cancelled halfway. The connection is closed (dropped) afterwards.
pub(crate) async fn on_own_connection(connector: &Connector, action: Action) -> Result<Vec<Migration>, MigrateError> {
    let mut conn = own_connection(connector).await?;
    let migrator = Migrator::new();
    let mut mc = DieselMigrationConnection(&mut conn);
    match action {
        Action::Run => migrator.run(&mut mc).await,
        Action::RevertLast => migrator.revert_last(&mut mc).await.map(|m| m.into_iter().collect()),
    }
}

/// [`Migrator::status`] on a dedicated connection.
pub(crate) async fn status(connector: &Connector) -> Result<Vec<MigrationStatus>, MigrateError> {
    let mut conn = own_connection(connector).await?;
    Migrator::new().status(&mut DieselMigrationConnection(&mut conn)).await
}

async fn own_connection(connector: &Connector) -> Result<AsyncPgConnection, MigrateError> {
    connector.connect().await.map_err(|e| MigrateError::Database {
        action: "connect",
        source: e.into(),
    })
}
