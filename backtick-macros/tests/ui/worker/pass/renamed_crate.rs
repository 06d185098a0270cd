// As serde's test_serde_path: generated code goes through the path given as `crate`.
mod wrapper {
    pub mod jobs {
        pub use backtick_core::*;
    }
}

use backtick_core as bt;

#[bt::worker(crate = "crate::wrapper::jobs")]
async fn through_a_wrapper(n: u8) {
    let _ = n;
}

#[bt::recurring(every = "1m", crate = "wrapper::jobs")]
async fn relative_path() {}

fn main() {
    let _job = through_a_wrapper::job(1);
    let _ = relative_path::periodic;
}
