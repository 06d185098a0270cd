//! Unique jobs by worker and arguments (or a chosen value), per period of due time, and held
//! only in chosen states: what a duplicate returns, when a key is free again, and that
//! concurrent enqueuers create exactly one job.

use std::time::Duration;

use backtick_core::state::Transition;
use backtick_core::{Codec, Enqueued, JobState, NewJob, StoreError, Unique};

use super::Case;
use super::concurrency::join_all;
use super::support::{Store, WORKER, at, claim_one, counts, enqueue, finish_applied, get, requeue_after, t0, token};

pub(super) fn cases() -> Vec<Case> {
    vec![
        case!("unique", unique_by_args_returns_the_job_with_the_same_arguments_only),
        case!("unique", unique_by_value_ignores_the_arguments_not_chosen),
        case!("unique", unique_per_period_allows_one_job_per_period_of_due_time),
        case!("unique", unique_per_period_buckets_a_delay_from_the_store_clock),
        case!(
            "unique",
            unique_while_queued_or_running_frees_the_key_when_the_job_finishes
        ),
        case!("unique", unique_without_states_still_holds_after_the_job_finishes),
        case!("unique", unique_states_can_also_block_on_chosen_finished_states),
        case!(
            "unique",
            enqueue_many_reports_unique_duplicates_within_the_batch_and_stored
        ),
        case!("unique", unique_options_that_cannot_hold_are_rejected),
        case!(
            "unique",
            retrying_a_finished_job_whose_key_another_job_holds_fails_and_changes_nothing
        ),
        case!(
            "unique",
            sixteen_concurrent_enqueuers_of_one_unique_job_create_exactly_one
        ),
        case!(
            "unique",
            sixteen_concurrent_enqueuers_after_the_holder_finished_create_exactly_one
        ),
    ]
}

/// A job for [`WORKER`] with `args` as CBOR.
fn args_job(args: (i64, &str)) -> NewJob {
    NewJob::with_codec(WORKER, &args, Codec::Cbor).expect("small tuples encode")
}

fn running_or_queued() -> [JobState; 2] {
    [JobState::Queued, JobState::Running]
}

async fn reporting(store: &Store, job: NewJob, now: backtick_core::Timestamp) -> Enqueued {
    store
        .enqueue_reporting(job, Some(now))
        .await
        .expect("enqueue_reporting failed")
}

async fn unique_by_args_returns_the_job_with_the_same_arguments_only(store: Store) {
    let first = reporting(&store, args_job((1, "a")).unique(Unique::by_args()), t0()).await;
    let same = reporting(&store, args_job((1, "a")).unique(Unique::by_args()).priority(3), at(1)).await;
    let other = reporting(&store, args_job((2, "a")).unique(Unique::by_args()), at(2)).await;
    assert!(!first.duplicate && !other.duplicate, "{first:?} {other:?}");
    assert_eq!(
        same,
        Enqueued::duplicate_of(first.id),
        "the same arguments are a duplicate"
    );
    assert_ne!(other.id, first.id, "other arguments are another job");
    assert_eq!(get(&store, first.id).await.priority, 0, "a duplicate changes nothing");
    let other_worker = NewJob::with_codec("another_worker", &(1, "a"), Codec::Cbor)
        .expect("encodes")
        .unique(Unique::by_args());
    assert!(
        !reporting(&store, other_worker, at(3)).await.duplicate,
        "the key includes the worker"
    );
    assert_eq!(counts(&store, None).await.total(), 3);
}

async fn unique_by_value_ignores_the_arguments_not_chosen(store: Store) {
    let by_first = |args: (i64, &str)| args_job(args).unique(Unique::by_value(&(args.0,)).expect("encodes"));
    let first = reporting(&store, by_first((7, "x")), t0()).await;
    let same_first = reporting(&store, by_first((7, "y")), at(1)).await;
    let other_first = reporting(&store, by_first((8, "x")), at(2)).await;
    assert_eq!(same_first, Enqueued::duplicate_of(first.id));
    assert!(!other_first.duplicate, "another chosen value is another job");
}

async fn unique_per_period_allows_one_job_per_period_of_due_time(store: Store) {
    let hourly = |run_at| {
        args_job((1, "a"))
            .run_at(run_at)
            .unique(Unique::by_args().period(Duration::from_secs(3600)))
    };
    // t0 is on the hour: [t0, t0 + 1h) is one period.
    let first = reporting(&store, hourly(at(60)), t0()).await;
    let same_hour = reporting(&store, hourly(at(3599)), t0()).await;
    let next_hour = reporting(&store, hourly(at(3600)), t0()).await;
    let hour_before = reporting(&store, hourly(at(-1)), t0()).await;
    assert!(!first.duplicate);
    assert_eq!(same_hour, Enqueued::duplicate_of(first.id), "same hour of due time");
    assert!(
        !next_hour.duplicate && !hour_before.duplicate,
        "other hours are other jobs"
    );
    let key = get(&store, first.id)
        .await
        .unique_key
        .expect("a unique job keeps its key");
    let base = args_job((1, "a")).unique(Unique::by_args()).unique_key.expect("a key");
    assert_eq!(
        key,
        backtick_core::unique_period_key(&base, t0(), Duration::from_secs(3600)),
        "the key held is the base key and the period's start"
    );
    assert_eq!(counts(&store, None).await.total(), 3);
}

