#[backtick_core::cron("0 0 25 * * *")]
async fn at_hour_25() {}

fn main() {}
