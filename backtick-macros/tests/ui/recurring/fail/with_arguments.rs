#[backtick_core::recurring(every = "5m")]
async fn heartbeat(target: String, retries: u8) {
    let _ = (target, retries);
}

fn main() {}
