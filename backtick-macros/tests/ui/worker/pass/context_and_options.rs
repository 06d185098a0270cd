use backtick_core::{JobContext, JobError};

#[derive(serde::Serialize, serde::Deserialize)]
struct Email {
    to: String,
}

#[backtick_core::worker(
    name = "mail.send",
    queue = "mail",
    max_attempts = 3,
    priority = -5,
    timeout = "1h 30m",
    codec = "json",
)]
async fn send_mail(ctx: &JobContext, email: Email, cc: Option<Vec<String>>) -> Result<(), JobError> {
    let _ = (ctx.attempt(), email.to, cc);
    Ok(())
}

#[backtick_core::worker(timeout = 1500, codec = "cbor")]
async fn by_value(_ctx: backtick_core::JobContext, mut counter: u32) -> Result<(), std::io::Error> {
    counter += 1;
    let _ = counter;
    Ok(())
}

fn main() {
    assert_eq!(send_mail::NAME, "mail.send");
    let _job = send_mail::job(Email { to: "ada@example.com".into() }, None);
    let _job = by_value::job(1);
}
