use std::rc::Rc;

#[backtick_core::worker]
async fn hold_rc(n: u32) {
    let shared = Rc::new(n);
    tokio_free_yield().await;
    let _ = shared;
}

async fn tokio_free_yield() {}

fn main() {}
