//! `schema apply` and `schema docs`.

use std::path::Path;

use crate::cli::args::SchemaCommand;
use crate::cli::{load_config, output, CliError};
use crate::config::Needs;
use crate::exit::Exit;

pub async fn run(config: Option<&Path>, command: &SchemaCommand) -> Result<Exit, CliError> {
    match command {
        SchemaCommand::Docs => {
            output::print(&crate::schema::schema().markdown())?;
            Ok(Exit::Success)
        }
        SchemaCommand::Apply => {
            let config = load_config(config, Needs::Neo4j)?;
            let sink = crate::sink::Sink::connect(&config.neo4j).await?;
            let n = sink.apply_schema(crate::schema::schema()).await?;
            output::println(&format!(
                "schema applied at {}: {n} constraints and indexes present",
                config.neo4j.uri
            ))?;
            Ok(Exit::Success)
        }
    }
}