async fn unique_per_period_buckets_a_delay_from_the_store_clock(store: Store) {
    let in_a_minute = || {
        args_job((1, "a"))
            .run_after(Duration::from_secs(60))
            .unique(Unique::by_args().period(Duration::from_secs(600)))
    };
    let first = reporting(&store, in_a_minute(), t0()).await;
    let same = reporting(&store, in_a_minute(), at(300)).await;
    let later = reporting(&store, in_a_minute(), at(600)).await;
    assert_eq!(
        same,
        Enqueued::duplicate_of(first.id),
        "due t0+1m and t0+6m: one period"
    );
    assert!(!later.duplicate, "due t0+11m: the next period");
    assert_eq!(get(&store, first.id).await.run_at, at(60));
}

async fn unique_while_queued_or_running_frees_the_key_when_the_job_finishes(store: Store) {
    let scoped = || args_job((1, "a")).unique(Unique::by_args().states(running_or_queued()));
    let first = reporting(&store, scoped(), t0()).await;
    assert_eq!(
        reporting(&store, scoped(), at(1)).await,
        Enqueued::duplicate_of(first.id)
    );
    let claimed = claim_one(&store, "r1", at(2)).await;
    assert_eq!(claimed.id, first.id);
    assert_eq!(
        reporting(&store, scoped(), at(3)).await,
        Enqueued::duplicate_of(first.id),
        "a running job holds its key"
    );
    // A failure puts it back on the queue: still the holder.
    finish_applied(
        &store,
        &token(&claimed),
        requeue_after(Duration::ZERO, Some("boom")),
        at(4),
    )
    .await;
    assert_eq!(
        reporting(&store, scoped(), at(5)).await,
        Enqueued::duplicate_of(first.id)
    );
    let again = claim_one(&store, "r1", at(6)).await;
    finish_applied(&store, &token(&again), Transition::Done, at(7)).await;
    let after_done = reporting(&store, scoped(), at(8)).await;
    assert!(!after_done.duplicate, "a done job no longer holds the key");
    assert_ne!(after_done.id, first.id);
    assert_eq!(
        reporting(&store, scoped(), at(9)).await,
        Enqueued::duplicate_of(after_done.id)
    );
    assert_eq!(
        get(&store, first.id).await.state,
        JobState::Done,
        "the finished job is kept"
    );
    // Cancelled frees it too.
    assert!(store.cancel(after_done.id, "no", Some(at(10))).await.expect("cancel"));
    assert!(!reporting(&store, scoped(), at(11)).await.duplicate);
    assert_eq!(counts(&store, None).await.total(), 3);
}

async fn unique_without_states_still_holds_after_the_job_finishes(store: Store) {
    let plain = || args_job((1, "a")).unique(Unique::by_args());
    let first = enqueue(&store, plain(), t0()).await;
    let claimed = claim_one(&store, "r1", at(1)).await;
    finish_applied(&store, &token(&claimed), Transition::Done, at(2)).await;
    assert_eq!(
        reporting(&store, plain(), at(3)).await,
        Enqueued::duplicate_of(first),
        "without states the key holds until the job is pruned, like `unique_key`"
    );
    let keyed = || job_with_key("k");
    let held = enqueue(&store, keyed(), at(4)).await;
    assert_eq!(reporting(&store, keyed(), at(5)).await, Enqueued::duplicate_of(held));
}

fn job_with_key(key: &str) -> NewJob {
    args_job((0, "k")).unique_key(key)
}

async fn unique_states_can_also_block_on_chosen_finished_states(store: Store) {
    let states = [JobState::Queued, JobState::Running, JobState::Dead];
    let scoped = || args_job((1, "a")).unique(Unique::by_args().states(states));
    let first = enqueue(&store, scoped(), t0()).await;
    let claimed = claim_one(&store, "r1", at(1)).await;
    let dead = Transition::Dead { error: "gone".into() };
    finish_applied(&store, &token(&claimed), dead, at(2)).await;
    assert_eq!(
        reporting(&store, scoped(), at(3)).await,
        Enqueued::duplicate_of(first),
        "dead is among the states: it still blocks"
    );
    let second_claim = {
        let other = args_job((2, "b")).unique(Unique::by_args().states(states));
        let id = enqueue(&store, other, at(4)).await;
        let claimed = claim_one(&store, "r1", at(5)).await;
        assert_eq!(claimed.id, id);
        claimed
    };
    finish_applied(&store, &token(&second_claim), Transition::Done, at(6)).await;
    let other = args_job((2, "b")).unique(Unique::by_args().states(states));
    assert!(
        !reporting(&store, other, at(7)).await.duplicate,
        "done is not among them"
    );
}

