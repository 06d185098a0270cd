//! The backends under test, each opened on one workload's database.

use std::sync::Arc;
use std::time::Duration;

use backtick_diesel::DieselStore;
use backtick_postgres::{PgStore, QueueAdmin, QueueStore};

/// A store implementation the benchmark knows how to open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    /// `backtick-postgres`: `PgStore` on sqlx.
    Pg,
    /// `backtick-diesel`: `DieselStore` on diesel-async.
    Diesel,
}

impl Backend {
    /// Every backend, in report order.
    pub(crate) const ALL: &'static [Backend] = &[Backend::Pg, Backend::Diesel];

    pub(crate) fn from_name(name: &str) -> Option<Backend> {
        match name {
            "pg" => Some(Backend::Pg),
            "diesel" => Some(Backend::Diesel),
            _ => None,
        }
    }

    /// The short name: `pg`, `diesel`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Backend::Pg => "pg",
            Backend::Diesel => "diesel",
        }
    }

    /// The name in RESULT lines: `backtick-pg`, `backtick-diesel`.
    pub(crate) fn result_name(self) -> &'static str {
        match self {
            Backend::Pg => "backtick-pg",
            Backend::Diesel => "backtick-diesel",
        }
    }

    /// Connect to `url` with the backend's default configuration and migrate.
    pub(crate) async fn open(self, url: &str) -> Result<Store, String> {
        match self {
            Backend::Pg => {
                let store = PgStore::connect(url).await.map_err(|e| e.to_string())?;
                store.migrate().await.map_err(|e| e.to_string())?;
                Ok(Store::Pg(store))
            }
            Backend::Diesel => {
                let store = DieselStore::connect(url).await.map_err(|e| e.to_string())?;
                store.migrate().await.map_err(|e| e.to_string())?;
                Ok(Store::Diesel(store))
            }
        }
    }
}

/// An open store of one backend.
#[derive(Clone)]
pub(crate) enum Store {
    Pg(PgStore),
    Diesel(DieselStore),
}

impl Store {
    /// The store as the runner sees it.
    pub(crate) fn queue(&self) -> Arc<dyn QueueStore> {
        match self {
            Store::Pg(store) => Arc::new(store.clone()),
            Store::Diesel(store) => Arc::new(store.clone()),
        }
    }

    /// The store as an operator tool sees it.
    pub(crate) fn admin(&self) -> Arc<dyn QueueAdmin> {
        match self {
            Store::Pg(store) => Arc::new(store.clone()),
            Store::Diesel(store) => Arc::new(store.clone()),
        }
    }

    /// Wait until wake-up hints flow, so an idle runner is woken by the next enqueue.
    pub(crate) async fn wait_listening(&self) -> bool {
        match self {
            Store::Pg(store) => store.wait_listening(Duration::from_secs(10)).await,
            Store::Diesel(store) => store.wait_listening(Duration::from_secs(10)).await,
        }
    }

    /// Close the store's connections.
    pub(crate) async fn close(&self) {
        match self {
            Store::Pg(store) => store.close().await,
            Store::Diesel(store) => store.close().await,
        }
    }
}
