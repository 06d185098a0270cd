//! Creating a [`DieselStore`] (from a url, the environment, connect options or a pool) and
//! opening its connections: pooled ones, dedicated ones (listener, migrations), and the probe
//! that reports an unreachable server or a refusal clearly.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use backtick_pg_common::url_from_env;
use diesel::ConnectionResult;
use diesel::connection::InstrumentationEvent;
use diesel_async::AsyncConnection as _;
use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod};
use futures::FutureExt;

use crate::config::{DieselStoreConfig, parse_url, target, validate, with_config};
use crate::error::{DieselError, connect_error, is_connection_lost, store_error};
use crate::store::DieselStore;

/// The connection pool of a [`crate::DieselStore`]: deadpool over diesel-async's
/// `AsyncPgConnection`. Take a connection with `pool.get().await` for the application's own
/// queries and for [`crate::enqueue_in`].
pub type DieselPool = diesel_async::pooled_connection::deadpool::Pool<AsyncPgConnection>;

impl DieselStore {
    /// Connect to `url` (`postgres://user:password@host:port/database`) with the default
    /// [`DieselStoreConfig`]. Opens one connection to check the server is there.
    ///
    /// # Errors
    /// [`DieselError::InvalidUrl`] (the message never shows the password),
    /// [`DieselError::Unreachable`] naming host and port, [`DieselError::Rejected`] with the
    /// server's reason (bad password, unknown database).
    pub async fn connect(url: &str) -> Result<Self, DieselError> {
        Self::connect_with(url, DieselStoreConfig::default()).await
    }

    /// [`DieselStore::connect`] with a config.
    ///
    /// # Errors
    /// As [`DieselStore::connect`], and [`DieselError::Config`] when `config` is invalid.
    pub async fn connect_with(url: &str, config: DieselStoreConfig) -> Result<Self, DieselError> {
        Self::open(url, None, config).await
    }

    /// Connect to the url in `BT_DATABASE_URL`, else `DATABASE_URL`.
    ///
    /// # Errors
    /// [`DieselError::MissingUrl`] naming both variables when neither is set; otherwise as
    /// [`DieselStore::connect`].
    pub async fn from_env() -> Result<Self, DieselError> {
        Self::from_env_with(DieselStoreConfig::default()).await
    }

    /// [`DieselStore::from_env`] with a config.
    ///
    /// # Errors
    /// As [`DieselStore::from_env`] and [`DieselStore::connect_with`].
    pub async fn from_env_with(config: DieselStoreConfig) -> Result<Self, DieselError> {
        let (variable, url) = url_from_env()?;
        Self::open(&url, Some(variable), config).await
    }

    /// [`DieselStore::connect_with`] for connect options built in code (no url).
    ///
    /// # Errors
    /// As [`DieselStore::connect_with`], less the url errors.
    pub async fn connect_with_options(
        options: tokio_postgres::Config,
        config: DieselStoreConfig,
    ) -> Result<Self, DieselError> {
        validate(&config)?;
        let options = with_config(&config, options);
        probe(&options, config.connect_timeout).await?;
        let lifeline = pool(options.clone(), &lifeline_config(&config), None)?;
        let schema_in_place = Arc::new(AtomicBool::new(false));
        let pool = pool(options.clone(), &config, Some(schema_in_place.clone()))?;
        let store = Self::build(
            pool,
            lifeline,
            Connector::Options(Box::new(options)),
            config.admin_statement_timeout,
            schema_in_place,
        );
        store.warm().await;
        Ok(store)
    }

    /// A store on a pool the application already has. Nothing is checked until first use.
    /// The wake-up listener and the migration runner each take a connection out of `pool` for
    /// good (the pool opens replacements); the pool's connections must be made by
    /// `AsyncPgConnection::establish` or `try_from_client_and_connection` for hints to arrive.
    /// Admin reads are bounded by the default `admin_statement_timeout` of
    /// [`DieselStoreConfig`] (see [`DieselStore::from_pool_with`]).
    pub fn from_pool(pool: DieselPool) -> Self {
        Self::from_pool_with(pool, DieselStoreConfig::default().admin_statement_timeout)
    }

