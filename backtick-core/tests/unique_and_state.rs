//! `#[worker(unique(...))]` and `State<T>` arguments, end to end on the `MemoryStore`: what the
//! generated `job(...)`, `schedule(...)` and `schedule_many(...)` enqueue, what a runner without
//! a needed state says, and the testkit's one-job helpers with states.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use backtick_core::{Error, JobContext, JobError, JobState, QueueStore, Runner, State, StateMap, Worker};
use backtick_testkit::MemoryStore;
use backtick_testkit::assert::{work_job, work_job_with};

#[backtick_core::worker(unique(args, period = "1h", states = [queued, running]))]
async fn sync_account(account: u64, full: bool) {
    let _ = (account, full);
}

#[backtick_core::worker(unique(args = [account]))]
async fn notify_account(account: u64, message: String) {
    let _ = (account, message);
}

#[backtick_core::worker(unique(period = "1d"))]
async fn daily_report() {}

/// Counts runs, through a state.
#[derive(Debug, Default)]
struct Counter(AtomicUsize);

#[derive(Debug)]
struct Prefix(String);

#[backtick_core::worker]
async fn count_runs(
    counter: State<Counter>,
    ctx: &JobContext,
    by: usize,
    prefix: State<Prefix>,
) -> Result<(), JobError> {
    assert_eq!(prefix.0, "p", "job {}", ctx.job().id);
    counter.0.fetch_add(by, Ordering::SeqCst);
    Ok(())
}

async fn jobs(store: &MemoryStore) -> usize {
    store.count_by_state(None).await.expect("count").total() as usize
}

#[tokio::test]
async fn unique_by_args_dedups_the_same_arguments_and_reports_the_holder() {
    let store = MemoryStore::new();
    let first = sync_account::job(1, true)
        .enqueue_reporting(&store)
        .await
        .expect("enqueue");
    let again = sync_account::job(1, true)
        .enqueue_reporting(&store)
        .await
        .expect("enqueue");
    let other = sync_account::schedule(&store, 1, false).await.expect("schedule");
    assert!(!first.duplicate);
    assert!(again.duplicate && again.id == first.id, "{again:?}");
    assert_ne!(other, first.id);
    let many = sync_account::schedule_many(&store, [(2, true), (2, true), (1, true)])
        .await
        .expect("schedule_many");
    assert_eq!(
        (many[1], many[2]),
        (many[0], first.id),
        "duplicates in and out of the batch"
    );
    assert_eq!(jobs(&store).await, 3);
    let stored = store.get(first.id).await.expect("get").expect("stored");
    let key = stored.unique_key.expect("a key");
    assert!(key.starts_with("unique_and_state::sync_account:args:"), "{key}");
    assert!(key.contains('@'), "per period: {key}");
}

#[tokio::test]
async fn a_finished_job_outside_the_unique_states_lets_a_new_one_in() {
    let store = MemoryStore::new();
    let first = sync_account::schedule(&store, 9, true).await.expect("schedule");
    assert!(store.cancel(first, "stop", None).await.expect("cancel"));
    let second = sync_account::schedule(&store, 9, true).await.expect("schedule");
    assert_ne!(first, second, "a cancelled job does not block");
}

#[tokio::test]
async fn unique_by_chosen_arguments_ignores_the_others() {
    let store = MemoryStore::new();
    let a = notify_account::schedule(&store, 5, "hello".into())
        .await
        .expect("schedule");
    let b = notify_account::schedule(&store, 5, "bye".into())
        .await
        .expect("schedule");
    let c = notify_account::schedule(&store, 6, "hello".into())
        .await
        .expect("schedule");
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[tokio::test]
async fn unique_by_worker_alone_per_period() {
    let store = MemoryStore::new();
    let a = daily_report::schedule(&store).await.expect("schedule");
    let b = daily_report::schedule(&store).await.expect("schedule");
    let tomorrow = daily_report::job()
        .run_after(Duration::from_secs(86_400))
        .enqueue(&store)
        .await
        .expect("enqueue");
    assert_eq!(a, b);
    assert_ne!(a, tomorrow);
}

#[test]
fn a_runner_without_a_needed_state_fails_to_build_naming_the_worker_and_type() {
    let store = Arc::new(MemoryStore::new());
    let built = Runner::builder(store.clone())
        .worker(count_runs::worker())
        .state(Counter::default())
        .build();
    let Err(Error::MissingState(missing)) = built else {
        panic!("expected a missing state error")
    };
    assert_eq!(missing.worker, count_runs::NAME);
    assert!(missing.type_name.ends_with("Prefix"), "{missing}");
    assert!(missing.to_string().contains(".state(value)"), "{missing}");
    let built = Runner::builder(store)
        .worker(count_runs::worker())
        .state(Counter::default())
        .state(Prefix("p".into()))
        .build();
    assert!(built.is_ok());
    assert_eq!(count_runs::worker().required_states().len(), 2);
}

#[tokio::test]
async fn the_testkit_hands_states_to_one_job() {
    let counter = Arc::new(Counter::default());
    let mut states = StateMap::new();
    states.insert_arc(counter.clone());
    states.insert(Prefix("p".into()));
    work_job_with(&count_runs::worker(), &(3_usize,), states)
        .await
        .assert_completed();
    assert_eq!(counter.0.load(Ordering::SeqCst), 3);
    let without = work_job(&count_runs::worker(), &(1_usize,)).await;
    assert!(!without.is_completed(), "a missing state fails the run: {without:?}");
}

#[tokio::test]
async fn a_runner_hands_its_states_to_every_job() {
    let store = Arc::new(MemoryStore::new());
    let counter = Arc::new(Counter::default());
    let handle = Runner::builder(store.clone())
        .worker(count_runs::worker())
        .state_arc(counter.clone())
        .state(Prefix("p".into()))
        .config(backtick_core::RunnerConfig {
            poll_interval: Duration::from_millis(20),
            ..Default::default()
        })
        .build()
        .expect("build")
        .start();
    count_runs::schedule_many(&*store, [1_usize, 2, 4])
        .await
        .expect("schedule");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while store.count_by_state(None).await.expect("count").get(JobState::Done) < 3 {
        assert!(tokio::time::Instant::now() < deadline, "jobs did not finish");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    handle.shutdown().await;
    assert_eq!(counter.0.load(Ordering::SeqCst), 7);
}
