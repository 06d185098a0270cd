//! Runners: registration, heartbeat, stale flag, the jobs each holds, deregistration.

use backtick_core::RunnerId;
use backtick_core::admin::{JobQuery, PageRequest, RUNNER_RETENTION};

use super::super::AdminCase;
use super::super::support::{at, claim, enqueue_n, params, secs, t0};
use super::{Admin, all_pages, register, runner, store};

pub(super) fn cases() -> Vec<AdminCase> {
    vec![
        admin_case!("admin_runners", registered_runners_are_listed_with_the_jobs_they_hold),
        admin_case!(
            "admin_runners",
            a_runner_without_heartbeat_goes_stale_and_is_forgotten_after_the_retention
        ),
        admin_case!("admin_runners", deregister_removes_a_runner),
    ]
}

async fn registered_runners_are_listed_with_the_jobs_they_hold(admin: Admin) {
    let store = store(&admin);
    let mut first = runner("r1", &["tick"]);
    first.queues = Some(vec!["default".to_owned(), "mail".to_owned()]);
    register(&admin, &first, secs(30), t0()).await;
    register(&admin, &runner("r0", &[]), secs(30), at(1)).await;
    enqueue_n(&store, 3, t0()).await;
    let held = claim(&store, &params("r1", 2, at(2))).await;
    let listed = admin.list_runners(Some(at(3))).await.expect("list_runners");
    let summary: Vec<(&str, bool, u64)> = listed
        .iter()
        .map(|r| (r.info.id.as_str(), r.stale, r.running_jobs))
        .collect();
    assert_eq!(summary, vec![("r0", false, 0), ("r1", false, 2)], "live ones by id");
    assert_eq!(listed[1].info, first, "everything it registered");
    assert_eq!((listed[1].heartbeat_at, listed[1].expires_at), (t0(), at(30)));
    let held_ids: Vec<_> = held.iter().rev().map(|job| job.id).collect();
    assert_eq!(
        all_pages(
            &admin,
            &JobQuery::default().runner(RunnerId::new("r1")),
            PageRequest::first(10)
        )
        .await,
        held_ids,
        "the jobs it holds"
    );
}

async fn a_runner_without_heartbeat_goes_stale_and_is_forgotten_after_the_retention(admin: Admin) {
    register(&admin, &runner("r1", &[]), secs(30), t0()).await;
    register(&admin, &runner("r2", &[]), secs(30), t0()).await;
    register(&admin, &runner("r2", &[]), secs(30), at(20)).await;
    let listed = admin.list_runners(Some(at(40))).await.expect("list_runners");
    let summary: Vec<(&str, bool)> = listed.iter().map(|r| (r.info.id.as_str(), r.stale)).collect();
    assert_eq!(
        summary,
        vec![("r2", false), ("r1", true)],
        "live first; r1 missed its heartbeat"
    );
    assert_eq!(
        (listed[0].heartbeat_at, listed[0].expires_at),
        (at(20), at(50)),
        "the heartbeat extended r2"
    );
    let retention = i64::try_from(RUNNER_RETENTION.as_secs()).expect("small");
    let much_later = 31 + retention + 1;
    register(&admin, &runner("r3", &[]), secs(30), at(much_later)).await;
    let ids: Vec<String> = admin
        .list_runners(Some(at(much_later)))
        .await
        .expect("list_runners")
        .into_iter()
        .map(|r| r.info.id.as_str().to_owned())
        .collect();
    assert_eq!(
        ids,
        vec!["r3".to_owned(), "r2".to_owned()],
        "r1, stale longer than the retention, is forgotten"
    );
}

async fn deregister_removes_a_runner(admin: Admin) {
    register(&admin, &runner("r1", &[]), secs(30), t0()).await;
    store(&admin)
        .deregister_runner(&RunnerId::new("r1"))
        .await
        .expect("deregister_runner");
    store(&admin)
        .deregister_runner(&RunnerId::new("unknown"))
        .await
        .expect("an unknown id is ignored");
    assert!(admin.list_runners(Some(at(1))).await.expect("list_runners").is_empty());
}
