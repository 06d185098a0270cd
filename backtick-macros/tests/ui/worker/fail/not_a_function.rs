#[backtick_core::worker]
struct SendMail {
    to: String,
}

fn main() {}
