//! `completions SHELL` and `man`: generated from the clap definition, so they never
//! disagree with `--help`.

use clap::CommandFactory;

use crate::cli::args::Cli;
use crate::cli::{output, CliError};
use crate::exit::Exit;

pub fn completions(shell: clap_complete::Shell) -> Result<Exit, CliError> {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "mimecast-graph", &mut buf);
    output::print(&String::from_utf8_lossy(&buf))?;
    Ok(Exit::Success)
}

pub fn man() -> Result<Exit, CliError> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut buf)
        .map_err(CliError::failure)?;
    output::print(&String::from_utf8_lossy(&buf))?;
    Ok(Exit::Success)
}
