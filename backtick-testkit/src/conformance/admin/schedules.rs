//! Schedules as operators see them: spec, time zone, next and last fire, pause, run now
//! (exactly once) and removal of stale schedules.

use std::sync::Arc;

use backtick_core::JobFilter;
use backtick_core::admin::{AdminError, ScheduleRunRequest};
use backtick_core::schedule::{ScheduleFire, ScheduleRecord};

use super::super::AdminCase;
use super::super::support::{WORKER, at, job, secs, t0};
use super::{Admin, expect_err, register, runner, store};

pub(super) fn cases() -> Vec<AdminCase> {
    vec![
        admin_case!(
            "admin_schedules",
            list_schedules_shows_spec_time_zone_next_and_last_fire
        ),
        admin_case!(
            "admin_schedules",
            a_paused_schedule_advances_without_enqueueing_until_resumed
        ),
        admin_case!("admin_schedules", run_schedule_now_enqueues_exactly_one_job),
        admin_case!(
            "admin_schedules",
            a_schedule_no_live_runner_declares_is_stale_and_can_be_removed
        ),
        admin_case!("admin_schedules", schedule_actions_on_an_unknown_schedule_are_errors),
    ]
}

fn record(name: &str, spec: &str, next: i64) -> ScheduleRecord {
    ScheduleRecord {
        name: name.to_owned(),
        worker: WORKER.to_owned(),
        spec: spec.to_owned(),
        next_run_at: Some(at(next)),
    }
}

async fn stored(admin: &Admin, records: &[ScheduleRecord]) {
    store(admin)
        .upsert_schedules(records, Some(t0()))
        .await
        .expect("upsert_schedules");
}

fn fire(name: &str, expected: i64, next: i64) -> ScheduleFire {
    ScheduleFire {
        name: name.to_owned(),
        expected: at(expected),
        next: Some(at(next)),
        job: Some(job()),
    }
}

async fn job_count(admin: &Admin) -> usize {
    store(admin).list(&JobFilter::default()).await.expect("list").len()
}

async fn list_schedules_shows_spec_time_zone_next_and_last_fire(admin: Admin) {
    stored(
        &admin,
        &[
            record("tick", "every 10s", 10),
            record("report", "cron 0 0 9 * * MON-FRI Europe/Paris", 3_600),
        ],
    )
    .await;
    assert!(
        store(&admin)
            .fire_schedule(&fire("tick", 10, 20), Some(at(11)))
            .await
            .expect("fire")
    );
    register(&admin, &runner("r1", &["tick", "report"]), secs(30), at(11)).await;
    let listed = admin.list_schedules(Some(at(12))).await.expect("list_schedules");
    let names: Vec<&str> = listed.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["report", "tick"], "sorted by name");
    let (report, tick) = (&listed[0], &listed[1]);
    assert_eq!(
        (report.worker.as_str(), report.spec.as_str()),
        (WORKER, "cron 0 0 9 * * MON-FRI Europe/Paris")
    );
    assert_eq!(report.time_zone.as_deref(), Some("Europe/Paris"));
    assert_eq!((report.next_run_at, report.last_fired_at), (Some(at(3_600)), None));
    assert_eq!(
        (tick.time_zone.as_deref(), tick.next_run_at, tick.last_fired_at),
        (None, Some(at(20)), Some(at(10)))
    );
    assert_eq!((tick.paused_at, tick.run_requested_at), (None, None));
    assert_eq!(tick.declared_by, vec![backtick_core::RunnerId::new("r1")]);
    assert!(!tick.is_stale());
}

async fn a_paused_schedule_advances_without_enqueueing_until_resumed(admin: Admin) {
    let store = store(&admin);
    stored(&admin, &[record("tick", "every 10s", 10)]).await;
    assert!(admin.pause_schedule("tick", Some(at(5))).await.expect("pause"));
    assert!(
        !admin.pause_schedule("tick", Some(at(6))).await.expect("pause"),
        "already paused"
    );
    let due = store
        .due_schedules(&[WORKER.to_owned()], Some(at(10)))
        .await
        .expect("due_schedules");
    assert_eq!(
        due.len(),
        1,
        "a paused schedule is still due, so its fire times move on"
    );
    assert!(
        store
            .fire_schedule(&fire("tick", 10, 20), Some(at(10)))
            .await
            .expect("fire"),
        "the fire is won"
    );
    assert_eq!(job_count(&admin).await, 0, "but enqueues nothing");
    let listed = admin.list_schedules(Some(at(11))).await.expect("list_schedules");
    assert_eq!(
        (listed[0].next_run_at, listed[0].last_fired_at, listed[0].paused_at),
        (Some(at(20)), None, Some(at(5)))
    );
    assert!(admin.resume_schedule("tick", Some(at(12))).await.expect("resume"));
    assert!(
        !admin.resume_schedule("tick", Some(at(13))).await.expect("resume"),
        "not paused any more"
    );
    assert!(
        store
            .fire_schedule(&fire("tick", 20, 30), Some(at(20)))
            .await
            .expect("fire")
    );
    assert_eq!(
        job_count(&admin).await,
        1,
        "one job for the first fire after the resume, no catch-up"
    );
}

