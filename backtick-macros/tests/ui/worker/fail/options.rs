// Every bad option is reported at once, each at its own token.
#[backtick_core::worker(
    queu = "mail",
    codec = "xml",
    max_attempts = 0,
    priority = 40000,
    timeout = "30 parsecs",
    name = "",
    every = "5m",
)]
async fn send_mail(to: String) {
    let _ = to;
}

fn main() {}