async fn enqueue_many_reports_unique_duplicates_within_the_batch_and_stored(store: Store) {
    let scoped = |n: i64| args_job((n, "a")).unique(Unique::by_args().states(running_or_queued()));
    let hourly = |n: i64, secs: i64| {
        args_job((n, "h"))
            .run_at(at(secs))
            .unique(Unique::by_args().period(Duration::from_secs(3600)))
    };
    let held = enqueue(&store, scoped(1), t0()).await;
    let batch = vec![
        scoped(1),
        scoped(2),
        args_job((0, "plain")),
        scoped(2),
        hourly(1, 10),
        hourly(1, 20),
        hourly(1, 3700),
    ];
    let reports = store
        .enqueue_many_reporting(batch, Some(at(1)))
        .await
        .expect("enqueue_many_reporting failed");
    assert_eq!(reports.len(), 7);
    assert_eq!(reports[0], Enqueued::duplicate_of(held));
    assert!(!reports[1].duplicate && !reports[2].duplicate);
    assert_eq!(
        reports[3],
        Enqueued::duplicate_of(reports[1].id),
        "a duplicate within the batch"
    );
    assert!(!reports[4].duplicate);
    assert_eq!(
        reports[5],
        Enqueued::duplicate_of(reports[4].id),
        "same hour in the batch"
    );
    assert!(!reports[6].duplicate, "the next hour in the batch");
    assert_eq!(counts(&store, None).await.total(), 5);
}

async fn unique_options_that_cannot_hold_are_rejected(store: Store) {
    let only_queued = args_job((1, "a")).unique(Unique::by_args().states([JobState::Queued]));
    let zero_period = args_job((1, "a")).unique(Unique::by_args().period(Duration::ZERO));
    let mut no_key = args_job((1, "a"));
    no_key.unique_period = Some(Duration::from_secs(60));
    for job in [only_queued, zero_period, no_key] {
        let result = store.enqueue(job.clone(), Some(t0())).await;
        assert!(
            matches!(result, Err(StoreError::InvalidJob(_))),
            "expected InvalidJob for {job:?}: {result:?}"
        );
    }
    assert_eq!(counts(&store, None).await.total(), 0, "nothing stored");
}

async fn retrying_a_finished_job_whose_key_another_job_holds_fails_and_changes_nothing(store: Store) {
    let scoped = || args_job((1, "a")).unique(Unique::by_args().states(running_or_queued()));
    let first = enqueue(&store, scoped(), t0()).await;
    assert!(store.cancel(first, "no", Some(at(1))).await.expect("cancel"));
    let second = enqueue(&store, scoped(), at(2)).await;
    assert_ne!(first, second, "the cancelled job released the key");
    let before = get(&store, first).await;
    let retried = store.retry(first, Some(at(3))).await;
    assert!(
        matches!(retried, Err(StoreError::UniqueKeyHeld { .. })),
        "the key is held by job {second}: {retried:?}"
    );
    assert_eq!(get(&store, first).await, before, "a refused retry changes nothing");
    assert!(store.cancel(second, "no", Some(at(4))).await.expect("cancel"));
    assert!(store.retry(first, Some(at(5))).await.expect("retry"), "free again");
    assert_eq!(get(&store, first).await.state, JobState::Queued);
}

async fn sixteen_concurrent_enqueuers(store: &Store, now: backtick_core::Timestamp) -> Vec<Enqueued> {
    let tasks = (0..16).map(|n: i16| {
        let store = store.clone();
        async move {
            let job = args_job((42, "same")).priority(n).run_at(at(30)).unique(
                Unique::by_args()
                    .period(Duration::from_secs(60))
                    .states(running_or_queued()),
            );
            store
                .enqueue_reporting(job, Some(now))
                .await
                .expect("enqueue_reporting failed")
        }
    });
    join_all(tasks.collect()).await
}

fn exactly_one_fresh(reports: &[Enqueued]) -> Enqueued {
    let fresh: Vec<_> = reports.iter().filter(|e| !e.duplicate).collect();
    assert_eq!(fresh.len(), 1, "exactly one enqueue inserts the job: {reports:?}");
    assert!(
        reports.iter().all(|e| e.id == fresh[0].id),
        "every duplicate names the one stored job: {reports:?}"
    );
    *fresh[0]
}

async fn sixteen_concurrent_enqueuers_of_one_unique_job_create_exactly_one(store: Store) {
    let reports = sixteen_concurrent_enqueuers(&store, t0()).await;
    exactly_one_fresh(&reports);
    assert_eq!(counts(&store, None).await.total(), 1, "one job");
}

async fn sixteen_concurrent_enqueuers_after_the_holder_finished_create_exactly_one(store: Store) {
    let first = exactly_one_fresh(&sixteen_concurrent_enqueuers(&store, t0()).await);
    let claimed = claim_one(&store, "r1", at(30)).await;
    assert_eq!(claimed.id, first.id);
    finish_applied(&store, &token(&claimed), Transition::Done, at(31)).await;
    let second = exactly_one_fresh(&sixteen_concurrent_enqueuers(&store, at(32)).await);
    assert_ne!(second.id, first.id, "the finished job released the key");
    assert_eq!(
        counts(&store, None).await.total(),
        2,
        "the finished job and one new one"
    );
}
