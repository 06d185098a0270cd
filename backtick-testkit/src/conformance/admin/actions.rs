//! Actions on one job: retry, cancel (at once, or a request to a running job's runner),
//! delete and run now, with typed errors for what does not apply.

use backtick_core::admin::{ActionOutcome, AdminError, AttemptOutcome, JobAction};
use backtick_core::{JobId, JobState, RunAt, Transition};

use super::super::AdminCase;
use super::super::support::{
    LEASE, at, claim_one, dead, enqueue, enqueue_and_claim, finish_applied, get, heartbeat, job, params, requeue_after,
    secs, t0, token,
};
use super::{Admin, detail, expect_err, store};

pub(super) fn cases() -> Vec<AdminCase> {
    vec![
        admin_case!("admin_actions", actions_on_a_missing_job_are_unknown_job_errors),
        admin_case!("admin_actions", an_action_that_does_not_apply_to_the_state_is_refused),
        admin_case!("admin_actions", retry_puts_a_dead_job_back_due_now),
        admin_case!("admin_actions", cancel_of_a_queued_job_cancels_it_at_once),
        admin_case!(
            "admin_actions",
            cancel_of_a_running_job_requests_it_and_keeps_the_claim_live
        ),
        admin_case!(
            "admin_actions",
            a_requested_cancellation_ends_the_job_cancelled_when_its_runner_writes_it
        ),
        admin_case!(
            "admin_actions",
            a_requeue_after_a_requested_cancellation_ends_the_job_cancelled_instead
        ),
        admin_case!(
            "admin_actions",
            a_revive_after_a_requested_cancellation_ends_the_job_cancelled
        ),
        admin_case!(
            "admin_actions",
            a_completion_after_a_requested_cancellation_still_completes
        ),
        admin_case!("admin_actions", an_outright_cancel_clears_a_requested_cancellation),
        admin_case!(
            "admin_actions",
            delete_removes_a_job_that_is_not_running_and_frees_its_unique_key
        ),
        admin_case!("admin_actions", run_now_makes_a_future_job_due_at_once),
    ]
}

const REASON: &str = "cancelled by an operator";

async fn act(admin: &Admin, id: JobId, action: &JobAction, now: i64) -> Result<ActionOutcome, AdminError> {
    admin.apply_to_job(id, action, Some(at(now))).await
}

fn cancel() -> JobAction {
    JobAction::cancel(REASON)
}

async fn actions_on_a_missing_job_are_unknown_job_errors(admin: Admin) {
    let missing = JobId(987_654_321);
    for action in [JobAction::Retry, cancel(), JobAction::Delete, JobAction::RunNow] {
        expect_err(
            act(&admin, missing, &action, 1).await,
            action.name(),
            |e| matches!(e, AdminError::UnknownJob { id } if *id == missing),
        );
    }
}

async fn an_action_that_does_not_apply_to_the_state_is_refused(admin: Admin) {
    let store = store(&admin);
    let queued = enqueue(&store, job().run_at(at(100)), t0()).await;
    let running = enqueue_and_claim(&store, job(), "r1", t0()).await;
    let done = enqueue_and_claim(&store, job(), "r1", t0()).await;
    finish_applied(&store, &token(&done), Transition::Done, at(1)).await;
    let refused = [
        (queued, JobAction::Retry, JobState::Queued),
        (running.id, JobAction::Retry, JobState::Running),
        (done.id, JobAction::Retry, JobState::Done),
        (done.id, cancel(), JobState::Done),
        (running.id, JobAction::Delete, JobState::Running),
        (running.id, JobAction::RunNow, JobState::Running),
        (done.id, JobAction::RunNow, JobState::Done),
    ];
    for (id, action, state) in refused {
        let before = get(&store, id).await;
        expect_err(
            act(&admin, id, &action, 2).await,
            action.name(),
            |e| matches!(e, AdminError::NotApplicable { id: got, state: s, .. } if *got == id && *s == state),
        );
        assert_eq!(
            get(&store, id).await,
            before,
            "a refused {} changes nothing",
            action.name()
        );
    }
    let message = act(&admin, running.id, &JobAction::Retry, 2)
        .await
        .expect_err("refused")
        .to_string();
    assert!(
        message.contains("dead or cancelled"),
        "the message says what would apply: {message}"
    );
}

async fn retry_puts_a_dead_job_back_due_now(admin: Admin) {
    let store = store(&admin);
    let claimed = enqueue_and_claim(&store, job().max_attempts(1), "r1", t0()).await;
    finish_applied(&store, &token(&claimed), dead("boom"), at(1)).await;
    assert_eq!(
        act(&admin, claimed.id, &JobAction::Retry, 5).await.expect("retry"),
        ActionOutcome::Applied
    );
    let back = get(&store, claimed.id).await;
    assert_eq!(
        (back.state, back.run_at, back.finished_at),
        (JobState::Queued, at(5), None)
    );
    assert_eq!((back.attempt, back.max_attempts), (1, 2), "one more attempt");
    assert_eq!(claim_one(&store, "r2", at(5)).await.id, claimed.id);
}

