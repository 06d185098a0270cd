#[backtick_core::worker(crate = "not_backtick")]
async fn send_mail(to: String) {
    let _ = to;
}

#[backtick_core::worker(crate = "not a path")]
async fn send_sms(to: String) {
    let _ = to;
}

fn main() {}
