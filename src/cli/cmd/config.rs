//! `config check`: the configuration validated without network access, and described;
//! each roster and extra-completions file it names is read and every problem in it
//! reported, as a sync would meet them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::cli::args::ConfigCommand;
use crate::cli::{load_config, output, render, CliError};
use crate::compliance::{completions, roster};
use crate::config::{ComplianceConfig, Config, Needs};
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

/// Reads every roster and extra-completions file once (connections may share one),
/// prints a line on each, and returns the problems of their bad lines.
fn check_rosters(config: &Config) -> Result<Vec<String>, CliError> {
    let mut problems = Vec::new();
    check_files(
        config,
        |c| c.roster.as_ref(),
        |path, aliases| {
            let checked = roster::read_all(path, aliases).map_err(|e| e.to_string())?;
            let line = format!(
                "roster {}: {} people, {} bad line(s)",
                path.display(),
                checked.people.len(),
                checked.errors.len()
            );
            Ok((line, checked.errors.iter().map(ToString::to_string).collect()))
        },
        &mut problems,
    )?;
    check_files(
        config,
        |c| c.extra_completions.as_ref(),
        |path, aliases| {
            let checked = completions::read_all(path, aliases).map_err(|e| e.to_string())?;
            let line = format!(
                "extra completions {}: {} completions, {} bad line(s)",
                path.display(),
                checked.completions.len(),
                checked.errors.len()
            );
            Ok((line, checked.errors.iter().map(ToString::to_string).collect()))
        },
        &mut problems,
    )?;
    Ok(problems)
}

/// A summary line and the problems of one file, or why it could not be read at all.
type Checked = Result<(String, Vec<String>), String>;

/// Reads the file `path_of` names for each connection once per (file, domain aliases).
fn check_files(
    config: &Config,
    path_of: impl Fn(&ComplianceConfig) -> Option<&PathBuf>,
    read: impl Fn(&Path, &BTreeMap<String, String>) -> Checked,
    problems: &mut Vec<String>,
) -> Result<(), CliError> {
    let mut seen = Vec::new();
    for c in &config.connections {
        let Some(path) = path_of(&c.compliance) else { continue };
        let aliases = &c.compliance.domain_aliases;
        if seen.contains(&(path, aliases)) {
            continue;
        }
        seen.push((path, aliases));
        match read(path, aliases) {
            Ok((line, bad)) => {
                output::println(&line)?;
                problems.extend(bad);
            }
            Err(e) => problems.push(e),
        }
    }
    Ok(())
}
