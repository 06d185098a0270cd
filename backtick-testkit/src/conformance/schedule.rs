//! Schedules: storing recurring and cron schedules, finding due ones, and firing each fire
//! time exactly once (compare-and-set of the next fire time together with the job's insert).

use std::sync::Arc;

use backtick_core::schedule::{ScheduleFire, ScheduleRecord};
use backtick_core::{JobFilter, NewJob, RunAt, StoreError, Timestamp};

use super::Case;
use super::support::{Store, WORKER, at, job, t0};

pub(super) fn cases() -> Vec<Case> {
    vec![
        case!("schedule", upsert_inserts_new_schedules_in_input_order),
        case!("schedule", upsert_keeps_the_next_fire_time_of_an_unchanged_spec),
        case!("schedule", upsert_recomputes_the_next_fire_time_of_a_changed_spec),
        case!(
            "schedule",
            due_schedules_lists_due_schedules_of_the_given_workers_earliest_first
        ),
        case!("schedule", a_schedule_that_never_fires_again_is_never_due),
        case!("schedule", fire_schedule_advances_and_enqueues_once_per_fire_time),
        case!("schedule", a_skipped_fire_advances_without_enqueueing),
        case!("schedule", firing_a_missing_schedule_changes_nothing),
        case!("schedule", a_fire_with_an_invalid_job_changes_nothing),
        case!("schedule", concurrent_fires_of_one_fire_time_enqueue_one_job),
    ]
}

fn record(name: &str, spec: &str, next: Option<Timestamp>) -> ScheduleRecord {
    ScheduleRecord {
        name: name.to_owned(),
        worker: WORKER.to_owned(),
        spec: spec.to_owned(),
        next_run_at: next,
    }
}

async fn upsert(store: &Store, records: &[ScheduleRecord], now: Timestamp) -> Vec<ScheduleRecord> {
    store
        .upsert_schedules(records, Some(now))
        .await
        .expect("upsert_schedules failed")
}

async fn due(store: &Store, workers: &[&str], now: Timestamp) -> Vec<ScheduleRecord> {
    let workers: Vec<String> = workers.iter().map(|w| (*w).to_owned()).collect();
    store
        .due_schedules(&workers, Some(now))
        .await
        .expect("due_schedules failed")
}

fn fire(name: &str, expected: i64, next: Option<i64>, job: Option<NewJob>) -> ScheduleFire {
    ScheduleFire {
        name: name.to_owned(),
        expected: at(expected),
        next: next.map(at),
        job,
    }
}

fn fire_job(due: i64) -> NewJob {
    let mut job = job();
    job.run_at = Some(RunAt::At(at(due)));
    job
}

async fn jobs(store: &Store) -> Vec<backtick_core::Job> {
    store.list(&JobFilter::default()).await.expect("list failed")
}

async fn upsert_inserts_new_schedules_in_input_order(store: Store) {
    let records = [
        record("b", "every 1s", Some(at(1))),
        record("a", "every 2s", Some(at(2))),
    ];
    let stored = upsert(&store, &records, t0()).await;
    assert_eq!(
        stored,
        records.to_vec(),
        "upsert must return new schedules as given, in input order"
    );
}

async fn upsert_keeps_the_next_fire_time_of_an_unchanged_spec(store: Store) {
    upsert(&store, &[record("s", "every 1s", Some(at(1)))], t0()).await;
    let again = upsert(&store, &[record("s", "every 1s", Some(at(31)))], at(30)).await;
    assert_eq!(
        again[0].next_run_at,
        Some(at(1)),
        "an unchanged spec keeps its stored next fire time"
    );
}

async fn upsert_recomputes_the_next_fire_time_of_a_changed_spec(store: Store) {
    upsert(&store, &[record("s", "every 1s", Some(at(1)))], t0()).await;
    let changed = ScheduleRecord {
        worker: "other_worker".to_owned(),
        ..record("s", "every 60s", Some(at(90)))
    };
    let stored = upsert(&store, std::slice::from_ref(&changed), at(30)).await;
    assert_eq!(
        stored,
        vec![changed],
        "a changed spec takes the new next fire time and worker"
    );
}

