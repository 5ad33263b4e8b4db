//! The evidence report (`mimecast-graph report --out DIR`): the saved queries run
//! against Neo4j per account, written as one self-contained `index.html`, one CSV per
//! query (`rules/ID.csv`) and a `manifest.json` that holds the SHA-256 of every other
//! file, so an auditor can check that the evidence was not edited.
//!
//! [`gather`] reads the graph (read transactions only), [`history`] reads the recorded
//! syncs, [`html`] renders the page, [`files`] writes the folder and the manifest.

mod charts;
mod files;
pub mod history;
mod html;
mod trends;

use std::collections::BTreeMap;
use std::path::PathBuf;

use neo4rs::query;
use serde_json::{json, Value as Json};

use crate::queries::{self, Framework, QueryDef, QueryError, QueryResult};
use crate::sink::bolt::to_json;
use crate::sink::{Sink, SinkError};

pub use files::{write, Written, VERIFY};
pub use history::{read_history, HistoryError, SyncRun};
pub use html::render as render_html;

/// The end of `report --help`: how to verify a report, and what happens to DIR.
pub fn after_help() -> String {
    format!(
        "Verify a report (each line must say OK):\n  cd DIR && {VERIFY}\n\n\
         DIR is created when missing. A folder holding an earlier report (a manifest.json) has \
         that report's index.html, manifest.json and rules/*.csv replaced; any other non-empty \
         folder is refused."
    )
}

/// The query whose rows feed the per-campaign chart.
pub use crate::queries::CAMPAIGN_QUERY;

/// What to report on.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// One account; `None` for every account in the graph.
    pub account: Option<String>,
    /// Only the queries with controls of this framework.
    pub framework: Option<Framework>,
}

/// Why no report was written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("account {code:?} is not in the graph ({known})")]
    UnknownAccount { code: String, known: String },
    #[error("the graph has no Mimecast account yet; run `mimecast-graph sync` first")]
    NoAccounts,
    #[error("no saved query maps to a {} control", .0.prefix())]
    NoQueries(Framework),
    #[error("{0} is not empty and holds no earlier report (no manifest.json); choose an empty or new folder")]
    NotEmpty(PathBuf),
    #[error("cannot write {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error(transparent)]
    History(#[from] HistoryError),
    #[error("reading the graph: {0}")]
    Sink(#[from] SinkError),
}

/// Everything the report shows, read once.
#[derive(Clone, Debug)]
pub struct Report {
    /// When the graph was read (UTC, `…Z`).
    pub generated_on: String,
    pub tool_version: &'static str,
    pub framework: Option<Framework>,
    /// The selected queries, most severe first.
    pub defs: Vec<QueryDef>,
    pub accounts: Vec<AccountReport>,
}

/// One account's part of the report.
#[derive(Clone, Debug)]
pub struct AccountReport {
    pub code: String,
    pub name: String,
    pub last_sync_on: Option<String>,
    pub last_sync_status: Option<String>,
    pub last_successful_sync_on: Option<String>,
    /// The newest recorded sync run's id, else the sync id the account node carries.
    pub latest_sync_id: Option<String>,
    /// The rows of `campaign-completion` for this account, when the query set has it.
    pub campaigns: Option<QueryResult>,
    pub coverage: Vec<Coverage>,
    pub phishing: Vec<Phishing>,
    /// The selected queries' results, in the order of [`Report::defs`].
    pub results: Vec<QueryResult>,
    pub history: Vec<SyncRun>,
}

/// Required training of active people in one roster group and category.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Coverage {
    pub group: String,
    pub category: String,
    /// Active people of the group who must have the category.
    pub required: u64,
    /// Of those, the ones with a completed campaign that covers it.
    pub covered: u64,
}

/// One phishing simulation, as Mimecast counts it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Phishing {
    pub name: String,
    pub launched: Option<String>,
    pub sent: Option<i64>,
    pub opened: Option<i64>,
    pub clicked: Option<i64>,
    pub submitted: Option<i64>,
    pub reported: Option<i64>,
}