    /// [`DieselStore::from_pool`] whose admin reads the server cancels after
    /// `admin_statement_timeout` (`None`: no bound), as [`DieselStoreConfig`]'s option of that
    /// name.
    pub fn from_pool_with(pool: DieselPool, admin_statement_timeout: Option<std::time::Duration>) -> Self {
        Self::build(
            pool.clone(),
            pool.clone(),
            Connector::Pool(pool),
            admin_statement_timeout,
            Arc::default(),
        )
    }

    async fn open(url: &str, variable: Option<&'static str>, config: DieselStoreConfig) -> Result<Self, DieselError> {
        validate(&config)?;
        Self::connect_with_options(parse_url(url, variable)?, config).await
    }
}

impl DieselStore {
    /// Open the first connection of the pool and of the lifeline pool side by side, and run a
    /// claim of nothing ([`backtick_pg_common::warm_up_claim`]) and an enqueue of nothing on
    /// the pool's, so that a runner started right after connecting claims and registers, and
    /// a first enqueue runs, without waiting for a connect or a new backend's first
    /// statements. A failure here (a database not migrated yet, say) is left to the first call
    /// that needs the connection: the probe has just shown the server is there. Both pools
    /// bound the wait by their `create_timeout`.
    async fn warm(&self) {
        let side = async { self.inner.lifeline.get().await.map(drop).map_err(|e| e.to_string()) };
        let (main, side) = tokio::join!(self.warm_statements(), side);
        for (name, result) in [("pool", main.map_err(|e| e.to_string())), ("lifeline", side)] {
            if let Err(error) = result {
                tracing::debug!(pool = name, %error, "warming a first connection failed");
            }
        }
    }

    /// [`crate::store::warm_claim`] and [`crate::store::warm_enqueue`] on a connection of the
    /// pool; on success, the schema is known to be in place.
    pub(crate) async fn warm_statements(&self) -> Result<(), backtick_core::StoreError> {
        let mut conn = self.inner.pool.get().await.map_err(store_error)?;
        warm_statements_on(&mut conn).await?;
        self.saw_schema_in_place();
        Ok(())
    }

    /// Record that the schema is in place: from now on the pool warms the connections it
    /// opens.
    pub(crate) fn saw_schema_in_place(&self) {
        self.inner.schema_in_place.store(true, Ordering::Release);
    }
}

/// The claim and enqueue statements of nothing on `conn` ([`crate::store::warm_claim`],
/// [`crate::store::warm_enqueue`]), in a transaction bounded by
/// [`backtick_pg_common::WARM_UP_BOUND`] and always rolled back.
async fn warm_statements_on(conn: &mut AsyncPgConnection) -> Result<(), backtick_core::StoreError> {
    use diesel_async::SimpleAsyncConnection as _;
    conn.batch_execute(&format!("BEGIN; {}", backtick_pg_common::WARM_UP_BOUND))
        .await
        .map_err(store_error)?;
    let warmed = async {
        crate::store::warm_claim(conn, &backtick_pg_common::warm_up_claim())
            .await
            .map_err(store_error)?;
        crate::store::warm_enqueue(conn).await
    }
    .await;
    // The comment shows in `pg_stat_activity` as the connection's last statement: an operator
    // (and the tests) can tell a warmed connection from a cold one.
    let end = if warmed.is_ok() { WARMED } else { "ROLLBACK" };
    let rolled_back = conn.batch_execute(end).await.map_err(store_error);
    warmed.and(rolled_back)
}

/// How a warm-up that succeeded ends its transaction.
const WARMED: &str = "ROLLBACK /* backtick: connection warmed */";

/// Open one connection with `options` (tokio-postgres, no TLS), driven by a task of its own.
pub(crate) async fn open(options: &tokio_postgres::Config) -> ConnectionResult<AsyncPgConnection> {
    let (client, connection) = options
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|e| connect_error(&e))?;
    AsyncPgConnection::try_from_client_and_connection(client, connection).await
}

