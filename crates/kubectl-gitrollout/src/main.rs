//! `kubectl gitrollout`: a rollout history for Kubernetes workloads that behaves like git.

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "kubectl gitrollout",
    version,
    about,
    bin_name = "kubectl gitrollout"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the version of kubectl-gitrollout
    Version,
}

fn main() {
    match Cli::parse().command {
        Command::Version => println!("kubectl-gitrollout {}", env!("CARGO_PKG_VERSION")),
    }
}
