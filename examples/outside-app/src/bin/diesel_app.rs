use backtick_diesel::{DieselStore, QueueStore, Runner, enqueue_in};
use diesel_async::AsyncConnection;

#[backtick_diesel::worker(queue = "mail", max_attempts = 5)]
async fn send_welcome_mail(user_id: i64, email: String) {
    println!("welcome, {email} (user {user_id})");
}

async fn example() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
let store = DieselStore::from_env().await?; // BT_DATABASE_URL, else DATABASE_URL
store.migrate().await?;
let mut conn = store.pool().get().await?;
conn.transaction::<_, Box<dyn std::error::Error + Send + Sync>, _>(async |conn| {
    let user_id = 42; // ... your own diesel writes on `conn` ...
    enqueue_in(conn, send_welcome_mail::job(user_id, "ada@example.com".into()).into_new_job()?).await?;
    Ok(())
})
.await?; // the job exists only if this commits
let runner = Runner::builder(std::sync::Arc::new(store)).discovered().build()?.start();
runner.shutdown().await;
Ok(())
}
fn main() {}
