//! Recurring schedules on the in-memory store: several runners, each fire time enqueued once;
//! and the schedule firer's passes, called directly.

use std::sync::Arc;
use std::time::Duration;

use backtick_core::maintenance::{ScheduleFirer, ScheduleReport};
use backtick_core::schedule::{CatchUp, Every, Periodic};
use backtick_core::{
    JobContext, JobFilter, ManualClock, NewJob, QueueStore, Runner, RunnerConfig, RunnerHandle, Timestamp, worker_fn,
};
use backtick_testkit::MemoryStore;

fn every_second(name: &str) -> Periodic {
    Periodic {
        name: name.to_owned(),
        scheduler: Arc::new(Every::new(Duration::from_secs(1)).expect("interval")),
        spec: "every 1s".to_owned(),
        job: NewJob::new("tick", &()).expect("encode"),
        catch_up: CatchUp::Once,
    }
}

fn start(store: &MemoryStore, clock: &ManualClock, periodic: Periodic) -> RunnerHandle {
    let config = RunnerConfig {
        poll_interval: Duration::from_millis(10),
        schedule_interval: Duration::from_millis(5),
        heartbeat_interval: Duration::from_secs(10),
        ..RunnerConfig::default()
    };
    Runner::builder(Arc::new(store.clone()))
        .config(config)
        .clock(clock.clone())
        .worker(worker_fn("tick", |_: JobContext, (): ()| async { Ok(()) }))
        .periodic(periodic)
        .build()
        .expect("build")
        .start()
}

