//! `config check`: the configuration validated without network access, and described.

use std::path::Path;

use crate::cli::args::ConfigCommand;
use crate::cli::{load_config, output, render, CliError};
use crate::config::Needs;
use crate::exit::Exit;

pub fn run(config: Option<&Path>, command: &ConfigCommand) -> Result<Exit, CliError> {
    match command {
        ConfigCommand::Check => {
            let config = load_config(config, Needs::Both)?;
            output::print(&render::describe(&config))?;
            Ok(Exit::Success)
        }
    }
}
