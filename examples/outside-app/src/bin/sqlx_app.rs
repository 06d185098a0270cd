use std::sync::Arc;
use std::time::Duration;
use backtick_postgres::{JobContext, JobError, PgStore, QueueStore, Runner};

#[backtick_postgres::worker(queue = "mail", max_attempts = 5, timeout = "30s")]
async fn send_welcome(ctx: &JobContext, user_id: i64, email: String) -> Result<(), JobError> {
    if email.is_empty() {
        return Err(JobError::discard("no address: retrying will not help"));
    }
    tracing::info!("attempt {}: welcome mail for user {user_id} to {email}", ctx.attempt());
    Ok(())
}

/// Any error type works with `?`: a failure is retried with backoff.
#[backtick_postgres::worker(queue = "reports")]
async fn import_report(path: String) -> anyhow::Result<()> {
    let rows: u64 = path.trim_end_matches(".csv").parse()?;
    anyhow::ensure!(rows > 0, "{path} is empty");
    tracing::info!("imported {rows} rows"); // logged inside the job's span: job_id, worker, queue
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter("info").init(); // nothing is logged without a subscriber

    let store = PgStore::from_env().await?; // BT_DATABASE_URL, else DATABASE_URL
    store.migrate().await?;                 // safe to call on every start, from every process

    // Enqueue now, later, at a time, or inside your own transaction.
    send_welcome::schedule(&store, 42, "ada@example.com".to_owned()).await?;
    send_welcome::job(43, "alan@example.com".to_owned())
        .run_after(Duration::from_secs(60))
        .enqueue(&store)
        .await?;
    import_report::job("1000.csv".to_owned())
        .run_at(chrono::Utc::now() + chrono::Duration::hours(1))
        .enqueue(&store)
        .await?;
    let mut tx = store.pool().begin().await?;
    // ... your own writes in `tx` ...
    backtick_postgres::enqueue_in(&mut tx, send_welcome::job(44, "grace@example.com".to_owned()).into_new_job()?).await?;
    tx.commit().await?; // the job exists only if this commits

    // Run every annotated worker and schedule of the program until Ctrl-C.
    let store: Arc<dyn QueueStore> = Arc::new(store);
    let runner = Runner::builder(store).discovered().concurrency(20).build()?;
    runner.run_until(async { tokio::signal::ctrl_c().await.unwrap_or(()) }).await?; // checks the schema first
    Ok(())
}
