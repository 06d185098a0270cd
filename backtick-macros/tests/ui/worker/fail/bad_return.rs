#[backtick_core::worker]
async fn count(table: String) -> usize {
    table.len()
}

fn main() {}
