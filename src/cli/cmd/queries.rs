//! `queries list | show ID | run ID... | run --all | diff`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context as _;
use serde_json::Value as Json;

use crate::cli::args::{DiffArgs, Format, QueriesArgs, QueriesCommand, RunQueriesArgs};
use crate::cli::{load_config, load_queries, output, render, CliError};
use crate::config::{Config, Needs};
use crate::exit::Exit;
use crate::queries::{self as q, drift, QueryDef, QueryError};

pub async fn run(config: Option<&Path>, args: QueriesArgs) -> Result<Exit, CliError> {
    let needs = match args.command {
        QueriesCommand::Run(_) | QueriesCommand::Diff(_) => Needs::Neo4j,
        _ => Needs::Nothing,
    };
    let mut config = load_config(config, needs)?;
    if args.queries_dir.is_some() {
        config.queries_dir = args.queries_dir.clone();
    }
    let defs = load_queries(&config)?;
    let find = |id: &str| {
        defs.iter()
            .find(|d| d.id == id)
            .ok_or_else(|| QueryError::Unknown(id.to_owned()))
    };
    match args.command {
        QueriesCommand::List => {
            let lines: String = defs
                .iter()
                .map(|d| format!("{:<28} {:<9} {}\n", d.id, d.severity, d.title))
                .collect();
            output::print(&lines)?;
            Ok(Exit::Success)
        }
        QueriesCommand::Show { id } => {
            output::print(&render::query_definition(find(&id)?))?;
            Ok(Exit::Success)
        }
        QueriesCommand::Run(run) => {
            let mut selected: Vec<&QueryDef> = if run.ids.is_empty() {
                // Most severe first, so the findings that matter lead the output.
                let mut all: Vec<&QueryDef> = defs.iter().collect();
                all.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.id.cmp(&b.id)));
                all
            } else {
                run.ids.iter().map(|id| find(id)).collect::<Result<_, _>>()?
            };
            if let Some(f) = run.framework {
                selected.retain(|d| d.maps_to(f));
                if selected.is_empty() {
                    return Err(CliError::usage(format!(
                        "no selected query maps to a {} control",
                        f.prefix()
                    )));
                }
            }
            run_queries(&config, &selected, &run).await
        }
        QueriesCommand::Diff(diff) => findings_diff(&config, &defs, &diff).await,
    }
}

/// `queries diff`: what changed in each rule's findings between two recorded syncs.
async fn findings_diff(config: &Config, defs: &[QueryDef], args: &DiffArgs) -> Result<Exit, CliError> {
    let sink = crate::sink::Sink::connect(&config.neo4j).await?;
    if let Some(account) = &args.account {
        let known = sink.account_codes().await?;
        if !known.contains(account) {
            return Err(CliError::usage(format!(
                "account {account:?} is not in the graph ({})",
                crate::sink::known_accounts(&known)
            )));
        }
    }
    let since = args.since.as_deref().map(drift::Since::parse);
    let results = drift::drift(&sink, args.account.as_deref(), since.as_ref()).await?;
    // A --since that names nothing the history holds, for every account, is a usage error.
    if since.is_some()
        && !results.is_empty()
        && results.iter().all(|r| r.as_ref().is_err_and(drift::Unpicked::is_since))
    {
        let why: Vec<String> = results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .map(ToString::to_string)
            .collect();
        return Err(CliError::usage(why.join("\n")));
    }
    if args.json {
        output::println(&serde_json::to_string_pretty(&render::drift_json(&results, defs)).unwrap_or_default())?;
    } else {
        output::print(&render::drift_table(&results, defs))?;
    }
    Ok(Exit::Success)
}

async fn run_queries(config: &Config, selected: &[&QueryDef], args: &RunQueriesArgs) -> Result<Exit, CliError> {
    let params: BTreeMap<String, Json> = args
        .params
        .iter()
        .map(|p| q::parse_param(p))
        .collect::<Result<_, _>>()?;
    q::check_params(selected, &params)?;
    if args.format == Format::Csv && selected.len() > 1 && args.out.is_none() {
        return Err(CliError::usage(
            "several queries as CSV need --out DIR (one file per query: DIR/ID.csv)",
        ));
    }
    if args.out.is_some() && args.format != Format::Csv {
        return Err(CliError::usage("--out DIR is for --format csv"));
    }
    let sink = crate::sink::Sink::connect(&config.neo4j).await?;
    if let Some(Json::String(account)) = params.get("account") {
        let known = sink.account_codes().await?;
        if !known.contains(account) {
            let listed = crate::sink::known_accounts(&known);
            eprintln!("note: account {account:?} is not in the graph ({listed}); its queries find nothing");
        }
    }
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create {}", dir.display()))
            .map_err(CliError::failure)?;
    }
    let mut findings = 0;
    // JSON is one array: written once every query has answered, so a failure leaves
    // no half array behind.
    let mut json_out = Vec::new();
    for d in selected {
        let r = q::run(&sink, d, &params).await?;
        findings += r.findings(d);
        match (args.format, &args.out) {
            (Format::Table, _) => output::println(&q::format_table(&r, args.limit))?,
            (Format::Csv, None) => output::print(&q::format_csv(&r))?,
            (Format::Csv, Some(dir)) => {
                let path = dir.join(format!("{}.csv", r.id));
                std::fs::write(&path, q::format_csv(&r))
                    .with_context(|| format!("cannot write {}", path.display()))
                    .map_err(CliError::failure)?;
                output::println(&format!("{} ({})", path.display(), q::row_count(r.rows.len())))?;
            }
            (Format::Json, _) => json_out.push(r),
        }
    }
    if args.format == Format::Json {
        let mut out = output::JsonArray::stdout();
        for r in &json_out {
            out.push(&q::ResultJson(r))?;
        }
        out.finish()?;
    }
    if args.fail_on_findings && findings > 0 {
        eprintln!("{findings} finding(s)");
        return Ok(Exit::Findings);
    }
    Ok(Exit::Success)
}
