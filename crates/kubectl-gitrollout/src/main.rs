//! The `kubectl-gitrollout` executable, found by kubectl as the `gitrollout` plugin.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use jiff::Timestamp;
use kubectl_gitrollout::cli::Cli;
use kubectl_gitrollout::{Look, UsageError, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = io::stdout();
    let color = !cli.global.no_color
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && stdout.is_terminal();
    let look = Look {
        now: Timestamp::now(),
        color,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: could not start: {err}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = BufWriter::new(stdout.lock());
    let result = runtime
        .block_on(run(cli, &mut out, look))
        .and_then(|()| Ok(out.flush()?));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            if err.is::<UsageError>() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// A reader that went away (`| head`) is not an error.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}
