#[backtick_core::cron]
async fn no_spec() {}

#[backtick_core::cron(tz = "UTC")]
async fn only_options() {}

#[backtick_core::cron(tz = "UTC", "@daily")]
async fn spec_after_options() {}

fn main() {}
