//! Bulk actions: a non-empty filter or an explicit "all", a count of what was touched, and
//! store calls of bounded size.

use backtick_core::admin::{AdminError, BULK_BATCH_SIZE, BulkReport, JobAction, JobQuery, JobSelection};
use backtick_core::{JobId, JobState, Transition};

use super::super::AdminCase;
use super::super::support::{at, dead, enqueue, enqueue_and_claim, enqueue_n, finish_applied, get, job, t0, token};
use super::{Admin, expect_err, store};

pub(super) fn cases() -> Vec<AdminCase> {
    vec![
        admin_case!("admin_bulk", bulk_actions_refuse_an_empty_filter),
        admin_case!("admin_bulk", bulk_retry_touches_only_the_jobs_matching_the_filter),
        admin_case!("admin_bulk", bulk_cancel_of_all_touches_every_job_it_applies_to),
        admin_case!("admin_bulk", a_bulk_dry_run_counts_without_changing_anything),
        admin_case!("admin_bulk", bulk_actions_work_through_many_jobs_in_bounded_batches),
    ]
}

async fn bulk(admin: &Admin, selection: &JobSelection, action: &JobAction, dry_run: bool) -> BulkReport {
    admin
        .apply_bulk(selection, action, dry_run, Some(at(10)))
        .await
        .expect("apply_bulk failed")
}

/// A dead job on `queue`.
async fn dead_on(admin: &Admin, queue: &str) -> JobId {
    let store = store(admin);
    let claimed = enqueue_and_claim(&store, job().queue(queue).priority(-5), "r1", t0()).await;
    finish_applied(&store, &token(&claimed), dead("boom"), at(1)).await;
    claimed.id
}

async fn bulk_actions_refuse_an_empty_filter(admin: Admin) {
    let store = store(&admin);
    let dead_job = dead_on(&admin, "a").await;
    let queued = enqueue(&store, job(), t0()).await;
    let before = (get(&store, dead_job).await, get(&store, queued).await);
    let empty = JobSelection::Matching(JobQuery::default());
    for action in [
        JobAction::Retry,
        JobAction::cancel("x"),
        JobAction::Delete,
        JobAction::RunNow,
    ] {
        for dry_run in [false, true] {
            expect_err(
                admin.apply_bulk(&empty, &action, dry_run, Some(at(10))).await,
                "an empty filter",
                |e| matches!(e, AdminError::EmptySelection { .. }),
            );
        }
    }
    assert_eq!(
        (get(&store, dead_job).await, get(&store, queued).await),
        before,
        "nothing changed"
    );
}

async fn bulk_retry_touches_only_the_jobs_matching_the_filter(admin: Admin) {
    let store = store(&admin);
    let dead_a = [dead_on(&admin, "a").await, dead_on(&admin, "a").await];
    let dead_b = dead_on(&admin, "b").await;
    let cancelled_a = enqueue(&store, job().queue("a").run_at(at(100)), t0()).await;
    assert!(store.cancel(cancelled_a, "stop", Some(at(2))).await.expect("cancel"));
    let queued_a = enqueue(&store, job().queue("a").run_at(at(100)), t0()).await;
    let on_a = JobSelection::Matching(JobQuery::default().queue("a"));
    let report = bulk(&admin, &on_a, &JobAction::Retry, false).await;
    assert_eq!(
        (report.touched, report.cancel_requested, report.dry_run),
        (3, 0, false),
        "two dead and one cancelled job on `a`: {report:?}"
    );
    for id in [dead_a[0], dead_a[1], cancelled_a] {
        assert_eq!(get(&store, id).await.state, JobState::Queued, "job {id} retried");
    }
    assert_eq!(
        get(&store, dead_b).await.state,
        JobState::Dead,
        "another queue is left alone"
    );
    assert_eq!(
        get(&store, queued_a).await.run_at,
        at(100),
        "a queued job is not retried"
    );
    let dead_only = JobSelection::Matching(JobQuery::default().state(JobState::Dead));
    assert_eq!(
        bulk(&admin, &dead_only, &JobAction::Retry, false).await.touched,
        1,
        "only b's job was left"
    );
    let queued_only = JobSelection::Matching(JobQuery::default().state(JobState::Queued));
    assert_eq!(
        bulk(&admin, &queued_only, &JobAction::Retry, false).await.touched,
        0,
        "states the action does not apply to select nothing"
    );
}

