//! Creating a [`PgStore`]: from a url, the environment, connect options or a pool.

use std::time::Duration;

use backtick_pg_common::{Target, url_from_env};
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
        let store = Self::from_pools(
            pool_options(&config).connect_lazy_with(options.clone()),
            lifeline_options(&config).connect_lazy_with(options),
            config.admin_statement_timeout,
        );
        store.warm(config.connect_timeout).await;
        Ok(store)
    }

    /// Open the first connection of the pool and of the lifeline pool side by side, and run a
    /// claim of nothing on the pool's ([`backtick_pg_common::warm_up_claim`]), so that a
    /// runner started right after connecting claims and registers without waiting for a
    /// connect or a new backend's first statement. A failure here (a database not migrated
    /// yet, say) is left to the first call that needs the connection: the probe has just
    /// shown the server is there.
    async fn warm(&self, timeout: Duration) {
        let params = backtick_pg_common::warm_up_claim();
        let main = async {
            let mut conn = self.pool().acquire().await?;
            crate::store::warm_claim(&mut conn, &params).await
        };
        let (main, side) = tokio::join!(
            tokio::time::timeout(timeout, main),
            tokio::time::timeout(timeout, self.inner.lifeline.acquire())
        );
        for (name, result) in [("pool", main), ("lifeline", side.map(|r| r.map(drop)))] {
            match result {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::debug!(pool = name, %error, "opening a first connection failed"),
                Err(_) => tracing::debug!(pool = name, ?timeout, "opening a first connection timed out"),
            }
        }
    }

    /// The first time a runner starts on this store: have up to three pool connections (as many
    /// as the pool has free) open with the claim statements warm ([`crate::store::warm_claim`]), at most
    /// `timeout`. sqlx checks a connection as it returns to the pool, off the caller's path, so
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
        let params = &backtick_pg_common::warm_up_claim();
        let wanted = free.min(3);
        let warm_one = |nth: usize| async move {
            if nth >= wanted {
                return Ok(None);
            }
            let mut conn = crate::acquire::acquire(pool).await?;
            crate::store::warm_claim(&mut conn, params).await?;
            Ok::<_, sqlx::Error>(Some(conn))
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
