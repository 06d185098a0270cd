//! Enqueue inside the caller's transaction: nothing of a rolled-back one remains, a committed
//! one lands with the caller's writes, a failed enqueue leaves the transaction usable, unique
//! keys see committed jobs, and wake-up hints go out only on commit.

use std::sync::Arc;
use std::time::Duration;

use backtick_core::{JobState, NewJob, QueueStore, StoreError, Unique};

use super::{PgCase, job};
use crate::pgsuite::{CallerTransactions, LISTEN_WAIT, TestDatabase, assert_rolled_back, drain_hints};

/// Every transaction case.
pub(super) fn cases<B: CallerTransactions>() -> Vec<PgCase<B>> {
    vec![
        pg_case!(
            B,
            "transaction",
            a_job_enqueued_in_a_rolled_back_transaction_does_not_exist
        ),
        pg_case!(
            B,
            "transaction",
            a_job_enqueued_in_a_committed_transaction_lands_with_the_callers_writes
        ),
        pg_case!(
            B,
            "transaction",
            a_failed_enqueue_in_a_transaction_leaves_the_transaction_usable_and_adds_nothing
        ),
        pg_case!(
            B,
            "transaction",
            a_unique_key_held_by_a_committed_job_returns_that_job_inside_a_transaction
        ),
        pg_case!(
            B,
            "transaction",
            enqueue_in_a_transaction_reports_duplicates_of_stored_jobs_and_within_the_batch
        ),
        pg_case!(
            B,
            "transaction",
            unique_jobs_by_args_period_and_states_dedup_inside_a_transaction
        ),
        pg_case!(
            B,
            "transaction",
            a_rolled_back_enqueue_sends_no_hint_and_a_committed_one_does
        ),
        pg_case!(
            B,
            "transaction",
            enqueue_many_in_a_transaction_is_one_statement_and_hints_only_on_commit
        ),
    ]
}

fn job_in(queue: &str) -> NewJob {
    job().queue(queue)
}

async fn a_job_enqueued_in_a_rolled_back_transaction_does_not_exist<B: CallerTransactions>(db: Arc<TestDatabase<B>>) {
    let schema = db.schema().await;
    let store = schema.store().await;
    let mut tx = B::begin(&store).await;
    let mut ids = vec![B::enqueue_in(&mut tx, job()).await.expect("enqueue_in")];
    let many = B::enqueue_many_in(&mut tx, vec![job(), job().unique_key("k")])
        .await
        .expect("enqueue_many_in");
    assert_eq!(many.len(), 2);
    ids.extend(many);
    B::rollback(tx).await;
    assert_rolled_back(&store, &ids, "k").await;
}

async fn a_job_enqueued_in_a_committed_transaction_lands_with_the_callers_writes<B: CallerTransactions>(
    db: Arc<TestDatabase<B>>,
) {
    let schema = db.schema().await;
    let store = schema.store().await;
    schema
        .sql()
        .await
        .execute("CREATE TABLE orders (id int PRIMARY KEY)")
        .await;
    let mut tx = B::begin(&store).await;
    B::execute(&mut tx, "INSERT INTO orders VALUES (1)").await;
    let id = B::enqueue_in(&mut tx, job_in("mail")).await.expect("enqueue_in");
    assert_eq!(
        store.get(id).await.expect("get"),
        None,
        "other sessions do not see the job before commit"
    );
    B::commit(tx).await;
    let stored = store.get(id).await.expect("get").expect("the job exists after commit");
    assert_eq!((stored.state, stored.queue.as_str()), (JobState::Queued, "mail"));
    let orders = schema.sql().await.integer("SELECT count(*) FROM orders").await;
    assert_eq!(orders, 1, "the caller's write landed with the job");
}

async fn a_failed_enqueue_in_a_transaction_leaves_the_transaction_usable_and_adds_nothing<B: CallerTransactions>(
    db: Arc<TestDatabase<B>>,
) {
    let schema = db.schema().await;
    let store = schema.store().await;
    let mut tx = B::begin(&store).await;
    let kept = B::enqueue_in(&mut tx, job()).await.expect("enqueue_in");
    let invalid = B::enqueue_many_in(&mut tx, vec![job(), job().max_attempts(0)]).await;
    assert!(matches!(invalid, Err(StoreError::InvalidJob(_))), "{invalid:?}");
    // A database-side failure inside the savepoint (a NUL byte cannot be stored in text).
    let broken = B::enqueue_many_in(
        &mut tx,
        vec![job().unique_key("a"), job_in("bad\0queue").unique_key("b")],
    )
    .await;
    assert!(broken.is_err(), "a NUL byte in a queue name must fail: {broken:?}");
    let after = B::enqueue_in(&mut tx, job().unique_key("a")).await.expect("enqueue_in");
    B::commit(tx).await;
    let ids: Vec<_> = store
        .list(&Default::default())
        .await
        .expect("list")
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(ids, vec![kept, after], "only the successful enqueues landed");
}

async fn a_unique_key_held_by_a_committed_job_returns_that_job_inside_a_transaction<B: CallerTransactions>(
    db: Arc<TestDatabase<B>>,
) {
    let schema = db.schema().await;
    let store = schema.store().await;
    let existing = store.enqueue(job().unique_key("once"), None).await.expect("enqueue");
    let mut tx = B::begin(&store).await;
    let ids = B::enqueue_many_in(&mut tx, vec![job().unique_key("once"), job(), job().unique_key("once")])
        .await
        .expect("enqueue_many_in");
    B::commit(tx).await;
    assert_eq!((ids[0], ids[2]), (existing, existing));
    assert_ne!(ids[1], existing);
    assert_eq!(store.count_by_state(None).await.expect("count").total(), 2);
}

