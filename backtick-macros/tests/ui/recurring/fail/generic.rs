#[backtick_core::recurring(every = "5m")]
async fn heartbeat<'a>() where 'a: 'static {}

fn main() {}
