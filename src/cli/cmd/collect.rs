//! `collect --out DIR`: fetch, build and validate; write graph.json, summary.json and
//! findings.ocsf.jsonl.

use std::path::Path;

use crate::cli::args::CollectArgs;
use crate::cli::{load_tenants_config, output, CliError};
use crate::collect::{Collection, RunStatus};
use crate::config::Needs;
use crate::exit::Exit;

pub async fn run(config: Option<&Path>, args: &CollectArgs) -> Result<Exit, CliError> {
    let config = load_tenants_config(config, Needs::Mimecast)?;
    let progress = crate::steps::TerminalProgress::new();
    let collection = crate::collect::collect(&config, &crate::collect::all_steps(), &progress).await;
    collection.write_files(&args.out).map_err(CliError::failure)?;
    output::print(&collection.human())?;
    output::println(&format!(
        "wrote {} ({} entities, {} relationships), {} and {}",
        args.out.join("graph.json").display(),
        collection.store.entity_count(),
        collection.store.relationship_count(),
        args.out.join("summary.json").display(),
        args.out.join(crate::collect::FINDINGS_FILE).display()
    ))?;
    Ok(exit(&collection))
}

/// The exit code of a collection, before anything is written to Neo4j.
pub fn exit(c: &Collection) -> Exit {
    if c.policy_violation.is_some() {
        return Exit::Policy;
    }
    match c.status() {
        RunStatus::Success => Exit::Success,
        RunStatus::Partial => Exit::Partial,
        RunStatus::Failed => Exit::Mimecast,
    }
}
