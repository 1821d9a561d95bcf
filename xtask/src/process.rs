//! Background processes tracked by pid files.
//!
//! A pid file holds the pid and the process's start time (field 22 of `/proc/<pid>/stat`), so a
//! pid the kernel has since given to another process is never taken for ours, and nothing is ever
//! looked up or stopped by name.

use std::fs::{self, File};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// A process this tool started, identified by its pid file.
#[derive(Debug, Clone)]
pub struct Tracked {
    pub name: &'static str,
    pub pid_file: PathBuf,
    pub log: PathBuf,
}

impl Tracked {
    pub fn new(dir: &Path, name: &'static str) -> Self {
        Tracked {
            name,
            pid_file: dir.join(format!("{name}.pid")),
            log: dir.join(format!("{name}.log")),
        }
    }

    /// Starts `cmd` detached from the terminal (its own process group, so a Ctrl-C at the prompt
    /// does not reach it), with stdout and stderr appended to the log, and records its pid.
    pub fn spawn(&self, cmd: &mut Command) -> Result<Child> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("could not open {}", self.log.display()))?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .with_context(|| format!("could not start {}", self.name))?;
        // Read even from a process that already exited: the caller reports its log.
        let (_, started) = stat(child.id()).context("the process vanished at once")?;
        fs::write(&self.pid_file, format!("{} {started}\n", child.id()))?;
        Ok(child)
    }

    /// The pid of the recorded process, if that very process still runs.
    pub fn running_pid(&self) -> Option<u32> {
        let recorded = fs::read_to_string(&self.pid_file).ok()?;
        let mut fields = recorded.split_whitespace();
        let pid: u32 = fields.next()?.parse().ok()?;
        let started: u64 = fields.next()?.parse().ok()?;
        let alive = stat(pid).is_some_and(|(state, time)| state != "Z" && time == started);
        alive.then_some(pid)
    }

    /// Stops the recorded process: SIGTERM, then SIGKILL after a grace period. Returns whether it
    /// was running.
    pub fn stop(&self) -> Result<bool> {
        let Some(pid) = self.running_pid() else {
            let _ = fs::remove_file(&self.pid_file);
            return Ok(false);
        };
        let target = Pid::from_raw(i32::try_from(pid)?);
        let _ = kill(target, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.running_pid().is_some() && Instant::now() < deadline {
            sleep(Duration::from_millis(100));
        }
        if self.running_pid().is_some() {
            let _ = kill(target, Signal::SIGKILL);
            while self.running_pid().is_some() {
                sleep(Duration::from_millis(50));
            }
        }
        fs::remove_file(&self.pid_file)?;
        Ok(true)
    }

    /// The last `lines` lines of the log, to show why a component failed.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

/// The state (`R`, `S`, `Z`, ...) and start time, in clock ticks since boot, of a process.
fn stat(pid: u32) -> Option<(String, u64)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces; fields after it are plain.
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // `fields[0]` is field 3 (state); the start time is field 22.
    Some((fields.first()?.to_string(), fields.get(19)?.parse().ok()?))
}
