#[backtick_core::worker(queue = "a", queue = "b", max_attempts = "3")]
async fn send_mail(to: String) {
    let _ = to;
}

fn main() {}
