#[backtick_core::recurring(every = "5m")]
fn heartbeat() {}

fn main() {}
