#[backtick_core::cron("@daily", tz = "america/los_angeles")]
async fn wrong_case() {}

#[backtick_core::cron("@daily", tz = "Mars/Olympus_Mons")]
async fn not_a_zone() {}

fn main() {}
