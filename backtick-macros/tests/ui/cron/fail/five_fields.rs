#[backtick_core::cron("*/5 * * * *")]
async fn crontab_style() {}

fn main() {}
