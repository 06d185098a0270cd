//! Exactly-once schedules on a real Postgres: four runners, each with its own connection pool,
//! fire a schedule every second for twenty seconds; each fire time enqueues exactly one job.

use std::sync::Arc;
use std::time::Duration;

use backtick_e2e::{HarnessError, TestDatabase};
use backtick_postgres::schedule::{CatchUp, Every, Periodic};
use backtick_postgres::{JobContext, JobFilter, NewJob, PgStore, QueueStore, Runner, RunnerConfig, worker_fn};

const WORKER: &str = "e2e_every_second";

fn every_second() -> Result<Periodic, HarnessError> {
    Ok(Periodic {
        name: "e2e-every-second".to_owned(),
        scheduler: Arc::new(Every::new(Duration::from_secs(1))?),
        spec: "every 1s".to_owned(),
        job: NewJob::new(WORKER, &())?,
        catch_up: CatchUp::Once,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_runners_fire_a_schedule_exactly_once_per_second_for_twenty_seconds() -> Result<(), HarnessError> {
    let db = TestDatabase::create().await?;
    let mut runners = Vec::new();
    for _ in 0..4 {
        let store: Arc<dyn QueueStore> = Arc::new(PgStore::connect(&db.url).await?);
        let config = RunnerConfig {
            schedule_interval: Duration::from_millis(100),
            ..RunnerConfig::default()
        };
        let runner = Runner::builder(store)
            .config(config)
            .worker(worker_fn(WORKER, |_: JobContext, (): ()| async { Ok(()) }))
            .periodic(every_second()?)
            .build()?
            .start();
        runners.push(runner);
    }
    tokio::time::sleep(Duration::from_secs(21)).await;
    for runner in runners {
        runner.shutdown().await;
    }

    let store = PgStore::connect(&db.url).await?;
    let jobs = store.list(&JobFilter::default().worker(WORKER).limit(1_000)).await?;
    let mut fire_times: Vec<_> = jobs.iter().map(|job| job.run_at).collect();
    fire_times.sort();
    println!(
        "{} jobs, fire times {:?} .. {:?}",
        fire_times.len(),
        fire_times.first(),
        fire_times.last()
    );
    assert!(
        fire_times.len() >= 19,
        "a fire every second for twenty seconds, got {}",
        fire_times.len()
    );
    for pair in fire_times.windows(2) {
        assert_eq!(
            pair[1] - pair[0],
            chrono::Duration::seconds(1),
            "one job per fire time: {pair:?}"
        );
    }
    store.close().await;
    db.drop_database().await
}