impl Phishing {
    /// The figures in display order, with their names.
    pub fn figures(&self) -> [(&'static str, Option<i64>); 5] {
        [
            ("sent", self.sent),
            ("opened", self.opened),
            ("clicked", self.clicked),
            ("submitted", self.submitted),
            ("reported", self.reported),
        ]
    }
}

const ACCOUNT: &str = "MATCH (a:MimecastAccount {accountCode: $account})
RETURN a.name AS name, a.lastSyncOn AS lastSyncOn, a.lastSyncStatus AS lastSyncStatus,
       a.lastSuccessfulSyncOn AS lastSuccessfulSyncOn";

/// The same requirement test as `missing-required-training` (its default, any
/// completion counts), grouped: the required total is that rule's denominator and the
/// uncovered ones are its findings.
const COVERAGE: &str = "MATCH (p:Person {active: true, accountCode: $account})
UNWIND coalesce(p.requiredCategories, []) AS category
WITH p, category, EXISTS {
  MATCH (p)-[:IS]->(:MimecastUser)-[:COMPLETED]->(:MimecastAwarenessCampaign)-[:COVERS]->(:TrainingCategory {category: category})
} AS covered
RETURN coalesce(p.group, '') AS group, category, count(*) AS required,
       sum(CASE WHEN covered THEN 1 ELSE 0 END) AS covered
ORDER BY group, category";

const PHISHING: &str = "MATCH (:MimecastAccount {accountCode: $account})-[:HAS]->(c:MimecastPhishingCampaign)
RETURN c.name AS name, c.launchDate AS launched, c.numSent AS sent, c.numOpened AS opened,
       c.numClicked AS clicked, c.numSubmitted AS submitted, c.numReported AS reported
ORDER BY launched, name";

/// Reads what the report shows: for each selected account, its sync state, the
/// campaign, coverage and phishing figures, every selected query, and its history.
///
/// # Errors
/// An unknown account, a framework no query maps to, or a failing read.
pub async fn gather(sink: &Sink, all: &[QueryDef], options: &Options) -> Result<Report, ReportError> {
    let generated_on = crate::time::now_iso();
    let mut defs: Vec<QueryDef> = all
        .iter()
        .filter(|d| options.framework.is_none_or(|f| d.maps_to(f)))
        .cloned()
        .collect();
    if defs.is_empty() {
        if let Some(f) = options.framework {
            return Err(ReportError::NoQueries(f));
        }
    }
    // Most severe first, as `queries run --all` orders them.
    defs.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.id.cmp(&b.id)));
    let known = sink.account_codes().await?;
    let codes = match &options.account {
        Some(code) if known.contains(code) => vec![code.clone()],
        Some(code) => {
            return Err(ReportError::UnknownAccount {
                code: code.clone(),
                known: crate::sink::known_accounts(&known),
            })
        }
        None if known.is_empty() => return Err(ReportError::NoAccounts),
        None => known,
    };
    let campaign_def = all.iter().find(|d| d.id == CAMPAIGN_QUERY);
    let mut accounts = Vec::with_capacity(codes.len());
    for code in codes {
        let params = BTreeMap::from([("account".to_owned(), Json::from(code.as_str()))]);
        let mut results = Vec::with_capacity(defs.len());
        for d in &defs {
            results.push(queries::run(sink, d, &params).await?);
        }
        let campaigns = match campaign_def {
            Some(d) => Some(queries::run(sink, d, &params).await?),
            None => None,
        };
        let history = read_history(sink, &code).await?;
        let account = rows(sink, ACCOUNT, &code).await?.into_iter().next().unwrap_or_default();
        let coverage = rows(sink, COVERAGE, &code)
            .await?
            .into_iter()
            .map(|r| Coverage {
                group: text(&r, "group").unwrap_or_default(),
                category: text(&r, "category").unwrap_or_default(),
                required: int(&r, "required").unwrap_or(0).max(0) as u64,
                covered: int(&r, "covered").unwrap_or(0).max(0) as u64,
            })
            .collect();
        let phishing = rows(sink, PHISHING, &code)
            .await?
            .into_iter()
            .map(|r| Phishing {
                name: text(&r, "name").unwrap_or_default(),
                launched: text(&r, "launched"),
                sent: int(&r, "sent"),
                opened: int(&r, "opened"),
                clicked: int(&r, "clicked"),
                submitted: int(&r, "submitted"),
                reported: int(&r, "reported"),
            })
            .collect();
        accounts.push(AccountReport {
            name: text(&account, "name").unwrap_or_else(|| code.clone()),
            last_sync_on: text(&account, "lastSyncOn"),
            last_sync_status: text(&account, "lastSyncStatus"),
            last_successful_sync_on: text(&account, "lastSuccessfulSyncOn"),
            latest_sync_id: history.last().map(|r| r.sync_id.clone()),
            code,
            campaigns,
            coverage,
            phishing,
            results,
            history,
        });
    }
    Ok(Report {
        generated_on,
        tool_version: env!("CARGO_PKG_VERSION"),
        framework: options.framework,
        defs,
        accounts,
    })
}