/// The size of the lifeline pool of a store that opens its own pools: two, so that a
/// completion batch and a heartbeat never wait for each other (as `PgStore`'s).
pub(crate) const LIFELINE_CONNECTIONS: u32 = 2;

/// `config` for the lifeline pool: [`LIFELINE_CONNECTIONS`] connections, kept open (no idle
/// timeout), the rest as configured.
fn lifeline_config(config: &DieselStoreConfig) -> DieselStoreConfig {
    DieselStoreConfig {
        max_connections: LIFELINE_CONNECTIONS,
        idle_timeout: None,
        ..config.clone()
    }
}

/// How long a pooled connection may sit idle before it is checked with `SELECT 1` when it is
/// next taken (a connection in steady use is not: the server closing it is seen at once).
const CHECK_IDLE_AFTER: Duration = Duration::from_secs(10);

/// When a statement on one of a pool's connections last failed because its connection was
/// lost (terminated, closed, the server going down). The connection of that statement is dead
/// even though its reader task may not have seen the socket close yet (then `Fast` recycling
/// would hand it out again), and the pool's other connections may be dead too (a restart, a
/// terminated database): every connection last taken before the loss is checked with
/// `SELECT 1` when it is next taken, and dropped when the check fails.
struct LossClock {
    /// The clock's zero: the losses are kept as nanoseconds since it.
    origin: Instant,
    /// One past the nanosecond of the last loss since `origin`; 0 while there was none.
    last_loss: AtomicU64,
}

impl LossClock {
    fn new() -> Self {
        LossClock {
            origin: Instant::now(),
            last_loss: AtomicU64::new(0),
        }
    }

    /// Record a loss now.
    fn mark(&self) {
        let since = u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX - 1);
        self.last_loss.fetch_max(since + 1, Ordering::Relaxed);
    }

    /// Whether a loss was recorded at or after `instant`.
    fn lost_since(&self, instant: Instant) -> bool {
        let last = self.last_loss.load(Ordering::Relaxed);
        let since = instant.saturating_duration_since(self.origin).as_nanos();
        last > 0 && u128::from(last - 1) >= since
    }
}

/// The instrumentation of a pooled connection: it marks `clock` when a statement fails with a
/// lost connection, and passes every event on to diesel's default instrumentation, if the
/// application set one.
fn watch_losses(clock: Arc<LossClock>) -> impl diesel::connection::Instrumentation {
    let mut default = diesel::connection::get_default_instrumentation();
    move |event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::FinishQuery { error: Some(error), .. } = &event
            && is_connection_lost(error)
        {
            clock.mark();
        }
        if let Some(default) = default.as_mut() {
            default.on_connection_event(event);
        }
    }
}

