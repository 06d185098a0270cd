//! A diesel-async application using backtick: it signs users up, and each signup enqueues a
//! welcome mail **in the same transaction** as the user's row, so a failed signup sends no
//! mail and a committed one always does. A runner in the same process runs the mails.
//!
//! ```sh
//! BT_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo run -p backtick-example-diesel
//! ```

use std::sync::Arc;
use std::time::Duration;

use backtick_diesel::{DieselStore, JobContext, JobState, QueueStore, Runner, enqueue_in};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

diesel::table! {
    /// The application's own table.
    example_users (id) {
        /// The user's id.
        id -> BigInt,
        /// Where the welcome mail goes.
        email -> Text,
    }
}

/// Runs on a runner, with retries and backoff if it fails.
#[backtick_diesel::worker(name = "example.send_welcome_mail", queue = "mail", max_attempts = 5)]
async fn send_welcome_mail(ctx: &JobContext, user_id: i64, email: String) {
    println!("mail: welcome, {email} (user {user_id}), attempt {}", ctx.attempt());
}

/// Insert the user and enqueue the welcome mail in one transaction: both land, or neither.
async fn sign_up(conn: &mut AsyncPgConnection, email: &str) -> Result<i64, BoxError> {
    conn.transaction::<_, BoxError, _>(async |conn| {
        let id: i64 = diesel::insert_into(example_users::table)
            .values(example_users::email.eq(email))
            .returning(example_users::id)
            .get_result(conn)
            .await?;
        let mail = send_welcome_mail::job(id, email.to_owned()).into_new_job()?;
        enqueue_in(conn, mail).await?;
        Ok(id)
    })
    .await
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let store = DieselStore::from_env().await?; // BT_DATABASE_URL, else DATABASE_URL
    let applied = store.migrate().await?; // safe to run on every start, from every process
    println!("backtick schema ready ({} migrations applied now)", applied.len());

    let mut conn = store.pool().get().await?;
    conn.batch_execute(
        "CREATE TABLE IF NOT EXISTS example_users (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE)",
    )
    .await?;
    let run = std::process::id();
    for name in ["ada", "alan", "grace"] {
        let email = format!("{name}.{run}@example.com");
        let id = sign_up(&mut conn, &email).await?;
        println!("signed up {email} as user {id}");
    }
    // A second signup with a taken email fails: its transaction rolls back, mail included.
    let taken = format!("ada.{run}@example.com");
    match sign_up(&mut conn, &taken).await {
        Ok(id) => return Err(format!("{taken} signed up twice (user {id})").into()),
        Err(error) => println!("signup of {taken} refused, no mail enqueued: {error}"),
    }
    drop(conn);

    let store: Arc<dyn QueueStore> = Arc::new(store);
    let runner = Runner::builder(store.clone()).discovered().build()?.start();
    while store.count_by_state(Some("mail")).await?.get(JobState::Queued) > 0 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stats = runner.shutdown().await; // waits for the running mails
    let counts = store.count_by_state(Some("mail")).await?;
    println!(
        "runner stopped: {stats:?}; mail jobs done so far: {}",
        counts.get(JobState::Done)
    );
    Ok(())
}
