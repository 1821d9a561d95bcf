//! The one output handle every command writes through: results to `out`, notes, warnings and
//! progress to `err`. Nothing else in the binary prints, and nothing here reads the clock: `now`
//! is read once, by `main`.

use std::fmt::Display;
use std::io::{self, Write};

use jiff::Timestamp;

/// Where a command's output goes, and how it looks.
pub struct Ui<'a> {
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
    /// The clock reading ages are computed against.
    pub now: Timestamp,
    /// Whether to colour `out`.
    pub color: bool,
    /// Whether `err` is a terminal, where progress rewrites one line in place.
    live_progress: bool,
    /// Whether a progress line is on the terminal and not yet ended.
    progress_open: bool,
}

impl std::fmt::Debug for Ui<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ui")
            .field("now", &self.now)
            .field("color", &self.color)
            .field("live_progress", &self.live_progress)
            .finish_non_exhaustive()
    }
}

impl<'a> Ui<'a> {
    pub fn new(out: &'a mut dyn Write, err: &'a mut dyn Write, now: Timestamp) -> Self {
        Ui {
            out,
            err,
            now,
            color: false,
            live_progress: false,
            progress_open: false,
        }
    }

    /// Colours `out` (on a terminal only: `main` decides).
    pub fn with_color(mut self, color: bool) -> Self {
        self.color = color;
        self
    }

    /// Rewrites progress in place, for a terminal on `err`.
    pub fn with_live_progress(mut self, live: bool) -> Self {
        self.live_progress = live;
        self
    }

    /// The command's result stream.
    pub fn out(&mut self) -> &mut dyn Write {
        &mut *self.out
    }

    /// A line for the user that is not the result: what happened, what was not done.
    pub fn note(&mut self, message: impl Display) -> io::Result<()> {
        self.end_progress()?;
        writeln!(self.err, "{message}")
    }

    /// `warning: ...` on the error stream.
    pub fn warn(&mut self, message: impl Display) -> io::Result<()> {
        self.note(format_args!("warning: {message}"))
    }

    /// The current state of something being waited for: one line rewritten in place on a
    /// terminal, a line per change otherwise.
    pub fn progress(&mut self, line: &str) -> io::Result<()> {
        if self.live_progress {
            write!(self.err, "\r\x1b[K{line}")?;
            self.progress_open = true;
            self.err.flush()
        } else {
            writeln!(self.err, "{line}")
        }
    }

    /// Ends a progress line left open on a terminal.
    pub fn end_progress(&mut self) -> io::Result<()> {
        if std::mem::take(&mut self.progress_open) {
            writeln!(self.err)?;
        }
        Ok(())
    }

    /// Flushes both streams.
    pub fn flush(&mut self) -> io::Result<()> {
        self.end_progress()?;
        self.out.flush()?;
        self.err.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: &[u8]) -> &str {
        std::str::from_utf8(bytes).unwrap_or("<not utf-8>")
    }

    #[test]
    fn progress_is_rewritten_on_a_terminal_and_ended_before_a_note() {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut ui = Ui::new(&mut out, &mut err, Timestamp::UNIX_EPOCH).with_live_progress(true);
        ui.progress("1 of 3")
            .and_then(|()| ui.progress("2 of 3"))
            .ok();
        ui.note("done").ok();
        assert_eq!(text(&err), "\r\x1b[K1 of 3\r\x1b[K2 of 3\ndone\n");
    }

    #[test]
    fn progress_is_a_line_per_change_elsewhere() {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut ui = Ui::new(&mut out, &mut err, Timestamp::UNIX_EPOCH);
        ui.progress("1 of 3").ok();
        ui.warn("slow").ok();
        writeln!(ui.out(), "result").ok();
        assert_eq!(text(&err), "1 of 3\nwarning: slow\n");
        assert_eq!(text(&out), "result\n");
    }
}
