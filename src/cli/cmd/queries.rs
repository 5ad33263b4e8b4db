//! `queries list | show ID | run ID... | run --all`.

use std::collections::BTreeMap;
use std::path::Path;

use crate::cli::args::{Format, QueriesArgs, QueriesCommand, RunQueriesArgs};
use crate::cli::{load_config, load_queries, render, CliError};
use crate::config::{Config, Needs};
use crate::exit::Exit;
use crate::queries::{self as q, QueryDef, QueryError};

pub async fn run(config: Option<&Path>, args: QueriesArgs) -> Result<Exit, CliError> {
    let needs = match args.command {
        QueriesCommand::Run(_) => Needs::Neo4j,
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
            for d in defs.iter() {
                println!("{:<28} {:<9} {}", d.id, d.severity, d.title);
            }
            Ok(Exit::Success)
        }
        QueriesCommand::Show { id } => {
            print!("{}", render::query_definition(find(&id)?));
            Ok(Exit::Success)
        }
        QueriesCommand::Run(run) => {
            let selected: Vec<&QueryDef> = if run.all {
                defs.iter().collect()
            } else {
                run.ids.iter().map(|id| find(id)).collect::<Result<_, _>>()?
            };
            run_queries(&config, &selected, &run).await
        }
    }
}

async fn run_queries(config: &Config, selected: &[&QueryDef], args: &RunQueriesArgs) -> Result<Exit, CliError> {
    let params: BTreeMap<String, serde_json::Value> = args
        .params
        .iter()
        .map(|p| q::parse_param(p))
        .collect::<Result<_, _>>()?;
    q::check_params(selected, &params)?;
    let sink = crate::sink::Sink::connect(&config.neo4j).await?;
    let mut findings = 0;
    let mut json_out = Vec::new();
    for d in selected {
        let r = q::run(&sink, d, &params).await?;
        findings += r.findings(d);
        match args.format {
            Format::Table => println!("{}", render::query_table(&r, args.limit)),
            Format::Csv => {
                if args.all || args.ids.len() > 1 {
                    println!("# {}", r.id);
                }
                print!("{}", q::format_csv(&r));
            }
            Format::Json => json_out.push(q::to_json_value(&r)),
        }
    }
    if args.format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&json_out).unwrap_or_default());
    }
    if args.fail_on_findings && findings > 0 {
        eprintln!("{findings} finding(s)");
        return Ok(Exit::Findings);
    }
    Ok(Exit::Success)
}
