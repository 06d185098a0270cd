use backtick_testkit::assert::work_job;

#[backtick_postgres::worker]
async fn double(x: i64) -> Result<(), backtick_postgres::JobError> {
    if x < 0 {
        return Err(backtick_postgres::JobError::discard("negative"));
    }
    Ok(())
}

async fn double_accepts_positive_numbers() {
    let run = work_job(&double::worker(), &(21,)).await; // no runner, no database
    assert!(run.is_completed());
}
fn main() {
    tokio::runtime::Runtime::new().unwrap().block_on(double_accepts_positive_numbers());
}
