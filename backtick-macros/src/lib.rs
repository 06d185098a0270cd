//! # backtick-macros
//!
//! The attribute macros of backtick, as the original's `define-worker`, `define-recurring` and
//! `define-cron`: [`macro@worker`], [`macro@recurring`] and [`macro@cron`]. Use them through
//! `backtick-core` or a backend crate (`backtick_postgres::worker`), which re-export them.
//!
//! Each leaves the function as it is (still callable) and adds a module of the same name next
//! to it (a function and a module may share a name). Generated code calls ordinary items of
//! `backtick_core::__private`, reached through whichever backtick crate your Cargo.toml depends
//! on (renames included), or through `crate = "..."`.

mod attr;
mod crate_path;
mod cron;
mod expand;
mod signature;
mod unique;

use proc_macro::TokenStream;

use crate::attr::Kind;

/// Turn an `async fn` into a backtick worker, as the original's `define-worker`.
///
/// The function stays a plain function. Its arguments are the job's arguments: serde types that
/// own their data, stored as a tuple in argument order (`(x, y)`; `(x,)` for one; `()` for none)
/// with the worker's codec. One argument may instead be the job's `JobContext` (by value or
/// `&`); it is not stored. The function returns `()`, `Result<(), JobError>` (to retry,
/// snooze, discard or cancel), or `Result<(), E>` for any `E` that converts into
/// `Box<dyn std::error::Error + Send + Sync>`: `anyhow::Result<()>`, an eyre report, a boxed
/// error, your own error enum. Such an error, `?` included, is a retryable failure.
///
/// Next to the function, a module of the same name holds:
///
/// | item | what it is |
/// |---|---|
/// | `NAME: &str` | the worker's name (jobs are stored under it) |
/// | `worker() -> impl Worker` | the worker, for explicit registration |
/// | `job(args...) -> TypedJob` | a job builder: `.run_after(d)`, `.run_at(t)`, `.queue(q)`, `.priority(p)`, `.max_attempts(n)`, `.unique_key(k)`, then `.enqueue(&store)` or `.into_new_job()` |
/// | `schedule(&store, args...)` | enqueue a job due now, as the original's `(schedule log-sum 3 4)` |
/// | `schedule_many(&store, items)` | enqueue many in one atomic write; an item is the argument, or a tuple of them |
///
/// The worker is also submitted for discovery: `Runner::builder(store).discovered()` registers
/// every annotated function of the program (two workers with one name fail there).
///
/// # Options
///
/// | option | default | meaning |
/// |---|---|---|
/// | `name = "..."` | `module_path!()` + `::` + function name | the stored worker name; pin it so that moving the function does not orphan queued jobs |
/// | `queue = "..."` | `"default"` | the queue its jobs go to |
/// | `max_attempts = n` | 20 | attempts before a job goes dead (1 or more) |
/// | `priority = n` | 0 | lower runs first (`i16`) |
/// | `timeout = "30s"` | the runner's `job_timeout` | how long one run may take: `"30s"`, `"5m"`, `"1h 30m"`, or whole milliseconds |
/// | `codec = "cbor" \| "json"` | `"cbor"` | how the arguments are stored |
/// | `crate = "path"` | found in Cargo.toml | the backtick crate generated code goes through, when renamed or re-exported |
///
/// Every bad option and signature problem is reported at once, pointing at the offending token.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::{JobContext, JobError, QueueStore};
///
/// #[backtick_postgres::worker(queue = "math", max_attempts = 5, timeout = "30s")]
/// async fn log_sum(x: i64, y: i64) -> Result<(), JobError> {
///     println!("sum {x} + {y} = {}", x + y);
///     Ok(())
/// }
///
/// #[backtick_postgres::worker(name = "mail.send", codec = "json")]
/// async fn send_mail(ctx: &JobContext, to: String) {
///     println!("attempt {} to {to}", ctx.attempt());
/// }
///
/// async fn enqueue(store: &dyn QueueStore) -> Result<(), backtick_postgres::Error> {
///     log_sum::schedule(store, 3, 4).await?;
///     log_sum::job(88, 99).run_after(std::time::Duration::from_secs(60)).enqueue(store).await?;
///     send_mail::schedule_many(store, ["ada@example.com".to_owned(), "alan@example.com".to_owned()]).await?;
///     Ok(())
/// }
///
/// # fn main() {
/// assert_eq!(send_mail::NAME, "mail.send");
/// assert!(log_sum::NAME.ends_with("::log_sum"));
/// # }
/// ```
#[proc_macro_attribute]
pub fn worker(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Worker, args, item)
}

