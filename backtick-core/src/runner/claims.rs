//! The claims a runner holds, each in its phase: held (claimed ahead, not started), running,
//! or completing (its run is over, its completion not yet written). The heartbeat extends
//! them all; a lost lease stops a held or running job; the completer forgets them.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio_util::sync::CancellationToken;

use crate::cancel::{CancelReason, JobCancellation};
use crate::job::{ClaimToken, JobId};

/// Where a claimed job is in this runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Claimed ahead of a free slot; not started.
    Held,
    /// Its worker is running.
    Running,
    /// Its run is over (or it was given back unstarted); only its completion remains to be
    /// written.
    Completing,
}

struct Claim {
    token: ClaimToken,
    cancel: JobCancellation,
    phase: Phase,
}

/// Claims this runner holds, by job and attempt (after a revive one runner may briefly hold
/// a stale and a live claim of the same job). A std mutex: held for a few map operations,
/// never across an await. Callers batch their changes so that a job costs no more locking
/// than one `track` and one `complete`.
#[derive(Default)]
pub(crate) struct Claims(Mutex<HashMap<(JobId, i32), Claim>>);

fn key(token: &ClaimToken) -> (JobId, i32) {
    (token.job_id, token.attempt)
}

impl Claims {
    fn lock(&self) -> MutexGuard<'_, HashMap<(JobId, i32), Claim>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Track the claims of one claim call: the first `starting` run now, the rest are held.
    pub(crate) fn track<'a>(
        &self,
        claims: impl Iterator<Item = (&'a ClaimToken, &'a CancellationToken)>,
        starting: usize,
    ) {
        let mut tracked = self.lock();
        for (index, (token, cancel)) in claims.enumerate() {
            let phase = if index < starting { Phase::Running } else { Phase::Held };
            let (token, cancel) = (token.clone(), JobCancellation::new(cancel.clone()));
            tracked.insert(key(&token), Claim { token, cancel, phase });
        }
    }

    /// Move these claims to `phase` (those no longer tracked, lost meanwhile, stay gone).
    pub(crate) fn set_phase<'a>(&self, tokens: impl Iterator<Item = &'a ClaimToken>, phase: Phase) {
        let mut tracked = self.lock();
        for token in tokens {
            if let Some(claim) = tracked.get_mut(&key(token)) {
                claim.phase = phase;
            }
        }
    }

    /// Stop tracking these claims: their completions are written (or given up on).
    pub(crate) fn forget<'a>(&self, tokens: impl Iterator<Item = &'a ClaimToken>) {
        let mut tracked = self.lock();
        for token in tokens {
            tracked.remove(&key(token));
        }
    }

    /// Every claim, for the heartbeat to extend.
    pub(crate) fn tokens(&self) -> Vec<ClaimToken> {
        self.lock().values().map(|claim| claim.token.clone()).collect()
    }

    /// The claims in `phase`.
    pub(crate) fn in_phase(&self, phase: Phase) -> Vec<ClaimToken> {
        let tracked = self.lock();
        tracked
            .values()
            .filter(|claim| claim.phase == phase)
            .map(|claim| claim.token.clone())
            .collect()
    }

    /// The heartbeat found `token`'s lease gone: stop and forget the job if it is held or
    /// running, and say so. A completing job is left alone: its own completion, written
    /// meanwhile, is what ended the lease (or else the completer reports that completion
    /// stale).
    pub(crate) fn lose(&self, token: &ClaimToken) -> bool {
        let mut tracked = self.lock();
        let key = key(token);
        if tracked.get(&key).is_none_or(|claim| claim.phase == Phase::Completing) {
            return false;
        }
        if let Some(lost) = tracked.remove(&key) {
            lost.cancel.cancel(CancelReason::LeaseLost);
        }
        true
    }

    /// The cancellation of the claim `token` (shared with the job's context), if tracked.
    pub(crate) fn cancellation(&self, token: &ClaimToken) -> Option<JobCancellation> {
        self.lock().get(&key(token)).map(|claim| claim.cancel.clone())
    }

    /// True when this runner holds a held or running claim of job `id`.
    pub(crate) fn holds(&self, id: JobId) -> bool {
        self.lock()
            .values()
            .any(|claim| claim.token.job_id == id && claim.phase != Phase::Completing)
    }

    /// An operator asked for job `id` to be cancelled: stop its work with
    /// [`CancelReason::Requested`]. A running job stays tracked (its executor finishes it
    /// `cancelled`); a held job, which never started, is forgotten and returned so that the
    /// caller finishes it `cancelled`. `None` for a completing or unknown job, or one whose
    /// work was stopped already.
    pub(crate) fn request_cancel(&self, id: JobId, reason: &str) -> Option<(ClaimToken, Phase)> {
        let mut tracked = self.lock();
        let (&key, claim) = tracked
            .iter()
            .find(|(_, claim)| claim.token.job_id == id && claim.phase != Phase::Completing)?;
        let requested = CancelReason::Requested {
            reason: reason.to_owned(),
        };
        if !claim.cancel.cancel(requested) {
            return None;
        }
        let (token, phase) = (claim.token.clone(), claim.phase);
        if phase == Phase::Held {
            tracked.remove(&key);
        }
        Some((token, phase))
    }

    /// Stop the work of every running job with `reason` (before shutdown aborts them).
    pub(crate) fn stop_running(&self, reason: &CancelReason) {
        for claim in self.lock().values().filter(|claim| claim.phase == Phase::Running) {
            claim.cancel.cancel(reason.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::RunnerId;

    fn tokens(n: i64) -> Vec<(ClaimToken, CancellationToken)> {
        let runner_id = RunnerId::new("runner");
        (1..=n)
            .map(|id| {
                let token = ClaimToken {
                    job_id: JobId(id),
                    attempt: 1,
                    runner_id: runner_id.clone(),
                };
                (token, CancellationToken::new())
            })
            .collect()
    }

    fn track(claims: &Claims, jobs: &[(ClaimToken, CancellationToken)], starting: usize) {
        claims.track(jobs.iter().map(|(token, cancel)| (token, cancel)), starting);
    }

    #[test]
    fn the_first_claims_of_a_claim_call_run_and_the_rest_are_held() {
        let (claims, jobs) = (Claims::default(), tokens(5));
        track(&claims, &jobs, 2);
        assert_eq!(claims.in_phase(Phase::Running).len(), 2);
        assert_eq!(claims.in_phase(Phase::Held).len(), 3);
        assert_eq!(claims.tokens().len(), 5);
    }

    #[test]
    fn a_lost_lease_stops_a_held_or_running_job_but_not_a_completing_one() {
        let (claims, jobs) = (Claims::default(), tokens(3));
        track(&claims, &jobs, 2);
        claims.set_phase(std::iter::once(&jobs[1].0), Phase::Completing);
        assert!(claims.lose(&jobs[0].0), "running");
        assert!(!claims.lose(&jobs[1].0), "completing");
        assert!(claims.lose(&jobs[2].0), "held");
        assert!(jobs[0].1.is_cancelled() && jobs[2].1.is_cancelled());
        assert!(!jobs[1].1.is_cancelled());
        assert_eq!(claims.tokens(), vec![jobs[1].0.clone()]);
    }

    #[test]
    fn a_lost_claim_stays_gone_when_its_phase_changes_later() {
        let (claims, jobs) = (Claims::default(), tokens(1));
        track(&claims, &jobs, 0);
        assert!(claims.lose(&jobs[0].0));
        claims.set_phase(std::iter::once(&jobs[0].0), Phase::Running);
        assert!(claims.tokens().is_empty());
        assert!(!claims.lose(&jobs[0].0), "nothing left to lose");
    }

    #[test]
    fn a_cancel_request_stops_a_running_job_and_hands_back_a_held_one() {
        let (claims, jobs) = (Claims::default(), tokens(3));
        track(&claims, &jobs, 1);
        let running = claims.cancellation(&jobs[0].0).unwrap();
        assert_eq!(
            claims.request_cancel(JobId(1), "stop").map(|(_, p)| p),
            Some(Phase::Running)
        );
        assert_eq!(
            running.reason(),
            Some(CancelReason::Requested { reason: "stop".into() })
        );
        assert!(claims.holds(JobId(1)), "the executor finishes it");
        assert_eq!(claims.request_cancel(JobId(1), "again"), None, "asked once");
        assert_eq!(
            claims.request_cancel(JobId(2), "stop").map(|(_, p)| p),
            Some(Phase::Held)
        );
        assert!(jobs[1].1.is_cancelled() && !claims.holds(JobId(2)));
        assert_eq!(claims.request_cancel(JobId(9), "stop"), None);
    }

    #[test]
    fn forgotten_claims_are_no_longer_heartbeated() {
        let (claims, jobs) = (Claims::default(), tokens(3));
        track(&claims, &jobs, 3);
        claims.forget(jobs[..2].iter().map(|(token, _)| token));
        assert_eq!(claims.tokens(), vec![jobs[2].0.clone()]);
    }
}
