//! `validate`: each connection's credentials and product access, then Neo4j.

use std::path::Path;

use crate::cli::{load_tenants_config, output, CliError};
use crate::config::Needs;
use crate::exit::Exit;
use crate::validate::Health;

pub async fn run(config: Option<&Path>) -> Result<Exit, CliError> {
    let config = load_tenants_config(config, Needs::Both)?;
    let report = crate::validate::validate(&config).await;
    output::print(&report.table())?;
    Ok(match report.health() {
        Health::Healthy => Exit::Success,
        Health::MimecastFailed => Exit::Mimecast,
        Health::Neo4jFailed => Exit::Neo4j,
    })
}