async fn bulk_cancel_of_all_touches_every_job_it_applies_to(admin: Admin) {
    let store = store(&admin);
    let queued = enqueue_n(&store, 3, t0()).await;
    let running = enqueue_and_claim(&store, job().priority(-1), "r1", t0()).await;
    let done = enqueue_and_claim(&store, job().priority(-1), "r1", t0()).await;
    finish_applied(&store, &token(&done), Transition::Done, at(1)).await;
    let report = bulk(&admin, &JobSelection::All, &JobAction::cancel("maintenance"), false).await;
    assert_eq!((report.touched, report.cancel_requested), (4, 1), "{report:?}");
    for id in queued {
        assert_eq!(get(&store, id).await.state, JobState::Cancelled);
    }
    assert_eq!(
        get(&store, running.id).await.state,
        JobState::Running,
        "a running job gets a request"
    );
    assert_eq!(
        store
            .cancel_requests(&[running.id])
            .await
            .expect("cancel_requests")
            .len(),
        1
    );
    assert_eq!(get(&store, done.id).await.state, JobState::Done);
    let again = bulk(&admin, &JobSelection::All, &JobAction::cancel("maintenance"), false).await;
    assert_eq!(
        again.touched, 0,
        "nothing left to cancel, the request already stands: {again:?}"
    );
}

async fn a_bulk_dry_run_counts_without_changing_anything(admin: Admin) {
    let store = store(&admin);
    let later = [
        enqueue(&store, job().run_at(at(100)), t0()).await,
        enqueue(&store, job().run_at(at(100)), t0()).await,
    ];
    let due = enqueue(&store, job().run_at(at(5)), t0()).await;
    let running = enqueue_and_claim(&store, job().priority(-1), "r1", t0()).await;
    let snapshot = store.list(&backtick_core::JobFilter::default()).await.expect("list");
    let run_now = bulk(&admin, &JobSelection::All, &JobAction::RunNow, true).await;
    assert_eq!(
        (run_now.touched, run_now.dry_run),
        (2, true),
        "only the jobs due later: {run_now:?}"
    );
    let cancel = bulk(&admin, &JobSelection::All, &JobAction::cancel("x"), true).await;
    assert_eq!((cancel.touched, cancel.cancel_requested), (4, 1), "{cancel:?}");
    assert_eq!(
        store.list(&backtick_core::JobFilter::default()).await.expect("list"),
        snapshot,
        "a dry run changes nothing"
    );
    assert!(
        store
            .cancel_requests(&[running.id])
            .await
            .expect("cancel_requests")
            .is_empty()
    );
    let real = bulk(&admin, &JobSelection::All, &JobAction::RunNow, false).await;
    assert_eq!(
        real.touched, run_now.touched,
        "the dry run counted what the real run touches"
    );
    assert_eq!(
        (get(&store, later[0]).await.run_at, get(&store, due).await.run_at),
        (at(10), at(5))
    );
}

async fn bulk_actions_work_through_many_jobs_in_bounded_batches(admin: Admin) {
    let store = store(&admin);
    let count = BULK_BATCH_SIZE as usize * 2 + 500;
    let ids = enqueue_n(&store, count, t0()).await;
    let too_many: Vec<JobId> = ids[..BULK_BATCH_SIZE as usize + 1].to_vec();
    expect_err(
        admin.apply_to_jobs(&too_many, &JobAction::Delete, None).await,
        "a write step beyond the batch size",
        |e| matches!(e, AdminError::InvalidRequest { .. }),
    );
    assert_eq!(get(&store, ids[0]).await.state, JobState::Queued, "refused whole");
    let report = bulk(&admin, &JobSelection::All, &JobAction::cancel("drain"), false).await;
    assert_eq!(report.touched, count as u64, "{report:?}");
    assert!(
        report.batches >= 3,
        "{count} jobs in batches of at most {BULK_BATCH_SIZE}: {report:?}"
    );
    let counts = store.count_by_state(None).await.expect("count_by_state");
    assert_eq!(counts.get(JobState::Cancelled), count as u64);
}
