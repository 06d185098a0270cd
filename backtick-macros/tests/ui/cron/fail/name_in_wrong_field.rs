#[backtick_core::cron("0 0 12 * MON *")]
async fn monday_in_the_month_field() {}

#[backtick_core::cron("0 0 12 1,,2 * *")]
async fn empty_list_element() {}

#[backtick_core::cron("@fortnightly")]
async fn unknown_macro() {}

fn main() {}