async fn unique_jobs_by_args_period_and_states_dedup_inside_a_transaction<B: CallerTransactions>(
    db: Arc<TestDatabase<B>>,
) {
    let schema = db.schema().await;
    let store = schema.store().await;
    let unique = || {
        job().unique(
            Unique::by_args()
                .period(Duration::from_secs(3600))
                .states([JobState::Queued, JobState::Running]),
        )
    };
    let existing = store.enqueue(unique(), None).await.expect("enqueue");
    let mut tx = B::begin(&store).await;
    let reports = B::enqueue_many_in_reporting(&mut tx, vec![unique(), job(), unique()])
        .await
        .expect("enqueue_many_in_reporting");
    let single = B::enqueue_in_reporting(&mut tx, unique())
        .await
        .expect("enqueue_in_reporting");
    B::commit(tx).await;
    let duplicates: Vec<bool> = reports.iter().map(|e| e.duplicate).collect();
    assert_eq!(duplicates, vec![true, false, true], "{reports:?}");
    assert_eq!(
        (reports[0].id, reports[2].id, single.id),
        (existing, existing, existing)
    );
    assert!(single.duplicate);
    // Once the holder is cancelled, a transaction's enqueue inserts a new one.
    assert!(store.cancel(existing, "done with it", None).await.expect("cancel"));
    let mut tx = B::begin(&store).await;
    let fresh = B::enqueue_in_reporting(&mut tx, unique())
        .await
        .expect("enqueue_in_reporting");
    B::commit(tx).await;
    assert!(!fresh.duplicate && fresh.id != existing, "{fresh:?}");
    assert_eq!(store.count_by_state(None).await.expect("count").total(), 3);
}

async fn enqueue_in_a_transaction_reports_duplicates_of_stored_jobs_and_within_the_batch<B: CallerTransactions>(
    db: Arc<TestDatabase<B>>,
) {
    let schema = db.schema().await;
    let store = schema.store().await;
    let existing = store.enqueue(job().unique_key("held"), None).await.expect("enqueue");
    let mut tx = B::begin(&store).await;
    let reports = B::enqueue_many_in_reporting(
        &mut tx,
        vec![
            job().unique_key("held"),
            job().unique_key("new"),
            job().unique_key("new"),
            job(),
        ],
    )
    .await
    .expect("enqueue_many_in_reporting");
    let single = B::enqueue_in_reporting(&mut tx, job().unique_key("new"))
        .await
        .expect("enqueue_in_reporting");
    let fresh = B::enqueue_in_reporting(&mut tx, job().unique_key("fresh"))
        .await
        .expect("enqueue_in_reporting");
    B::commit(tx).await;
    let duplicates: Vec<bool> = reports.iter().map(|e| e.duplicate).collect();
    assert_eq!(duplicates, vec![true, false, true, false], "{reports:?}");
    assert_eq!(reports[0].id, existing, "a duplicate of a committed job names it");
    assert_eq!(
        reports[2].id, reports[1].id,
        "a duplicate within the batch names its first job"
    );
    assert!(single.duplicate && single.id == reports[1].id, "{single:?}");
    assert!(!fresh.duplicate, "{fresh:?}");
    assert_eq!(store.count_by_state(None).await.expect("count").total(), 4);
}

async fn a_rolled_back_enqueue_sends_no_hint_and_a_committed_one_does<B: CallerTransactions>(_: Arc<TestDatabase<B>>) {
    // NOTIFY reaches every listener of a database: a database of its own.
    let db = TestDatabase::<B>::migrated().await;
    let store = db.store().await;
    let mut hints = store.subscribe().expect("the store has hints");
    assert!(
        B::wait_listening(&store, LISTEN_WAIT).await,
        "the listener did not come up"
    );
    let mut tx = B::begin(&store).await;
    B::enqueue_in(&mut tx, job_in("rolled_back")).await.expect("enqueue_in");
    B::rollback(tx).await;
    let mut tx = B::begin(&store).await;
    B::enqueue_in(&mut tx, job_in("committed")).await.expect("enqueue_in");
    B::commit(tx).await;
    let got = drain_hints(&mut hints, Duration::from_millis(500)).await;
    assert_eq!(got, vec!["committed"], "only the committed enqueue may wake anyone");
}

async fn enqueue_many_in_a_transaction_is_one_statement_and_hints_only_on_commit<B: CallerTransactions>(
    _: Arc<TestDatabase<B>>,
) {
    // NOTIFY reaches every listener of a database: a database of its own.
    let db = TestDatabase::<B>::migrated().await;
    let store = db.store().await;
    let mut hints = store.subscribe().expect("the store has hints");
    assert!(
        B::wait_listening(&store, LISTEN_WAIT).await,
        "the listener did not come up"
    );
    let mut tx = B::begin(&store).await;
    B::enqueue_in(&mut tx, job_in("rolled_back")).await.expect("enqueue_in");
    B::rollback(tx).await;
    let mut tx = B::begin(&store).await;
    let ids = B::enqueue_many_in(&mut tx, (0..200).map(|_| job_in("committed")).collect())
        .await
        .expect("enqueue_many_in");
    assert!(
        drain_hints(&mut hints, Duration::from_millis(300)).await.is_empty(),
        "no hint before commit"
    );
    B::commit(tx).await;
    assert_eq!(ids.len(), 200);
    let got = drain_hints(&mut hints, Duration::from_millis(500)).await;
    assert_eq!(
        got,
        vec!["committed"],
        "200 jobs in one statement, one hint; the rolled-back one wakes no one"
    );
}
