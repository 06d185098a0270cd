#[backtick_core::recurring]
async fn heartbeat() {}

#[backtick_core::recurring(queue = "maintenance")]
async fn cleanup() {}

fn main() {}
