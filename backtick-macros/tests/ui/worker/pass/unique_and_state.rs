use backtick_core::{JobContext, State};

#[derive(Debug)]
struct Pool;

#[backtick_core::worker(unique(args, period = "1h", states = [queued, running, done]), queue = "sync")]
async fn sync_account(pool: State<Pool>, account: u64, ctx: JobContext) {
    let _ = (&*pool, account, ctx.attempt());
}

#[backtick_core::worker(unique(args = [account], period = 60000))]
async fn notify(account: u64, text: String, _config: backtick_core::State<String>) {
    let _ = (account, text);
}

#[backtick_core::worker(unique())]
async fn one_at_a_time() {}

fn main() {
    let _ = sync_account::job(7);
    let _ = notify::job(7, "hi".into());
    let _ = one_at_a_time::job();
}
