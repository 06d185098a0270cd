// Every bad `unique(...)` item is reported at once, each at its own token.
#[backtick_core::worker(unique(
    args = [acount],
    period = "1 fortnight",
    states = [queued, finished],
    by = "args",
))]
async fn sync_account(account: u64) {
    let _ = account;
}

// Unique states must include queued and running.
#[backtick_core::worker(unique(args, states = [queued]))]
async fn only_queued(account: u64) {
    let _ = account;
}

// `unique` takes a list, not a value; and periodic workers do not take it.
#[backtick_core::worker(unique = "args")]
async fn with_value(account: u64) {
    let _ = account;
}

#[backtick_core::recurring(every = "1h", unique(period = "1h"))]
async fn hourly() {}

fn main() {}
