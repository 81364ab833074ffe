//! The `isomail` binary: parse the command line, run, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    match isomail::run(isomail::cli::Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("isomail: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}
