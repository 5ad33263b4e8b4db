//! The `mimecast-graph` binary: parse, set up logging, run, exit with a named code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = mimecast_graph::cli::Cli::parse();
    mimecast_graph::cli::main(cli).into()
}
