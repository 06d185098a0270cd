#[backtick_core::recurring(every = "5m", tz = "Europe/London", catch_up = "all")]
async fn heartbeat() {}

fn main() {}