async fn fire_times(store: &MemoryStore) -> Vec<Timestamp> {
    let jobs = store
        .list(&JobFilter::default().worker("tick").limit(10_000))
        .await
        .expect("list");
    let mut times: Vec<_> = jobs.iter().map(|job| job.run_at).collect();
    times.sort();
    times
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_runners_fire_a_schedule_exactly_once_per_second_for_twenty_seconds() {
    let t0: Timestamp = "2030-01-01T00:00:00Z".parse().expect("time");
    let clock = ManualClock::new(t0);
    let store = MemoryStore::new();
    let runners: Vec<_> = (0..4)
        .map(|_| start(&store, &clock, every_second("tick-every-second")))
        .collect();
    // Let the runners store the schedule (first fire at t0 + 1s), then walk time in 100ms steps.
    tokio::time::sleep(Duration::from_millis(100)).await;
    for _ in 0..200 {
        clock.advance(Duration::from_millis(100));
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    for runner in runners {
        runner.shutdown().await;
    }
    let times = fire_times(&store).await;
    let expected: Vec<Timestamp> = (1..=20).map(|s| t0 + chrono::Duration::seconds(s)).collect();
    assert_eq!(times, expected, "one job per fire time, none missed, none doubled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fires_missed_while_every_runner_was_down_produce_one_catch_up_job() {
    let t0: Timestamp = "2030-01-01T00:00:00Z".parse().expect("time");
    let clock = ManualClock::new(t0);
    let store = MemoryStore::new();
    let runner = start(&store, &clock, every_second("catch-up"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    runner.shutdown().await;
    // Every runner is down for an hour.
    clock.advance(Duration::from_secs(3600));
    let runner = start(&store, &clock, every_second("catch-up"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    runner.shutdown().await;
    let times = fire_times(&store).await;
    // One catch-up job for the 3,600 missed fires (due at the first of them); the schedule
    // then continues at the first fire time after the restart.
    assert_eq!(times, vec![t0 + chrono::Duration::seconds(1)]);
    let stored = store
        .due_schedules(&["tick".to_owned()], Some(t0 + chrono::Duration::seconds(3601)))
        .await
        .expect("due");
    assert_eq!(stored[0].next_run_at, Some(t0 + chrono::Duration::seconds(3601)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_spec_keeps_its_next_fire_time_and_a_changed_one_recomputes_it() {
    let t0: Timestamp = "2030-01-01T00:00:00Z".parse().expect("time");
    let store = MemoryStore::new();
    let periodic = every_second("kept");
    let first = store
        .upsert_schedules(&[periodic.record(t0)], Some(t0))
        .await
        .expect("upsert");
    assert_eq!(first[0].next_run_at, Some(t0 + chrono::Duration::seconds(1)));
    let later = t0 + chrono::Duration::seconds(30);
    let again = store
        .upsert_schedules(&[periodic.record(later)], Some(later))
        .await
        .expect("upsert");
    assert_eq!(
        again[0].next_run_at, first[0].next_run_at,
        "same spec: the stored fire time stays"
    );
    let changed = Periodic {
        scheduler: Arc::new(Every::new(Duration::from_secs(60)).expect("interval")),
        spec: "every 60s".to_owned(),
        ..every_second("kept")
    };
    let after = store
        .upsert_schedules(&[changed.record(later)], Some(later))
        .await
        .expect("upsert");
    assert_eq!(
        after[0].next_run_at,
        Some(later + chrono::Duration::seconds(60)),
        "new spec: recomputed"
    );
}

fn firer(store: &MemoryStore, periodics: Vec<Periodic>) -> ScheduleFirer {
    let t0: Timestamp = "2030-01-01T00:00:00Z".parse().expect("time");
    ScheduleFirer::new(Arc::new(store.clone()), Arc::new(ManualClock::new(t0)), periodics)
}

fn seconds(t0: Timestamp, s: i64) -> Timestamp {
    t0 + chrono::Duration::seconds(s)
}

#[tokio::test]
async fn a_firer_registers_on_its_first_pass_then_fires_each_due_time_once() {
    let t0: Timestamp = "2030-01-01T00:00:00Z".parse().expect("time");
    let store = MemoryStore::new();
    let firer = firer(&store, vec![every_second("tick")]);
    let first = firer.run_once(Some(t0)).await.expect("register");
    assert_eq!(
        first,
        ScheduleReport {
            registered: 1,
            ..ScheduleReport::default()
        }
    );
    assert!(fire_times(&store).await.is_empty(), "registering enqueues nothing");
    let due = firer.run_once(Some(seconds(t0, 2))).await.expect("fire");
    assert_eq!((due.registered, due.fired, due.enqueued), (0, 2, 2));
    assert_eq!(fire_times(&store).await, vec![seconds(t0, 1), seconds(t0, 2)]);
    let again = firer.run_once(Some(seconds(t0, 2))).await.expect("fire");
    assert_eq!(again, ScheduleReport::default(), "nothing more is due");
}

#[tokio::test]
async fn of_two_firers_on_one_store_each_due_time_is_fired_by_one() {
    let t0: Timestamp = "2030-01-01T00:00:00Z".parse().expect("time");
    let store = MemoryStore::new();
    let firers = [
        firer(&store, vec![every_second("shared")]),
        firer(&store, vec![every_second("shared")]),
    ];
    for firer in &firers {
        firer.run_once(Some(t0)).await.expect("register");
    }
    let mut fired = 0;
    for second in 1..=20 {
        for firer in &firers {
            fired += firer.run_once(Some(seconds(t0, second))).await.expect("fire").fired;
        }
    }
    assert_eq!(fired, 20);
    let expected: Vec<Timestamp> = (1..=20).map(|s| seconds(t0, s)).collect();
    assert_eq!(fire_times(&store).await, expected);
}

#[tokio::test]
async fn a_firer_without_schedules_does_nothing() {
    let firer = firer(&MemoryStore::new(), Vec::new());
    for _ in 0..2 {
        assert_eq!(firer.run_once(None).await.expect("pass"), ScheduleReport::default());
    }
}

#[tokio::test]
async fn a_firer_knows_how_long_until_its_next_fire_whoever_fires_it() {
    let t0: Timestamp = "2030-01-01T00:00:00Z".parse().expect("time");
    let store = MemoryStore::new();
    let (ours, theirs) = (
        firer(&store, vec![every_second("shared")]),
        firer(&store, vec![every_second("shared")]),
    );
    assert_eq!(ours.next_fire_in(), None, "no pass yet");
    ours.run_once(Some(t0)).await.expect("register");
    theirs.run_once(Some(t0)).await.expect("register");
    assert_eq!(
        ours.next_fire_in(),
        Some(Duration::from_secs(1)),
        "the first fire, a second away"
    );
    let quarter = t0 + chrono::Duration::milliseconds(250);
    ours.run_once(Some(quarter)).await.expect("nothing due");
    assert_eq!(ours.next_fire_in(), Some(Duration::from_millis(750)));
    // The other firer consumes the fire at 1 s; ours loses the compare-and-set at 1.1 s and
    // still knows the next fire, 2 s.
    assert_eq!(theirs.run_once(Some(seconds(t0, 1))).await.expect("fire").fired, 1);
    let late = seconds(t0, 1) + chrono::Duration::milliseconds(100);
    ours.run_once(Some(late)).await.expect("lost");
    assert_eq!(ours.next_fire_in(), Some(Duration::from_millis(900)));
    assert_eq!(fire_times(&store).await, vec![seconds(t0, 1)]);
}