/// A worker that runs every fixed interval, as the original's `define-recurring`.
///
/// On an `async fn` with no job arguments (a `JobContext` argument is allowed). Everything
/// [`macro@worker`] generates is generated too, plus `periodic() -> Result<Periodic, Error>`,
/// and the schedule is submitted for discovery: `Runner::builder(store).discovered()` fires it.
/// Each interval is counted from the previous fire time; every runner may fire it, and each fire
/// time enqueues exactly one job.
///
/// # Options
///
/// | option | default | meaning |
/// |---|---|---|
/// | `every = "5m"` | required | the interval: `"30s"`, `"5m"`, `"1h 30m"`, or whole milliseconds (`every = 300000`), at least 1ms |
/// | `catch_up = "once" \| "skip"` | `"once"` | fires missed while no runner was up: one catch-up run, or none |
///
/// and every option of [`macro@worker`].
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// #[backtick_postgres::recurring(every = "5m")]
/// async fn heartbeat() {
///     println!("heartbeat");
/// }
///
/// #[backtick_postgres::recurring(every = 300000, catch_up = "skip", queue = "maintenance")]
/// async fn refresh_cache(ctx: backtick_postgres::JobContext) {
///     println!("refreshing, attempt {}", ctx.attempt());
/// }
///
/// # fn main() -> Result<(), backtick_postgres::Error> {
/// assert_eq!(heartbeat::periodic()?.spec, "every 5m");
/// assert_eq!(refresh_cache::periodic()?.spec, "every 5m");
/// # Ok(())
/// # }
/// ```
#[proc_macro_attribute]
pub fn recurring(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Recurring, args, item)
}

/// A worker that runs at wall-clock times, as the original's `define-cron`.
///
/// The first argument is the spec: six fields, `second minute hour day-of-month month
/// day-of-week`, or a macro such as `@daily` (backtick's cron dialect, see `backtick-cron`). It
/// is checked at compile time, and an error points at it and names the bad field. On an
/// `async fn` with no job arguments (a `JobContext` argument is allowed). Generates what
/// [`macro@recurring`] does.
///
/// # Options
///
/// | option | default | meaning |
/// |---|---|---|
/// | `tz = "America/Los_Angeles"` | `"UTC"` | the IANA time zone the wall times are in (checked at compile time) |
/// | `catch_up = "once" \| "skip"` | `"once"` | fires missed while no runner was up: one catch-up run, or none |
///
/// and every option of [`macro@worker`].
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// #[backtick_postgres::cron("0 0 14,16 * * *")]
/// async fn twice_in_the_afternoon() {
///     println!("do a thing");
/// }
///
/// #[backtick_postgres::cron("0 30 9 * * MON-FRI", tz = "America/Los_Angeles", catch_up = "skip")]
/// async fn standup() -> Result<(), backtick_postgres::JobError> {
///     Ok(())
/// }
///
/// # fn main() -> Result<(), backtick_postgres::Error> {
/// assert_eq!(twice_in_the_afternoon::periodic()?.spec, "cron 0 0 14,16 * * * UTC");
/// assert_eq!(standup::periodic()?.spec, "cron 0 30 9 * * MON-FRI America/Los_Angeles");
/// # Ok(())
/// # }
/// ```
#[proc_macro_attribute]
pub fn cron(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Cron, args, item)
}

/// Run one expansion; on error, keep the function (so its callers do not fail too) and add
/// every error found.
fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    match expand::expand(kind, args.into(), item.clone().into()) {
        Ok(tokens) => tokens.into(),
        Err(error) => {
            let mut out: proc_macro2::TokenStream = item.into();
            out.extend(error.to_compile_error());
            out.into()
        }
    }
}