async fn cancel_of_a_queued_job_cancels_it_at_once(admin: Admin) {
    let store = store(&admin);
    let id = enqueue(&store, job().run_at(at(100)), t0()).await;
    assert_eq!(
        act(&admin, id, &cancel(), 5).await.expect("cancel"),
        ActionOutcome::Applied
    );
    let cancelled = get(&store, id).await;
    assert_eq!(
        (cancelled.state, cancelled.finished_at),
        (JobState::Cancelled, Some(at(5)))
    );
    assert_eq!(cancelled.last_error.as_deref(), Some(REASON));
    assert!(
        detail(&admin, id).await.cancel_request.is_none(),
        "no request: it is over"
    );
}

async fn cancel_of_a_running_job_requests_it_and_keeps_the_claim_live(admin: Admin) {
    let store = store(&admin);
    let claimed = enqueue_and_claim(&store, job(), "r1", t0()).await;
    assert_eq!(
        act(&admin, claimed.id, &cancel(), 5).await.expect("cancel"),
        ActionOutcome::CancelRequested
    );
    let still = get(&store, claimed.id).await;
    assert_eq!(
        (still.state, still.lease_owner.clone(), still.attempt),
        (JobState::Running, claimed.lease_owner.clone(), 1),
        "the job runs on under its claim until its runner stops it"
    );
    assert_eq!(
        heartbeat(&store, &[token(&claimed)], at(6)).await,
        vec![claimed.id],
        "the claim is live"
    );
    let requests = store
        .cancel_requests(&[claimed.id, JobId(987_654_321)])
        .await
        .expect("cancel_requests");
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(
        (
            requests[0].job_id,
            requests[0].reason.as_str(),
            requests[0].requested_at
        ),
        (claimed.id, REASON, at(5))
    );
    assert_eq!(
        act(&admin, claimed.id, &JobAction::cancel("again"), 7)
            .await
            .expect("cancel"),
        ActionOutcome::CancelRequested,
        "asking again is no error"
    );
    let pending = detail(&admin, claimed.id)
        .await
        .cancel_request
        .expect("a pending request");
    assert_eq!(
        (pending.reason.as_str(), pending.requested_at),
        (REASON, at(5)),
        "the first request stands"
    );
    let other = enqueue_and_claim(&store, job(), "r1", at(8)).await;
    assert!(
        store
            .cancel_requests(&[other.id])
            .await
            .expect("cancel_requests")
            .is_empty(),
        "no request for a job nobody asked to cancel"
    );
}

async fn a_requested_cancellation_ends_the_job_cancelled_when_its_runner_writes_it(admin: Admin) {
    let store = store(&admin);
    let claimed = enqueue_and_claim(&store, job(), "r1", t0()).await;
    act(&admin, claimed.id, &cancel(), 5).await.expect("cancel");
    let stopped = Transition::Cancelled {
        reason: REASON.to_owned(),
    };
    finish_applied(&store, &token(&claimed), stopped, at(6)).await;
    let ended = get(&store, claimed.id).await;
    assert_eq!((ended.state, ended.finished_at), (JobState::Cancelled, Some(at(6))));
    assert!(
        store
            .cancel_requests(&[claimed.id])
            .await
            .expect("cancel_requests")
            .is_empty(),
        "cleared"
    );
    let seen = detail(&admin, claimed.id).await;
    assert!(seen.cancel_request.is_none());
    assert_eq!(seen.attempts.last().map(|a| a.outcome), Some(AttemptOutcome::Cancelled));
}

async fn a_requeue_after_a_requested_cancellation_ends_the_job_cancelled_instead(admin: Admin) {
    let store = store(&admin);
    let failed = enqueue_and_claim(&store, job().max_attempts(5), "r1", t0()).await;
    let snoozed = enqueue_and_claim(&store, job().max_attempts(5), "r1", t0()).await;
    for claimed in [&failed, &snoozed] {
        act(&admin, claimed.id, &cancel(), 5).await.expect("cancel");
    }
    finish_applied(
        &store,
        &token(&failed),
        requeue_after(secs(30), Some("interrupted")),
        at(6),
    )
    .await;
    let snooze = Transition::Queued {
        run_at: RunAt::After(secs(30)),
        error: None,
        refund_attempt: true,
    };
    finish_applied(&store, &token(&snoozed), snooze, at(6)).await;
    for claimed in [&failed, &snoozed] {
        let ended = get(&store, claimed.id).await;
        assert_eq!(
            (ended.state, ended.last_error.as_deref(), ended.finished_at),
            (JobState::Cancelled, Some(REASON), Some(at(6))),
            "the operator's cancel wins over the requeue"
        );
        assert_eq!(
            (ended.max_attempts, ended.lease_owner),
            (5, None),
            "no refund, no lease"
        );
        let attempts = detail(&admin, claimed.id).await.attempts;
        let outcomes: Vec<_> = attempts.iter().map(|a| (a.attempt, a.outcome)).collect();
        assert_eq!(outcomes, vec![(1, AttemptOutcome::Cancelled)], "one attempt, cancelled");
    }
    assert!(
        store.claim(&params("r2", 10, at(100))).await.expect("claim").is_empty(),
        "nothing went back on the queue"
    );
}

