//! Creating a [`PgStore`]: from a url, the environment, connect options or a pool.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use backtick_pg_common::{Target, url_from_env};
use futures::future::BoxFuture;
use sqlx::pool::PoolConnectionMetadata;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

use crate::config::{PgStoreConfig, lifeline_options, parse_url, pool_options, with_application_name};
use crate::error::{PgError, store_error};
use crate::store::PgStore;

impl PgStore {
    /// Connect to `url` (`postgres://user:password@host:port/database`) with the default
    /// [`PgStoreConfig`]. Opens one connection to check the server is there.
    ///
    /// # Errors
    /// [`PgError::InvalidUrl`] (the message never shows the password),
    /// [`PgError::Unreachable`] naming host and port, [`PgError::Rejected`] with the server's
    /// reason (bad password, unknown database).
    pub async fn connect(url: &str) -> Result<Self, PgError> {
        Self::connect_with(url, PgStoreConfig::default()).await
    }

    /// [`PgStore::connect`] with a config.
    ///
    /// # Errors
    /// As [`PgStore::connect`], and [`PgError::Config`] when `config` is invalid.
    pub async fn connect_with(url: &str, config: PgStoreConfig) -> Result<Self, PgError> {
        Self::open(url, None, config).await
    }

    /// Connect to the url in `BT_DATABASE_URL`, else `DATABASE_URL`.
    ///
    /// # Errors
    /// [`PgError::MissingUrl`] naming both variables when neither is set; otherwise as
    /// [`PgStore::connect`].
    pub async fn from_env() -> Result<Self, PgError> {
        Self::from_env_with(PgStoreConfig::default()).await
    }

    /// [`PgStore::from_env`] with a config.
    ///
    /// # Errors
    /// As [`PgStore::from_env`] and [`PgStore::connect_with`].
    pub async fn from_env_with(config: PgStoreConfig) -> Result<Self, PgError> {
        let (variable, url) = url_from_env()?;
        Self::open(&url, Some(variable), config).await
    }

    /// [`PgStore::connect_with`] for connect options built in code (no url).
    ///
    /// # Errors
    /// As [`PgStore::connect_with`], less the url errors.
    pub async fn connect_with_options(options: PgConnectOptions, config: PgStoreConfig) -> Result<Self, PgError> {
        config.validate()?;
        let options = with_application_name(&config, options);
        probe(&options, config.connect_timeout).await?;
        let schema_in_place = Arc::new(AtomicBool::new(false));
        let store = Self::from_pools(
            pool_options(&config)
                .after_connect(warm_new_connection(schema_in_place.clone()))
                .connect_lazy_with(options.clone()),
            lifeline_options(&config).connect_lazy_with(options),
            config.admin_statement_timeout,
            schema_in_place,
        );
        store.warm(config.connect_timeout).await;
        Ok(store)
    }

    /// Open the first connection of the pool and of the lifeline pool side by side, and run a
    /// claim of nothing ([`backtick_pg_common::warm_up_claim`]) and an enqueue of nothing on
    /// the pool's, so that a runner started right after connecting claims and registers, and
    /// a first enqueue runs, without waiting for a connect or a new backend's first
    /// statements. A failure here (a database not migrated
    /// yet, say) is left to the first call that needs the connection: the probe has just
    /// shown the server is there.
    async fn warm(&self, timeout: Duration) {
        let (main, side) = tokio::join!(
            tokio::time::timeout(timeout, self.warm_statements()),
            tokio::time::timeout(timeout, self.inner.lifeline.acquire())
        );
        for (name, result) in [
            ("pool", main),
            ("lifeline", side.map(|r| r.map(drop).map_err(store_error))),
        ] {
            match result {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::debug!(pool = name, %error, "opening a first connection failed"),
                Err(_) => tracing::debug!(pool = name, ?timeout, "opening a first connection timed out"),
            }
        }
    }

    /// Run a claim of nothing and an enqueue of nothing on a connection of the pool (the
    /// first one, right after connecting), at most `timeout`; a failure is logged at debug
    /// and left to the first call that needs the connection.
    pub(crate) async fn warm_pool(&self, timeout: Duration) {
        match tokio::time::timeout(timeout, self.warm_statements()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::debug!(%error, "warming a connection failed"),
            Err(_) => tracing::debug!(?timeout, "warming a connection timed out"),
        }
    }

    /// [`crate::store::warm_claim`] and [`crate::store::warm_enqueue`] on a connection of the
    /// pool.
    async fn warm_statements(&self) -> Result<(), backtick_core::StoreError> {
        let mut conn = self.pool().acquire().await.map_err(store_error)?;
        warm_statements_on(&mut conn).await?;
        self.saw_schema_in_place();
        Ok(())
    }

    /// Record that the schema is in place: from now on the pool warms the connections it
    /// opens.
    pub(crate) fn saw_schema_in_place(&self) {
        self.inner.schema_in_place.store(true, Ordering::Release);
    }

