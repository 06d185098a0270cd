//! Queues: depth per state, oldest due job's age, and pausing (honoured by the claim).

use std::time::Duration;

use backtick_core::admin::{AdminError, Count, JobAction};
use backtick_core::{ClaimParams, JobState, Transition};

use super::super::AdminCase;
use super::super::support::{
    at, claim, dead, enqueue, enqueue_and_claim, finish_applied, job, params, secs, t0, token,
};
use super::{Admin, expect_err, register, runner, store};

pub(super) fn cases() -> Vec<AdminCase> {
    vec![
        admin_case!(
            "admin_queues",
            list_queues_reports_depth_per_state_oldest_due_age_and_pause
        ),
        admin_case!("admin_queues", claim_skips_jobs_on_a_paused_queue_until_it_is_resumed),
        admin_case!("admin_queues", next_due_skips_jobs_on_a_paused_queue),
        admin_case!(
            "admin_queues",
            pausing_or_resuming_an_unknown_queue_is_an_unknown_queue_error
        ),
        admin_case!(
            "admin_queues",
            a_queue_a_live_runner_serves_can_be_paused_before_it_has_jobs
        ),
    ]
}

fn on(queues: &[&str], runner: &str, limit: u32, now: i64) -> ClaimParams {
    ClaimParams {
        queues: Some(queues.iter().map(|q| (*q).to_owned()).collect()),
        ..params(runner, limit, at(now))
    }
}

async fn list_queues_reports_depth_per_state_oldest_due_age_and_pause(admin: Admin) {
    let store = store(&admin);
    enqueue(&store, job().queue("mail").run_at(at(10)), t0()).await;
    enqueue(&store, job().queue("mail").run_at(at(40)), t0()).await;
    enqueue(&store, job().queue("mail").run_at(at(500)), t0()).await;
    let running = enqueue_and_claim(&store, job().queue("mail").priority(-1), "r1", at(20)).await;
    let failed = enqueue_and_claim(&store, job().queue("batch").priority(-1), "r1", at(20)).await;
    finish_applied(&store, &token(&failed), dead("boom"), at(21)).await;
    assert!(admin.pause_queue("batch", Some(at(30))).await.expect("pause"));
    let queues = admin.list_queues(Some(at(60))).await.expect("list_queues");
    let names: Vec<&str> = queues.iter().map(|q| q.name.as_str()).collect();
    assert_eq!(names, vec!["batch", "mail"], "sorted by name");
    let (batch, mail) = (&queues[0], &queues[1]);
    assert_eq!(mail.count(JobState::Queued), Count::exact(3));
    assert_eq!(mail.count(JobState::Running), Count::exact(1));
    assert_eq!(running.queue, "mail");
    assert_eq!(
        mail.oldest_due_age,
        Some(Duration::from_secs(50)),
        "due at 10, now 60; a job due later does not count"
    );
    assert_eq!((mail.paused_at, mail.is_paused()), (None, false));
    assert_eq!(batch.count(JobState::Dead), Count::exact(1));
    assert_eq!((batch.oldest_due_age, batch.paused_at), (None, Some(at(30))));
}

async fn claim_skips_jobs_on_a_paused_queue_until_it_is_resumed(admin: Admin) {
    let store = store(&admin);
    let held = enqueue(&store, job().queue("q1").priority(-1), t0()).await;
    let free = enqueue(&store, job().queue("q2"), t0()).await;
    assert!(admin.pause_queue("q1", Some(at(1))).await.expect("pause"), "paused");
    assert!(
        !admin.pause_queue("q1", Some(at(2))).await.expect("pause"),
        "already paused"
    );
    let claimed = claim(&store, &params("r1", 10, at(3))).await;
    let ids: Vec<_> = claimed.iter().map(|job| job.id).collect();
    assert_eq!(
        ids,
        vec![free],
        "only the unpaused queue's job, though q1's comes first"
    );
    assert!(
        claim(&store, &on(&["q1"], "r1", 10, 3)).await.is_empty(),
        "not even by naming the queue"
    );
    let late = enqueue(&store, job().queue("q1"), at(4)).await;
    assert!(
        claim(&store, &params("r1", 10, at(5))).await.is_empty(),
        "enqueue works, claim still skips"
    );
    assert!(admin.resume_queue("q1", Some(at(6))).await.expect("resume"), "resumed");
    assert!(
        !admin.resume_queue("q1", Some(at(7))).await.expect("resume"),
        "not paused any more"
    );
    let claimed = claim(&store, &params("r1", 10, at(8))).await;
    let ids: Vec<_> = claimed.iter().map(|job| job.id).collect();
    assert_eq!(ids, vec![held, late], "both of q1's jobs, in claim order");
    finish_applied(&store, &token(&claimed[0]), Transition::Done, at(9)).await;
    let queue = admin.list_queues(Some(at(10))).await.expect("list_queues");
    assert!(queue.iter().all(|q| !q.is_paused()), "{queue:?}");
}

