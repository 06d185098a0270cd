#[backtick_core::worker]
fn log_sum(x: i64, y: i64) {
    println!("{}", x + y);
}

fn main() {}