/// A pool that opens its connections with `options`, sized and timed by `config`. With
/// `schema_in_place`, once it is set, each new connection runs the claim and enqueue
/// statements of nothing before it serves its first call: a new server backend's first claim
/// or enqueue loads the catalog, compiles the functions and plans the statements, a few
/// milliseconds, which a first job's enqueue would otherwise pay. Before the schema is known
/// to be there (a store connected before `migrate`) nothing runs, so the server logs no
/// error; a failure is logged at debug and the connection serves as it is.
pub(crate) fn pool(
    options: tokio_postgres::Config,
    config: &DieselStoreConfig,
    schema_in_place: Option<Arc<AtomicBool>>,
) -> Result<DieselPool, DieselError> {
    let mut manager_config = ManagerConfig::<AsyncPgConnection>::default();
    // No `SELECT 1` each time a connection is taken (a second round trip per store call):
    // tokio-postgres reads each connection in a task of its own, so a connection the server
    // closed is known as closed soon after (`Fast` checks that), and `check` runs the query
    // only on a connection idle for `CHECK_IDLE_AFTER` or last taken before a loss.
    manager_config.recycling_method = RecyclingMethod::Fast;
    let losses = Arc::new(LossClock::new());
    let watch = losses.clone();
    manager_config.custom_setup = Box::new(move |_url| {
        let options = options.clone();
        let watch = watch.clone();
        let warm = schema_in_place
            .as_ref()
            .is_some_and(|in_place| in_place.load(Ordering::Acquire));
        async move {
            let mut conn = open(&options).await?;
            conn.set_instrumentation(watch_losses(watch));
            if warm && let Err(error) = warm_statements_on(&mut conn).await {
                tracing::debug!(%error, "warming a new connection failed");
            }
            Ok(conn)
        }
        .boxed()
    });
    // The url is unused: `custom_setup` connects with the parsed options.
    let manager = AsyncDieselConnectionManager::new_with_config("postgres://", manager_config);
    let (idle_timeout, max_lifetime) = (config.idle_timeout, config.max_lifetime);
    let retire = deadpool::managed::Hook::sync_fn(move |_, metrics| {
        let old = max_lifetime.is_some_and(|limit| metrics.age() > limit);
        let idle = idle_timeout.is_some_and(|limit| metrics.last_used() > limit);
        if old || idle {
            return Err(deadpool::managed::HookError::message(
                "connection retired (max_lifetime or idle_timeout)",
            ));
        }
        Ok(())
    });
    let check = deadpool::managed::Hook::async_fn(move |conn: &mut AsyncPgConnection, metrics| {
        let idle = metrics.last_used() >= CHECK_IDLE_AFTER;
        let suspect = losses.lost_since(metrics.recycled.unwrap_or(metrics.created));
        Box::pin(async move {
            if idle || suspect {
                use diesel_async::RunQueryDsl;
                diesel::sql_query("SELECT 1").execute(conn).await.map_err(|e| {
                    deadpool::managed::HookError::message(format!("pooled connection check failed: {e}"))
                })?;
            }
            Ok(())
        })
    });
    DieselPool::builder(manager)
        .max_size(usize::try_from(config.max_connections).unwrap_or(usize::MAX))
        .wait_timeout(Some(config.acquire_timeout))
        .create_timeout(Some(config.connect_timeout))
        .recycle_timeout(Some(config.acquire_timeout))
        .runtime(deadpool::Runtime::Tokio1)
        .pre_recycle(retire)
        .post_recycle(check)
        .build()
        .map_err(|e| DieselError::Store(backtick_core::StoreError::Other { source: Box::new(e) }))
}

/// Where dedicated connections (the listener's, the migration runner's) come from.
#[derive(Clone)]
pub(crate) enum Connector {
    /// Opened with these options, outside the pool.
    Options(Box<tokio_postgres::Config>),
    /// Taken out of the application's pool for good (the pool opens a replacement).
    Pool(DieselPool),
}

impl Connector {
    /// A connection of its own, outside any pool.
    pub(crate) async fn connect(&self) -> Result<AsyncPgConnection, backtick_core::StoreError> {
        match self {
            Connector::Options(options) => open(options).await.map_err(store_error),
            Connector::Pool(pool) => Ok(deadpool::managed::Object::take(pool.get().await.map_err(store_error)?)),
        }
    }
}

/// Open and close one connection, to report an unreachable server or a refusal clearly.
pub(crate) async fn probe(options: &tokio_postgres::Config, timeout: Duration) -> Result<(), DieselError> {
    let target = target(options);
    let (client, connection) = match tokio::time::timeout(timeout, options.connect(tokio_postgres::NoTls)).await {
        Err(_) => return Err(target.no_answer(timeout)),
        Ok(Err(error)) => {
            return Err(match error.as_db_error() {
                Some(db) => target.rejected(db.message()),
                None => target.unreachable(error.into()),
            });
        }
        Ok(Ok(pair)) => pair,
    };
    drop(client); // closing the client ends the connection task below
    if let Err(error) = connection.await {
        tracing::debug!(%error, "closing the probe connection failed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loss_makes_connections_taken_before_it_suspect_and_later_ones_not() {
        let clock = LossClock::new();
        let before = Instant::now();
        assert!(!clock.lost_since(before), "no loss yet");
        clock.mark();
        let after = Instant::now() + Duration::from_millis(1);
        assert!(clock.lost_since(before), "taken before the loss");
        assert!(clock.lost_since(clock.origin), "taken at the clock's zero");
        assert!(!clock.lost_since(after), "taken after the loss");
    }
}
