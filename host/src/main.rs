//! The `isomail` binary: parse the command line, run, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    restore_sigpipe();
    match isomail::run(isomail::cli::Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // The last line of defence: whatever an error quotes, no escape sequence reaches
            // the terminal.
            eprintln!(
                "isomail: {}",
                isomail::term::inert_keeping_lines(&isomail::chain(&err))
            );
            ExitCode::from(err.exit_code())
        }
    }
}

/// Rust ignores SIGPIPE, which turns `isomail status | head` into a panic on the next print.
/// Restore the default so the process ends quietly when its reader goes away, like any filter.
fn restore_sigpipe() {
    const SIGPIPE: i32 = 13;
    const SIG_DFL: usize = 0;
    unsafe extern "C" {
        fn signal(signum: i32, handler: usize) -> usize;
    }
    // SAFETY: setting SIGPIPE to its default disposition, before any thread is started.
    unsafe {
        signal(SIGPIPE, SIG_DFL);
    }
}
