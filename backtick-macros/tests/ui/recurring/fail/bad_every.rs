#[backtick_core::recurring(every = "5 parsecs")]
async fn heartbeat() {}

#[backtick_core::recurring(every = 0)]
async fn never_waits() {}

#[backtick_core::recurring(every = "300000")]
async fn no_unit() {}

#[backtick_core::recurring(every = five_minutes)]
async fn not_a_literal() {}

fn main() {}