/// The rows of a read query with `$account` set, as JSON objects.
async fn rows(sink: &Sink, cypher: &str, account: &str) -> Result<Vec<BTreeMap<String, Json>>, SinkError> {
    let records = sink.read(query(cypher).param("account", account)).await?;
    Ok(records
        .iter()
        .map(|r| r.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        .collect())
}

fn text(row: &BTreeMap<String, Json>, key: &str) -> Option<String> {
    row.get(key).and_then(Json::as_str).map(str::to_owned)
}

fn int(row: &BTreeMap<String, Json>, key: &str) -> Option<i64> {
    row.get(key).and_then(Json::as_i64)
}

impl Report {
    /// `manifest.json` without its `files` list: the tool, the time, the accounts and
    /// each query's counts.
    pub fn manifest(&self) -> Json {
        let accounts: Vec<Json> = self
            .accounts
            .iter()
            .map(|a| {
                json!({
                    "accountCode": a.code,
                    "name": a.name,
                    "latestSyncId": a.latest_sync_id,
                    "lastSyncOn": a.last_sync_on,
                    "lastSyncStatus": a.last_sync_status,
                    "lastSuccessfulSyncOn": a.last_successful_sync_on,
                    "recordedSyncRuns": a.history.len(),
                })
            })
            .collect();
        let rules: Vec<Json> = self
            .defs
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let results = self.accounts.iter().map(|a| &a.results[i]);
                let by_account: serde_json::Map<String, Json> = self
                    .accounts
                    .iter()
                    .map(|a| {
                        let r = &a.results[i];
                        let j = r.judged.as_ref();
                        (
                            a.code.clone(),
                            json!({
                                "rows": r.rows.len(),
                                "findings": j.map(|j| j.findings),
                                "denominator": j.map(|j| j.denominator),
                            }),
                        )
                    })
                    .collect();
                let judged: Vec<_> = results.clone().filter_map(|r| r.judged.as_ref()).collect();
                let is_rule = d.rule.is_some();
                json!({
                    "id": d.id,
                    "version": d.version,
                    "title": d.title,
                    "severity": d.severity,
                    "frameworks": d.frameworks,
                    "file": files::csv_path(&d.id),
                    "rows": results.map(|r| r.rows.len()).sum::<usize>(),
                    "findings": is_rule.then(|| judged.iter().map(|j| j.findings).sum::<usize>()),
                    "denominator": is_rule.then(|| judged.iter().map(|j| j.denominator).sum::<u64>()),
                    "population": d.rule.as_ref().map(|r| r.population.as_str()),
                    "byAccount": by_account,
                })
            })
            .collect();
        json!({
            "tool": "mimecast-graph",
            "toolVersion": self.tool_version,
            "generatedOn": self.generated_on,
            "framework": self.framework.map(Framework::id),
            "accounts": accounts,
            "rules": rules,
        })
    }
}
