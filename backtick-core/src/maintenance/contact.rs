//! Contact: whether this runner has been hearing the database, and the grace its reviver
//! gives other runners' leases after it has not.
//!
//! A lease that expired while *nobody* could reach the database (a restart, a network stall
//! of every runner) says nothing about its owner: the owner may be alive, holding a finished
//! result it could not write. So a reviver that itself lost the database (a store error, or
//! a read that took longer than half a heartbeat interval: a stall) revives nothing until one
//! `lease_ttl` after it heard the database again. Live owners heartbeat and complete within
//! that grace (their heartbeat runs every `heartbeat_interval`, shorter than the lease); a
//! dead owner's jobs are revived one grace later than they would have been. A runner whose
//! reviver kept hearing the database revives at once: then the database could hear everyone,
//! and an owner that did not heartbeat for a whole lease is dead or cut off on its own side.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// What a runner's reviver and heartbeat learned of the database lately.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use std::time::Duration;
/// use backtick_postgres::maintenance::Contact;
/// let contact = Contact::new(Duration::from_secs(10), Duration::from_secs(30));
/// contact.observe(Duration::from_millis(2), true);
/// assert!(contact.reviving_allowed());
/// contact.observe(Duration::from_millis(2), false); // the database is gone
/// assert!(!contact.reviving_allowed());
/// ```
#[derive(Debug)]
pub struct Contact {
    state: Mutex<State>,
    /// A call slower than this counts as a stall.
    slow: Duration,
    /// How long reviving waits after contact is back.
    grace: Duration,
}

#[derive(Debug, Default)]
struct State {
    lost: bool,
    grace_until: Option<Instant>,
}

impl Contact {
    /// Contact for a runner with this heartbeat interval and lease: a call slower than half
    /// the heartbeat interval is a stall, and the grace is one lease.
    pub fn new(heartbeat_interval: Duration, lease_ttl: Duration) -> Self {
        Contact {
            state: Mutex::new(State::default()),
            slow: heartbeat_interval / 2,
            grace: lease_ttl,
        }
    }

    /// Record a call to the store that took `took` and succeeded (`ok`) or failed.
    pub fn observe(&self, took: Duration, ok: bool) {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !ok {
            state.lost = true;
            return;
        }
        if state.lost || took > self.slow {
            state.lost = false;
            state.grace_until = Some(Instant::now() + self.grace);
            tracing::info!(
                grace = ?self.grace,
                "the database answers again; reviving other runners' expired leases waits one lease so that live runners can heartbeat and complete first"
            );
        }
    }

    /// Whether the reviver may revive now: contact is not lost and no grace is running.
    pub fn reviving_allowed(&self) -> bool {
        let state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        !state.lost && state.grace_until.is_none_or(|until| Instant::now() >= until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEAT: Duration = Duration::from_secs(10);
    const LEASE: Duration = Duration::from_secs(30);

    #[tokio::test(start_paused = true)]
    async fn reviving_waits_one_lease_after_contact_is_back() {
        let contact = Contact::new(BEAT, LEASE);
        contact.observe(Duration::from_millis(3), true);
        assert!(contact.reviving_allowed(), "fast answers start no grace");

        contact.observe(Duration::from_millis(3), false);
        assert!(!contact.reviving_allowed(), "no reviving while the database is lost");
        contact.observe(Duration::from_millis(3), true);
        assert!(!contact.reviving_allowed(), "the grace starts when contact is back");
        tokio::time::advance(LEASE - Duration::from_secs(1)).await;
        assert!(!contact.reviving_allowed());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(contact.reviving_allowed(), "one lease later reviving resumes");
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_answer_starts_the_grace_too() {
        let contact = Contact::new(BEAT, LEASE);
        contact.observe(BEAT / 2 + Duration::from_millis(1), true);
        assert!(!contact.reviving_allowed());
        tokio::time::advance(LEASE).await;
        assert!(contact.reviving_allowed());
    }
}
