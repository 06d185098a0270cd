use backtick_core::JobContext;

#[backtick_core::worker]
async fn twice(first: &mut JobContext, second: JobContext) {
    let _ = (first, second);
}

fn main() {}
