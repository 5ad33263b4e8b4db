//! `config check`: the configuration validated without network access, and described;
//! each roster and extra-completions file it names is read and every problem in it
//! reported, as a sync would meet them.

use std::path::Path;

use crate::cli::args::ConfigCommand;
use crate::cli::{load_config, output, render, CliError};
use crate::compliance::{completions, roster};
use crate::config::{Config, Needs};
use crate::exit::Exit;

pub fn run(config: Option<&Path>, command: &ConfigCommand) -> Result<Exit, CliError> {
    match command {
        ConfigCommand::Check => {
            let config = load_config(config, Needs::Both)?;
            output::print(&render::describe(&config))?;
            let problems = check_rosters(&config)?;
            if problems.is_empty() {
                return Ok(Exit::Success);
            }
            let listed: Vec<String> = problems.iter().map(|p| format!("  - {p}")).collect();
            Err(CliError::new(
                Exit::Config,
                anyhow::anyhow!(
                    "{} problem(s) in the files the configuration names:\n{}",
                    problems.len(),
                    listed.join("\n")
                ),
            ))
        }
    }
}

/// Reads every roster once (connections may share one) and returns its problems.
fn check_rosters(config: &Config) -> Result<Vec<String>, CliError> {
    let mut problems = Vec::new();
    let mut seen = Vec::new();
    for c in &config.connections {
        let Some(path) = &c.compliance.roster else { continue };
        if seen.contains(&(path, &c.compliance.domain_aliases)) {
            continue;
        }
        seen.push((path, &c.compliance.domain_aliases));
        match roster::read_all(path, &c.compliance.domain_aliases) {
            Ok(checked) => {
                output::println(&format!(
                    "roster {}: {} people, {} bad line(s)",
                    path.display(),
                    checked.people.len(),
                    checked.errors.len()
                ))?;
                problems.extend(checked.errors.iter().map(ToString::to_string));
            }
            Err(e) => problems.push(e.to_string()),
        }
    }
    let mut seen = Vec::new();
    for c in &config.connections {
        let Some(path) = &c.compliance.extra_completions else {
            continue;
        };
        if seen.contains(&(path, &c.compliance.domain_aliases)) {
            continue;
        }
        seen.push((path, &c.compliance.domain_aliases));
        match completions::read_all(path, &c.compliance.domain_aliases) {
            Ok(checked) => {
                output::println(&format!(
                    "extra completions {}: {} completions, {} bad line(s)",
                    path.display(),
                    checked.completions.len(),
                    checked.errors.len()
                ))?;
                problems.extend(checked.errors.iter().map(ToString::to_string));
            }
            Err(e) => problems.push(e.to_string()),
        }
    }
    Ok(problems)
}
