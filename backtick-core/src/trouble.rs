//! An episode of failures of one activity, logged as two events instead of a flood: the first
//! failure at warn, the rest at debug, and the recovery at info with how many failed and for
//! how long. During an outage a runner retries many times a second; an operator needs to
//! know when it started and when it ended.

use tokio::time::Instant;

/// The failures of one activity (claiming, a maintenance service) since its last success.
#[derive(Debug, Default)]
pub(crate) struct Trouble {
    /// When the episode began, and how many failures it has had.
    since: Option<(Instant, u64)>,
}

impl Trouble {
    /// A failure of `what`: logged at warn if it starts an episode, else at debug.
    pub(crate) fn failed(&mut self, what: &str, error: &crate::StoreError) {
        match &mut self.since {
            None => {
                self.since = Some((Instant::now(), 1));
                tracing::warn!(%error, "{what} failed; retrying (further failures are logged at debug until it works again)");
            }
            Some((_, count)) => {
                *count += 1;
                tracing::debug!(%error, failures = *count, "{what} failed again");
            }
        }
    }

    /// A success of `what`: ends an episode, logged at info with its count and length.
    pub(crate) fn worked(&mut self, what: &str) {
        if let Some((since, failures)) = self.since.take() {
            tracing::info!(failures, after = ?since.elapsed(), "{what} works again");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn an_episode_counts_its_failures_and_ends_at_the_first_success() {
        let mut trouble = Trouble::default();
        let error = crate::StoreError::PoolClosed;
        trouble.worked("claiming");
        assert!(trouble.since.is_none());
        trouble.failed("claiming", &error);
        tokio::time::advance(std::time::Duration::from_secs(3)).await;
        trouble.failed("claiming", &error);
        assert_eq!(trouble.since.map(|(_, count)| count), Some(2));
        trouble.worked("claiming");
        assert!(trouble.since.is_none());
    }
}
