//! The `backtick` binary: parse the command line, run the command, map the outcome to an
//! exit code (0 ok, 1 error, 2 usage; clap exits 2 itself on a usage error).

use std::io::Write;
use std::process::ExitCode;

use backtick_cli::cli::Cli;
use clap::Parser;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = runtime.block_on(backtick_cli::run(&cli, &mut out));
    // A failed flush (a closed pipe) is not worth a second error message.
    let _ = out.flush();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", error.one_line());
            ExitCode::from(error.exit_code())
        }
    }
}
