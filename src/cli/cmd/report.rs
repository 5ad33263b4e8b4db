//! `report --out DIR [--account CODE] [--framework F]`.

use std::path::Path;

use crate::cli::args::ReportArgs;
use crate::cli::{load_config, load_queries, output, CliError};
use crate::config::Needs;
use crate::exit::Exit;
use crate::report::{self, Options};

pub async fn run(config: Option<&Path>, args: &ReportArgs) -> Result<Exit, CliError> {
    let mut config = load_config(config, Needs::Neo4j)?;
    if args.queries_dir.is_some() {
        config.queries_dir = args.queries_dir.clone();
    }
    let defs = load_queries(&config)?;
    let sink = crate::sink::Sink::connect(&config.neo4j).await?;
    let options = Options {
        account: args.account.clone(),
        framework: args.framework,
    };
    let gathered = report::gather(&sink, &defs, &options).await?;
    let written = report::write(&args.out, &gathered)?;
    let index = written.dir.join("index.html");
    output::println(&format!(
        "report: {} ({} files, {} account(s))\nmanifest.json sha256 {}",
        index.display(),
        written.files.len() + 1,
        gathered.accounts.len(),
        written.manifest_sha256
    ))?;
    Ok(Exit::Success)
}
