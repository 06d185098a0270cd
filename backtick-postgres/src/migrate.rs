//! Migrations through sqlx: [`backtick_pg_common`] does the work, this is its connection.

use async_trait::async_trait;
use backtick_core::StoreError;
use backtick_pg_common::{
    Applied, BoxError, MigrateError, Migration, MigrationConnection, MigrationStatus, Migrator, check_applied,
};
use sqlx::{AssertSqlSafe, Connection, PgConnection, PgPool, Row};

use crate::error::store_error;
use crate::sql;
use crate::store::PgStore;

impl PgStore {
    /// Apply every pending migration (see [`backtick_pg_common`]); safe to call from many
    /// processes at once. Returns the migrations applied by this call.
    ///
    /// A store connected before its schema existed could not warm its first connection at
    /// connect (its claim and enqueue statements, see [`PgStore::connect`]); when this call
    /// applied migrations, it warms that connection now, and the store's pool warms each
    /// connection it opens from then on, so that the first enqueue and the first claim after
    /// migrating do not pay for a new server backend's first statements.
    ///
    /// # Errors
    /// [`MigrateError`]: a changed migration, a failing one (rolled back), or no connection.
    pub async fn migrate(&self) -> Result<Vec<Migration>, MigrateError> {
        let applied = on_own_connection(&self.inner.pool, Action::Run).await?;
        self.saw_schema_in_place();
        if !applied.is_empty() {
            self.warm_pool(self.inner.pool.options().get_acquire_timeout()).await;
        }
        Ok(applied)
    }

    /// Revert the last applied migration; `None` when nothing is applied.
    ///
    /// # Errors
    /// As [`backtick_pg_common::Migrator::revert_last`].
    pub async fn revert_last_migration(&self) -> Result<Option<Migration>, MigrateError> {
        Ok(on_own_connection(&self.inner.pool, Action::RevertLast).await?.pop())
    }

    /// Every known and applied migration and where it stands.
    ///
    /// # Errors
    /// [`MigrateError::Database`] when the database cannot be read.
    pub async fn migration_status(&self) -> Result<Vec<MigrationStatus>, MigrateError> {
        status(&self.inner.pool).await
    }

    /// Check that every migration of this build is applied, without taking the migration
    /// lock: a cheap start-up check for processes that do not migrate themselves.
    ///
    /// # Errors
    /// [`StoreError::NotMigrated`] naming what is missing; others as for any store call.
    pub async fn check_schema(&self) -> Result<(), StoreError> {
        let rows = sqlx::query(sql::APPLIED_VERSIONS)
            .fetch_all(&self.inner.pool)
            .await
            .map_err(store_error)?;
        let applied: Vec<i64> = rows
            .iter()
            .map(|r| r.try_get("version"))
            .collect::<Result<_, _>>()
            .map_err(store_error)?;
        check_applied(&applied)?;
        self.saw_schema_in_place();
        Ok(())
    }
}

/// A sqlx connection as a [`MigrationConnection`]. Use it to migrate through a connection of
/// your own; [`crate::PgStore::migrate`] does this for you.
///
/// # Examples
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use backtick_postgres::{PgMigrationConnection, Migrator};
/// use sqlx::Connection;
/// let mut conn = sqlx::PgConnection::connect("postgres://postgres@localhost/app").await?;
/// let applied = Migrator::new().run(&mut PgMigrationConnection(&mut conn)).await?;
/// println!("applied {} migrations", applied.len());
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct PgMigrationConnection<'c>(pub &'c mut PgConnection);

#[async_trait]
impl MigrationConnection for PgMigrationConnection<'_> {
    async fn execute(&mut self, sql: &str) -> Result<(), BoxError> {
        // The runner's scripts are the embedded migration files and its own bookkeeping.
        sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn query_applied(&mut self, sql: &str) -> Result<Vec<Applied>, BoxError> {
        let rows = sqlx::query(AssertSqlSafe(sql.to_owned()))
            .persistent(false)
            .fetch_all(&mut *self.0)
            .await?;
        let applied = rows.iter().map(|row| {
            Ok(Applied {
                version: row.try_get("version")?,
                name: row.try_get("name")?,
                checksum: row.try_get("checksum")?,
                applied_at: row.try_get("applied_at")?,
            })
        });
        applied.collect::<Result<_, sqlx::Error>>().map_err(Into::into)
    }
}

/// What to do with a dedicated connection.
enum Action {
    Run,
    RevertLast,
}

/// Run `action` on a connection taken out of `pool` for good: the runner holds a
/// session-level advisory lock, which must not ride back into the pool if the call is
/// cancelled halfway. The connection is closed afterwards.
async fn on_own_connection(pool: &PgPool, action: Action) -> Result<Vec<Migration>, MigrateError> {
    let mut conn = own_connection(pool).await?;
    let migrator = Migrator::new();
    let mut mc = PgMigrationConnection(&mut conn);
    let result = match action {
        Action::Run => migrator.run(&mut mc).await,
        Action::RevertLast => migrator.revert_last(&mut mc).await.map(|m| m.into_iter().collect()),
    };
    close(conn).await;
    result
}

/// [`Migrator::status`] on a dedicated connection.
async fn status(pool: &PgPool) -> Result<Vec<MigrationStatus>, MigrateError> {
    let mut conn = own_connection(pool).await?;
    let result = Migrator::new().status(&mut PgMigrationConnection(&mut conn)).await;
    close(conn).await;
    result
}

/// A new connection with `pool`'s connect options, outside the pool (whose idle connections,
/// warmed at connect, stay there for the store's calls), within the pool's `acquire_timeout`.
async fn own_connection(pool: &PgPool) -> Result<PgConnection, MigrateError> {
    let timeout = pool.options().get_acquire_timeout();
    let connected = tokio::time::timeout(timeout, PgConnection::connect_with(&pool.connect_options())).await;
    connected
        .unwrap_or(Err(sqlx::Error::PoolTimedOut))
        .map_err(|e| MigrateError::Database {
            action: "connect",
            source: e.into(),
        })
}

async fn close(conn: PgConnection) {
    if let Err(error) = conn.close().await {
        tracing::debug!(%error, "closing the migration connection failed");
    }
}
