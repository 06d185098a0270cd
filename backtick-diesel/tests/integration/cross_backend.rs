//! One schema, two backends: a job enqueued through `PgStore` is run by a runner on
//! `DieselStore`, and the other way round, with the same codecs, unique keys and fencing.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use backtick_diesel::{
    Codec, JobContext, JobId, JobState, NewJob, QueueStore, Runner, RunnerConfig, RunnerId, worker_fn,
};
use backtick_postgres::{PgStore, PgStoreConfig};

use backtick_testkit::pgsuite::TestDatabase;

use crate::backend::Diesel;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Order {
    id: u32,
    items: Vec<String>,
}

async fn pg_store(db: &TestDatabase<Diesel>) -> PgStore {
    let config = PgStoreConfig {
        max_connections: 4,
        ..PgStoreConfig::default()
    };
    PgStore::connect_with(&db.url(), config).await.unwrap()
}

fn order(id: u32) -> Order {
    Order {
        id,
        items: vec![format!("item-{id}"), "ünïcødé".into()],
    }
}

/// The jobs to send: both codecs, a delay, a priority and a unique key.
fn jobs() -> Vec<NewJob> {
    vec![
        NewJob::new("ship", &order(1)).unwrap(),
        NewJob::with_codec("ship", &order(2), Codec::Json)
            .unwrap()
            .priority(-1)
            .queue("orders"),
        NewJob::new("ship", &order(3))
            .unwrap()
            .unique_key("order-3")
            .max_attempts(3),
    ]
}

/// Run every job `store` holds with a runner, recording the decoded arguments; waits until
/// `expected` jobs are done.
async fn run_all(store: Arc<dyn QueueStore>, expected: usize) -> Vec<Order> {
    let seen: Arc<Mutex<Vec<Order>>> = Arc::default();
    let record = {
        let seen = seen.clone();
        worker_fn("ship", move |_ctx: JobContext, order: Order| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap_or_else(PoisonError::into_inner).push(order);
                Ok(())
            }
        })
    };
    let config = RunnerConfig {
        runner_id: RunnerId::generate(),
        poll_interval: Duration::from_millis(50),
        ..RunnerConfig::default()
    };
    let handle = Runner::builder(store.clone())
        .config(config)
        .worker(record)
        .build()
        .unwrap()
        .start();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while store.count_by_state(None).await.unwrap().get(JobState::Done) < expected as u64 {
        assert!(tokio::time::Instant::now() < deadline, "the jobs did not finish");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    handle.shutdown().await;
    let mut seen = seen.lock().unwrap_or_else(PoisonError::into_inner).clone();
    seen.sort_by_key(|o| o.id);
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_enqueued_through_pg_store_is_run_by_a_runner_on_diesel_store() {
    let db = TestDatabase::<Diesel>::migrated().await;
    let pg = pg_store(&db).await;
    let ids = pg.enqueue_many(jobs()).await.unwrap();
    let diesel = db.store().await;
    let same_key = diesel
        .enqueue(NewJob::new("ship", &order(99)).unwrap().unique_key("order-3"))
        .await
        .unwrap();
    assert_eq!(same_key, ids[2], "DieselStore sees the unique key PgStore stored");
    let ran = run_all(Arc::new(diesel.clone()), ids.len()).await;
    assert_eq!(ran, vec![order(1), order(2), order(3)]);
    for id in ids {
        let job = pg.get(id).await.unwrap().unwrap();
        assert_eq!(
            (job.state, job.attempt),
            (JobState::Done, 1),
            "PgStore reads what DieselStore wrote: {job:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_enqueued_through_diesel_store_is_run_by_a_runner_on_pg_store() {
    let db = TestDatabase::<Diesel>::migrated().await;
    let diesel = db.store().await;
    let ids = diesel.enqueue_many(jobs()).await.unwrap();
    let pg = pg_store(&db).await;
    let ran = run_all(Arc::new(pg.clone()), ids.len()).await;
    assert_eq!(ran, vec![order(1), order(2), order(3)]);
    for id in ids {
        let job = diesel.get(id).await.unwrap().unwrap();
        assert_eq!(
            (job.state, job.attempt),
            (JobState::Done, 1),
            "DieselStore reads what PgStore wrote: {job:?}"
        );
    }
}

#[tokio::test]
async fn a_claim_by_one_backend_fences_the_other() {
    let db = TestDatabase::<Diesel>::migrated().await;
    let (diesel, pg) = (db.store().await, pg_store(&db).await);
    let id: JobId = pg.enqueue(NewJob::new("ship", &order(5)).unwrap()).await.unwrap();
    let params = backtick_diesel::ClaimParams {
        runner_id: RunnerId::new("diesel-runner"),
        workers: vec!["ship".into()],
        queues: None,
        limit: 10,
        lease_ttl: Duration::from_secs(30),
        now: None,
    };
    let claimed = diesel.claim(&params).await.unwrap();
    assert_eq!(claimed.iter().map(|j| j.id).collect::<Vec<_>>(), vec![id]);
    let pg_params = backtick_postgres::ClaimParams {
        runner_id: RunnerId::new("pg-runner"),
        ..params
    };
    assert!(
        pg.claim(&pg_params).await.unwrap().is_empty(),
        "a claimed job is not claimed again"
    );
    let token = claimed[0].claim_token().unwrap();
    let stale = backtick_diesel::ClaimToken {
        runner_id: RunnerId::new("pg-runner"),
        ..token.clone()
    };
    let done = |token| backtick_diesel::Finish {
        token,
        transition: backtick_diesel::Transition::Done,
    };
    let report = pg.finish_many(&[done(stale.clone())], None).await.unwrap();
    assert_eq!(
        report.stale,
        vec![stale],
        "PgStore refuses a token DieselStore did not issue"
    );
    let report = pg.finish_many(&[done(token)], None).await.unwrap();
    assert_eq!(report.applied, vec![id], "PgStore applies DieselStore's claim token");
}
