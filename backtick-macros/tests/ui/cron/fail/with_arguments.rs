#[backtick_core::cron("@hourly")]
async fn hourly(ctx: backtick_core::JobContext, region: String) {
    let _ = (ctx, region);
}

fn main() {}