async fn run_schedule_now_enqueues_exactly_one_job(admin: Admin) {
    let store = store(&admin);
    stored(&admin, &[record("tick", "every 1h", 3_600)]).await;
    assert!(
        admin.pause_schedule("tick", Some(at(1))).await.expect("pause"),
        "paused schedules run on request too"
    );
    assert!(admin.run_schedule_now("tick", Some(at(5))).await.expect("run now"));
    assert!(
        !admin.run_schedule_now("tick", Some(at(6))).await.expect("run now"),
        "requests do not pile up"
    );
    let requests = store
        .schedule_run_requests(&[WORKER.to_owned()])
        .await
        .expect("schedule_run_requests");
    assert_eq!(
        requests,
        vec![ScheduleRunRequest {
            name: "tick".to_owned(),
            requested_at: at(5)
        }]
    );
    assert!(
        store
            .schedule_run_requests(&["other".to_owned()])
            .await
            .expect("requests")
            .is_empty()
    );
    let racers = (0..4).map(|_| {
        let (store, request) = (Arc::clone(&store), requests[0].clone());
        tokio::spawn(async move { store.fire_schedule_request(&request, &job(), Some(at(7))).await })
    });
    let mut won = 0;
    for racer in racers {
        won += usize::from(racer.await.expect("task").expect("fire_schedule_request"));
    }
    assert_eq!(won, 1, "one runner serves the request");
    assert_eq!(job_count(&admin).await, 1, "one extra job");
    assert!(
        store
            .schedule_run_requests(&[WORKER.to_owned()])
            .await
            .expect("requests")
            .is_empty(),
        "served"
    );
    let listed = admin.list_schedules(Some(at(8))).await.expect("list_schedules");
    assert_eq!(
        (listed[0].run_requested_at, listed[0].last_fired_at),
        (None, Some(at(7)))
    );
    assert_eq!(
        listed[0].next_run_at,
        Some(at(3_600)),
        "the regular fire times are untouched"
    );
    let bad = backtick_core::NewJob::from_encoded("", vec![], backtick_core::Codec::Json);
    assert!(admin.run_schedule_now("tick", Some(at(9))).await.expect("run now"));
    let pending = store
        .schedule_run_requests(&[WORKER.to_owned()])
        .await
        .expect("requests");
    assert!(
        store
            .fire_schedule_request(&pending[0], &bad, Some(at(10)))
            .await
            .is_err(),
        "an invalid job"
    );
    assert_eq!(
        store
            .schedule_run_requests(&[WORKER.to_owned()])
            .await
            .expect("requests"),
        pending,
        "kept"
    );
}

async fn a_schedule_no_live_runner_declares_is_stale_and_can_be_removed(admin: Admin) {
    stored(
        &admin,
        &[record("kept", "every 10s", 10), record("gone", "every 10s", 10)],
    )
    .await;
    register(&admin, &runner("r1", &["kept"]), secs(30), t0()).await;
    let listed = admin.list_schedules(Some(at(1))).await.expect("list_schedules");
    let stale: Vec<(&str, bool)> = listed.iter().map(|s| (s.name.as_str(), s.is_stale())).collect();
    assert_eq!(stale, vec![("gone", true), ("kept", false)]);
    expect_err(
        admin.remove_schedule("kept", Some(at(2))).await,
        "a declared schedule",
        |e| matches!(e, AdminError::ScheduleInUse { runners, .. } if runners == &vec!["r1".to_owned()]),
    );
    admin
        .remove_schedule("gone", Some(at(2)))
        .await
        .expect("a stale schedule is removed");
    let names: Vec<String> = admin
        .list_schedules(Some(at(3)))
        .await
        .expect("list")
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, vec!["kept".to_owned()]);
    let after_r1_died = at(31);
    assert!(
        admin.list_schedules(Some(after_r1_died)).await.expect("list")[0].is_stale(),
        "its runner went stale"
    );
    admin
        .remove_schedule("kept", Some(after_r1_died))
        .await
        .expect("removable now");
    assert!(
        admin
            .list_schedules(Some(after_r1_died))
            .await
            .expect("list")
            .is_empty()
    );
}

async fn schedule_actions_on_an_unknown_schedule_are_errors(admin: Admin) {
    let unknown = |e: &AdminError| matches!(e, AdminError::UnknownSchedule { name } if name == "nope");
    expect_err(admin.pause_schedule("nope", Some(t0())).await, "pause", unknown);
    expect_err(admin.resume_schedule("nope", Some(t0())).await, "resume", unknown);
    expect_err(admin.run_schedule_now("nope", Some(t0())).await, "run now", unknown);
    expect_err(admin.remove_schedule("nope", Some(t0())).await, "remove", unknown);
    let request = ScheduleRunRequest {
        name: "nope".to_owned(),
        requested_at: t0(),
    };
    assert!(
        !store(&admin)
            .fire_schedule_request(&request, &job(), Some(t0()))
            .await
            .expect("fire")
    );
    assert_eq!(job_count(&admin).await, 0);
}