async fn due_schedules_lists_due_schedules_of_the_given_workers_earliest_first(store: Store) {
    let foreign = ScheduleRecord {
        worker: "someone_elses".to_owned(),
        ..record("foreign", "every 1s", Some(at(1)))
    };
    let records = [
        record("late", "every 1s", Some(at(5))),
        record("early", "every 1s", Some(at(2))),
        record("future", "every 1s", Some(at(60))),
        foreign,
    ];
    upsert(&store, &records, t0()).await;
    let names: Vec<String> = due(&store, &[WORKER], at(5))
        .await
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(
        names,
        ["early", "late"],
        "due at or before now, of our workers only, earliest first"
    );
    assert!(due(&store, &["nobody"], at(100)).await.is_empty());
}

async fn a_schedule_that_never_fires_again_is_never_due(store: Store) {
    upsert(&store, &[record("never", "cron 0 0 0 30 2 *", None)], t0()).await;
    assert!(due(&store, &[WORKER], at(1_000_000)).await.is_empty());
}

async fn fire_schedule_advances_and_enqueues_once_per_fire_time(store: Store) {
    upsert(&store, &[record("s", "every 1s", Some(at(1)))], t0()).await;
    let won = store
        .fire_schedule(&fire("s", 1, Some(2), Some(fire_job(1))), Some(at(1)))
        .await;
    assert!(won.expect("fire_schedule failed"), "the first fire of a due time wins");
    let again = store
        .fire_schedule(&fire("s", 1, Some(2), Some(fire_job(1))), Some(at(1)))
        .await;
    assert!(
        !again.expect("fire_schedule failed"),
        "the same fire time cannot fire twice"
    );
    let jobs = jobs(&store).await;
    assert_eq!(jobs.len(), 1, "exactly one job per fire time");
    assert_eq!(jobs[0].run_at, at(1));
    assert_eq!(due(&store, &[WORKER], at(2)).await[0].next_run_at, Some(at(2)));
}

async fn a_skipped_fire_advances_without_enqueueing(store: Store) {
    upsert(&store, &[record("s", "every 1s", Some(at(1)))], t0()).await;
    assert!(
        store
            .fire_schedule(&fire("s", 1, Some(100), None), Some(at(50)))
            .await
            .expect("fire failed")
    );
    assert!(jobs(&store).await.is_empty());
    assert!(
        due(&store, &[WORKER], at(99)).await.is_empty(),
        "the next fire time moved to 100"
    );
}

async fn firing_a_missing_schedule_changes_nothing(store: Store) {
    let won = store
        .fire_schedule(&fire("ghost", 1, Some(2), Some(fire_job(1))), Some(at(1)))
        .await;
    assert!(!won.expect("fire_schedule failed"));
    assert!(
        jobs(&store).await.is_empty(),
        "no job for a schedule that does not exist"
    );
}

async fn a_fire_with_an_invalid_job_changes_nothing(store: Store) {
    upsert(&store, &[record("s", "every 1s", Some(at(1)))], t0()).await;
    let invalid = job().max_attempts(0);
    let result = store
        .fire_schedule(&fire("s", 1, Some(2), Some(invalid)), Some(at(1)))
        .await;
    assert!(matches!(result, Err(StoreError::InvalidJob(_))), "got {result:?}");
    assert!(jobs(&store).await.is_empty());
    assert_eq!(
        due(&store, &[WORKER], at(1)).await[0].next_run_at,
        Some(at(1)),
        "the fire time was not consumed"
    );
}

async fn concurrent_fires_of_one_fire_time_enqueue_one_job(store: Store) {
    upsert(&store, &[record("s", "every 1s", Some(at(1)))], t0()).await;
    let store = Arc::new(store);
    let attempts = (0..16).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .fire_schedule(&fire("s", 1, Some(2), Some(fire_job(1))), Some(at(1)))
                .await
        })
    });
    let mut winners = 0;
    for attempt in attempts {
        if attempt.await.expect("task panicked").expect("fire_schedule failed") {
            winners += 1;
        }
    }
    assert_eq!(winners, 1, "exactly one of 16 concurrent runners fires a fire time");
    assert_eq!(jobs(&store).await.len(), 1);
}
