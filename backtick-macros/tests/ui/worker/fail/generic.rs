#[backtick_core::worker]
async fn store_it<T: serde::Serialize>(value: T) {
    let _ = value;
}

fn main() {}
