//! The router's shared state: the admin API, the config, and the short-lived count cache.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use backtick_core::admin::{AdminError, CountQuery, JobCounts, QueueInfo};
use backtick_core::{QueueAdmin, Timestamp};

use crate::config::DashboardConfig;
use crate::error::DashboardError;

/// What every handler reaches: cheap to clone.
#[derive(Clone)]
pub(crate) struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    admin: Arc<dyn QueueAdmin>,
    config: DashboardConfig,
    state_counts: Cached<JobCounts>,
    queues: Cached<Vec<QueueInfo>>,
}

impl AppState {
    pub(crate) fn new(admin: Arc<dyn QueueAdmin>, config: DashboardConfig) -> Self {
        AppState {
            inner: Arc::new(Inner {
                admin,
                config,
                state_counts: Cached::default(),
                queues: Cached::default(),
            }),
        }
    }

    pub(crate) fn admin(&self) -> &dyn QueueAdmin {
        self.inner.admin.as_ref()
    }

    pub(crate) fn config(&self) -> &DashboardConfig {
        &self.inner.config
    }

    /// `call` under the configured query timeout.
    pub(crate) async fn ask<T>(&self, call: impl Future<Output = Result<T, AdminError>>) -> Result<T, DashboardError> {
        let timeout = self.inner.config.query_timeout;
        match tokio::time::timeout(timeout, call).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(DashboardError::Timeout {
                seconds: timeout.as_secs().max(1),
            }),
        }
    }

    /// The store's clock (the database's, on Postgres).
    pub(crate) async fn now(&self) -> Result<Timestamp, DashboardError> {
        self.ask(async { Ok(self.admin().now().await?) }).await
    }

    /// Job counts per state (capped by the admin API), reused for `count_cache_ttl`.
    pub(crate) async fn state_counts(&self) -> Result<JobCounts, DashboardError> {
        let ttl = self.inner.config.count_cache_ttl;
        if let Some(counts) = self.inner.state_counts.get(ttl) {
            return Ok(counts);
        }
        let counts = self.ask(self.admin().count_jobs(&CountQuery::default())).await?;
        self.inner.state_counts.put(counts.clone());
        Ok(counts)
    }

    /// The queue listing (depths capped by the admin API), reused for `count_cache_ttl`.
    pub(crate) async fn queues(&self) -> Result<Vec<QueueInfo>, DashboardError> {
        let ttl = self.inner.config.count_cache_ttl;
        if let Some(queues) = self.inner.queues.get(ttl) {
            return Ok(queues);
        }
        let queues = self.ask(self.admin().list_queues(None)).await?;
        self.inner.queues.put(queues.clone());
        Ok(queues)
    }

    /// Forget cached counts: an action just changed them.
    pub(crate) fn invalidate(&self) {
        self.inner.state_counts.clear();
        self.inner.queues.clear();
    }
}

/// One cached value and when it was fetched. A std mutex: it is never held across an await.
struct Cached<T> {
    slot: Mutex<Option<(Instant, T)>>,
}

impl<T> Default for Cached<T> {
    fn default() -> Self {
        Cached { slot: Mutex::new(None) }
    }
}

impl<T: Clone> Cached<T> {
    fn get(&self, ttl: Duration) -> Option<T> {
        let slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        slot.as_ref()
            .filter(|(at, _)| at.elapsed() < ttl)
            .map(|(_, value)| value.clone())
    }

    fn put(&self, value: T) {
        *self.slot.lock().unwrap_or_else(PoisonError::into_inner) = Some((Instant::now(), value));
    }

    fn clear(&self) {
        *self.slot.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cached_value_expires_after_its_ttl_and_on_clear() {
        let cached = Cached::default();
        cached.put(7);
        assert_eq!(cached.get(Duration::from_secs(60)), Some(7));
        assert_eq!(cached.get(Duration::ZERO), None, "expired");
        cached.clear();
        assert_eq!(cached.get(Duration::from_secs(60)), None);
    }
}
