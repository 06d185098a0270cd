// A malformed attribute and a bad signature are reported together.
#[backtick_core::worker(queue)]
fn send_mail<T>(to: T) {
    let _ = to;
}

fn main() {}
