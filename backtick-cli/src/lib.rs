//! # backtick-cli
//!
//! The `backtick` command line: inspect and steer a backtick queue on PostgreSQL.
//!
//! ```text
//! backtick migrate up|down|status
//! backtick jobs list|show|retry|cancel|delete|run-now|enqueue
//! backtick queues list|pause|resume
//! backtick cron list|next|pause|resume|run|remove
//! backtick runners list
//! backtick prune --older-than 7d
//! backtick stats [--watch]
//! backtick doctor
//! backtick serve [--listen ADDR] [--read-only] [--auth basic|bearer] [--prefix PATH]
//! ```
//!
//! Every command but `migrate` (the schema) and `cron next` (no database) runs on the admin
//! API, [`backtick_core::QueueAdmin`], which [`connect::connect`] opens; the commands' logic
//! in [`commands`] takes it as `&dyn QueueAdmin` and writes to an [`output::Output`], so it is
//! tested in-process against the in-memory store. Human tables by default, `--json` for
//! scripts. Exit codes: 0 ok, 1 error, 2 usage.

pub mod cli;
pub mod commands;
pub mod connect;
pub mod error;
pub mod output;
pub mod views;

use std::io::Write;

use crate::cli::{Cli, Command, CronCommand};
use crate::error::CliError;
use crate::output::Output;

/// Run `cli`'s command, connecting to the database it names when the command needs one, and
/// write its output to `out`.
///
/// # Errors
/// The command's [`CliError`]; [`CliError::exit_code`] is the process's exit code.
pub async fn run(cli: &Cli, out: &mut dyn Write) -> Result<(), CliError> {
    let mut output = Output::new(out, cli.json);
    let url = || connect::database_url(cli.database_url.as_deref());
    match &cli.command {
        Command::Cron(CronCommand::Next { spec, count, tz }) => {
            commands::cron::next(spec, *count, tz, chrono::Utc::now(), &mut output)
        }
        Command::Migrate(command) => {
            let store = connect::connect_store(&url()?).await?;
            commands::migrate::run(&store, command, &mut output).await
        }
        Command::Serve(args) => {
            commands::serve::check(args)?;
            let admin = connect::connect(&url()?).await?;
            commands::serve::serve(admin, args, &mut output).await
        }
        Command::Doctor => {
            let url = url()?;
            let store = connect::connect_store(&url).await?;
            let admin = connect::connect(&url).await;
            let admin = admin.as_ref().map(|admin| admin.as_ref());
            commands::doctor::doctor(admin, Some(&store), &mut output).await
        }
        command => {
            let admin = connect::connect(&url()?).await?;
            commands::run_admin(admin.as_ref(), command, &mut output).await
        }
    }
}