async fn pausing_or_resuming_an_unknown_queue_is_an_unknown_queue_error(admin: Admin) {
    let store = store(&admin);
    enqueue(&store, job().queue("real"), t0()).await;
    expect_err(
        admin.pause_queue("typo", Some(at(1))).await,
        "pause of an unknown queue",
        |e| matches!(e, AdminError::UnknownQueue { name } if name == "typo"),
    );
    expect_err(
        admin.resume_queue("typo", Some(at(1))).await,
        "resume of an unknown queue",
        |e| matches!(e, AdminError::UnknownQueue { .. }),
    );
    assert!(
        admin
            .list_queues(Some(at(2)))
            .await
            .expect("list_queues")
            .iter()
            .all(|q| q.name == "real")
    );
    let dead_queue = enqueue_and_claim(&store, job().queue("failing").priority(-1), "r1", at(3)).await;
    finish_applied(&store, &token(&dead_queue), dead("x"), at(4)).await;
    assert!(
        admin
            .pause_queue("failing", Some(at(5)))
            .await
            .expect("a queue with a dead job is known")
    );
    let retried = admin
        .apply_to_job(dead_queue.id, &JobAction::Retry, Some(at(6)))
        .await
        .expect("retry");
    assert_eq!(retried, backtick_core::admin::ActionOutcome::Applied);
    assert!(
        claim(&store, &on(&["failing"], "r1", 10, 7)).await.is_empty(),
        "a retried job waits too"
    );
}

async fn a_queue_a_live_runner_serves_can_be_paused_before_it_has_jobs(admin: Admin) {
    let mut serving = runner("r1", &[]);
    serving.queues = Some(vec!["reports".to_owned()]);
    register(&admin, &serving, secs(30), t0()).await;
    assert!(admin.pause_queue("reports", Some(at(1))).await.expect("pause"));
    let store = store(&admin);
    enqueue(&store, job().queue("reports"), at(2)).await;
    assert!(
        claim(&store, &params("r1", 10, at(3))).await.is_empty(),
        "paused before its first job"
    );
    expect_err(
        admin.pause_queue("elsewhere", Some(at(4))).await,
        "a queue no runner names",
        |e| matches!(e, AdminError::UnknownQueue { .. }),
    );
}

async fn next_due_skips_jobs_on_a_paused_queue(admin: Admin) {
    let store = store(&admin);
    enqueue(&store, job().queue("batch").run_at(at(20)), t0()).await;
    enqueue(&store, job().queue("mail").run_at(at(50)), t0()).await;
    let workers = [super::super::support::WORKER.to_owned()];
    let next_due = async |now: i64| {
        store
            .next_due(&workers, None, secs(60), Some(at(now)))
            .await
            .expect("next_due")
    };
    assert_eq!(next_due(10).await, Some(secs(10)), "the batch job, due at 20");
    assert!(admin.pause_queue("batch", Some(at(11))).await.expect("pause"));
    assert_eq!(next_due(12).await, Some(secs(38)), "the mail job: batch is paused");
    assert!(admin.resume_queue("batch", Some(at(13))).await.expect("resume"));
    assert_eq!(next_due(13).await, Some(secs(7)), "resumed");
}