    /// The first time a runner starts on this store: have up to three pool connections (as many
    /// as the pool has free) open with the claim and enqueue statements warm
    /// ([`warm_statements_on`]), at most `timeout`. sqlx checks a connection as it returns to the pool, off the caller's path, so
    /// the claim loop's back-to-back calls (the claim, the limited claim, the next claim once
    /// the listener is up) each find the previous connection still out and take another: a
    /// new connection there costs a connect and a new backend's first statements in front of
    /// the runner's first jobs. An enqueue-only process never pays for these connections. A
    /// failure is left to the first call that needs the connection.
    pub(crate) async fn warm_for_claims(&self, timeout: Duration) {
        if self.inner.claims_warmed.swap(true, std::sync::atomic::Ordering::AcqRel) {
            return;
        }
        // Never more than the pool can give without waiting for a caller's connection.
        let pool = self.pool();
        let free = pool.num_idle() + pool.options().get_max_connections().saturating_sub(pool.size()) as usize;
        if free < 2 {
            return;
        }
        let wanted = free.min(3);
        let warm_one = |nth: usize| async move {
            if nth >= wanted {
                return Ok(None);
            }
            let mut conn = crate::acquire::acquire(pool).await.map_err(store_error)?;
            warm_statements_on(&mut conn).await?;
            Ok::<_, backtick_core::StoreError>(Some(conn))
        };
        // Held together, so that they are different connections; dropped together at the end.
        let warmed = tokio::time::timeout(timeout, async { tokio::join!(warm_one(0), warm_one(1), warm_one(2)) }).await;
        match warmed {
            Ok((first, second, third)) => {
                for error in [first, second, third].into_iter().filter_map(Result::err) {
                    tracing::debug!(%error, "warming a connection for claims failed");
                }
            }
            Err(_) => tracing::debug!(?timeout, "warming connections for claims timed out"),
        }
    }

    async fn open(url: &str, variable: Option<&'static str>, config: PgStoreConfig) -> Result<Self, PgError> {
        config.validate()?;
        Self::connect_with_options(parse_url(url, variable)?, config).await
    }
}

/// The claim and enqueue statements of nothing on `conn` ([`crate::store::warm_claim`],
/// [`crate::store::warm_enqueue`]), in a transaction bounded by
/// [`backtick_pg_common::WARM_UP_BOUND`] and always rolled back.
pub(crate) async fn warm_statements_on(conn: &mut PgConnection) -> Result<(), backtick_core::StoreError> {
    let mut tx = conn.begin().await.map_err(store_error)?;
    let warmed = async {
        sqlx::raw_sql(backtick_pg_common::WARM_UP_BOUND)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        crate::store::warm_claim(&mut tx, &backtick_pg_common::warm_up_claim())
            .await
            .map_err(store_error)?;
        crate::store::warm_enqueue(&mut tx).await
    }
    .await;
    let rolled_back = tx.rollback().await.map_err(store_error);
    warmed.and(rolled_back)
}

/// The pool's connect hook: once `schema_in_place` is set, run the claim and enqueue
/// statements of nothing on each new connection before it serves its first call. A new server
/// backend's first claim or enqueue loads the catalog, compiles the functions and plans the
/// statements, a few milliseconds; sqlx gives a connection back to the pool only after a ping,
/// so back-to-back calls open new connections, and without this the first calls on each of
/// them (a first job's enqueue, say) would pay for that. Before the schema is known to be
/// there (a store connected before `migrate`) nothing runs, so the server logs no error; a
/// failure is logged at debug and the connection serves as it is.
fn warm_new_connection(
    schema_in_place: Arc<AtomicBool>,
) -> impl for<'c> Fn(&'c mut PgConnection, PoolConnectionMetadata) -> BoxFuture<'c, Result<(), sqlx::Error>>
+ Send
+ Sync
+ 'static {
    move |conn, _| {
        let warm = schema_in_place.load(Ordering::Acquire);
        Box::pin(async move {
            if warm && let Err(error) = warm_statements_on(conn).await {
                tracing::debug!(%error, "warming a new connection failed");
            }
            Ok(())
        })
    }
}

/// Open and close one connection, to report an unreachable server or a refusal clearly.
async fn probe(options: &PgConnectOptions, timeout: Duration) -> Result<(), PgError> {
    let target = Target {
        host: options.get_host().to_owned(),
        port: options.get_port(),
        user: options.get_username().to_owned(),
        database: options.get_database().unwrap_or(options.get_username()).to_owned(),
    };
    let conn = match tokio::time::timeout(timeout, PgConnection::connect_with(options)).await {
        Err(_) => return Err(target.no_answer(timeout)),
        Ok(Err(sqlx::Error::Database(db))) => return Err(target.rejected(db.message())),
        Ok(Err(e @ (sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_)))) => {
            return Err(target.unreachable(e.into()));
        }
        Ok(Err(other)) => return Err(PgError::Store(store_error(other))),
        Ok(Ok(conn)) => conn,
    };
    if let Err(error) = conn.close().await {
        tracing::debug!(%error, "closing the probe connection failed");
    }
    Ok(())
}