async fn a_revive_after_a_requested_cancellation_ends_the_job_cancelled(admin: Admin) {
    let store = store(&admin);
    let claimed = enqueue_and_claim(&store, job().max_attempts(5), "r1", t0()).await;
    act(&admin, claimed.id, &cancel(), 5).await.expect("cancel");
    let expired_at = t0() + chrono::Duration::from_std(LEASE).expect("small") + chrono::Duration::seconds(1);
    let expired = store
        .expired_leases(10, Some(expired_at))
        .await
        .expect("expired_leases");
    let revival = backtick_core::state::revive(&expired[0]).expect("running");
    let report = store
        .revive_many(&[revival], Some(expired_at))
        .await
        .expect("revive_many");
    assert_eq!(report.applied, vec![claimed.id]);
    let ended = get(&store, claimed.id).await;
    assert_eq!(
        (ended.state, ended.last_error.as_deref()),
        (JobState::Cancelled, Some(REASON)),
        "a dead runner cannot lose the request"
    );
}

async fn a_completion_after_a_requested_cancellation_still_completes(admin: Admin) {
    let store = store(&admin);
    let claimed = enqueue_and_claim(&store, job(), "r1", t0()).await;
    act(&admin, claimed.id, &cancel(), 5).await.expect("cancel");
    finish_applied(&store, &token(&claimed), Transition::Done, at(6)).await;
    assert_eq!(get(&store, claimed.id).await.state, JobState::Done, "the work was done");
    assert!(
        detail(&admin, claimed.id).await.cancel_request.is_none(),
        "the request is cleared"
    );
}

async fn an_outright_cancel_clears_a_requested_cancellation(admin: Admin) {
    let store = store(&admin);
    let claimed = enqueue_and_claim(&store, job().max_attempts(5), "r1", t0()).await;
    act(&admin, claimed.id, &cancel(), 5).await.expect("cancel");
    assert!(store.cancel(claimed.id, "now", Some(at(6))).await.expect("cancel"));
    assert!(store.retry(claimed.id, Some(at(7))).await.expect("retry"));
    let again = claim_one(&store, "r2", at(7)).await;
    assert!(
        detail(&admin, again.id).await.cancel_request.is_none(),
        "the old request is gone"
    );
    finish_applied(&store, &token(&again), requeue_after(secs(1), Some("e")), at(8)).await;
    assert_eq!(
        get(&store, again.id).await.state,
        JobState::Queued,
        "so a later retry is a retry"
    );
    let outcomes: Vec<_> = detail(&admin, again.id)
        .await
        .attempts
        .iter()
        .map(|a| (a.attempt, a.outcome))
        .collect();
    assert_eq!(
        outcomes,
        vec![(1, AttemptOutcome::Cancelled), (2, AttemptOutcome::Failed)]
    );
}

async fn delete_removes_a_job_that_is_not_running_and_frees_its_unique_key(admin: Admin) {
    let store = store(&admin);
    let queued = enqueue(&store, job().unique_key("k1"), t0()).await;
    let done = enqueue_and_claim(&store, job().priority(-1), "r1", t0()).await;
    finish_applied(&store, &token(&done), Transition::Done, at(1)).await;
    for id in [queued, done.id] {
        assert_eq!(
            act(&admin, id, &JobAction::Delete, 2).await.expect("delete"),
            ActionOutcome::Applied
        );
        assert_eq!(store.get(id).await.expect("get"), None, "deleted");
    }
    let again = enqueue(&store, job().unique_key("k1"), at(3)).await;
    assert_ne!(again, queued, "the unique key is free again");
    expect_err(act(&admin, queued, &JobAction::Delete, 4).await, "a deleted job", |e| {
        matches!(e, AdminError::UnknownJob { .. })
    });
}

async fn run_now_makes_a_future_job_due_at_once(admin: Admin) {
    let store = store(&admin);
    let later = enqueue(&store, job().run_at(at(1_000)), t0()).await;
    assert!(
        store.claim(&params("r1", 10, at(5))).await.expect("claim").is_empty(),
        "not due yet"
    );
    assert_eq!(
        act(&admin, later, &JobAction::RunNow, 5).await.expect("run now"),
        ActionOutcome::Applied
    );
    let due = get(&store, later).await;
    assert_eq!(
        (due.state, due.run_at, due.updated_at),
        (JobState::Queued, at(5), at(5))
    );
    assert_eq!(claim_one(&store, "r1", at(5)).await.id, later, "claimable at once");
    let already_due = enqueue(&store, job(), t0()).await;
    assert_eq!(
        act(&admin, already_due, &JobAction::RunNow, 6).await.expect("run now"),
        ActionOutcome::Unchanged,
        "a job already due is left as it is"
    );
    assert_eq!(get(&store, already_due).await.run_at, t0());
}
