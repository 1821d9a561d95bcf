//! The `kubectl-gitrollout` executable, found by kubectl as the `gitrollout` plugin.

use std::io::{self, BufWriter, IsTerminal};
use std::process::ExitCode;

use clap::Parser;
use jiff::Timestamp;
use kubectl_gitrollout::cli::{Cli, argv};
use kubectl_gitrollout::hints::hint;
use kubectl_gitrollout::ui::Ui;
use kubectl_gitrollout::{Differs, UsageError, run};

fn main() -> ExitCode {
    let cli = Cli::parse_from(argv(std::env::args_os()));
    let stdout = io::stdout();
    let stderr = io::stderr();
    let color = !cli.global.no_color
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && stdout.is_terminal();
    let live_progress = stderr.is_terminal();
    let mut out = BufWriter::new(stdout.lock());
    let mut err = stderr.lock();
    let mut ui = Ui::new(&mut out, &mut err, Timestamp::now())
        .with_color(color)
        .with_live_progress(live_progress);
    let result = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(run(cli, &mut ui)),
        Err(err) => Err(anyhow::Error::new(err).context("could not start")),
    };
    let result = result.and_then(|()| Ok(ui.flush()?));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) if err.is::<Differs>() => ExitCode::FAILURE,
        Err(err) => {
            // Whatever was written before the error goes first; the error is the last line.
            let _ = ui.flush();
            let _ = ui.note(format_args!("error: {err:#}"));
            if let Some(hint) = hint(&err) {
                let _ = ui.note(format_args!("hint: {hint}"));
            }
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
