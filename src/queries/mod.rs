//! Saved compliance queries: `queries/*.cypher`, each with a metadata header of
//! `// key: value` lines. They run in read transactions only, and the files run
//! unchanged in Neo4j Browser once its `:param` lines (listed in each header) are set.
//!
//! [`def`] parses one file, [`load`] finds the set (built in or a folder), [`run`]
//! runs a query with checked parameters, [`format`] renders results, [`drift`]
//! compares the findings two recorded syncs kept (`queries diff`). Storing the set in
//! Neo4j is the sink's job (`Sink::sync_queries`).

mod def;
pub mod drift;
mod format;
mod load;
mod run;
mod stable;

pub use def::{Control, DefError, Framework, ParamDef, QueryDef, Rule, Severity};
pub use format::{cell, format_csv, format_table, judged_line, row_count, ResultJson};
pub use load::{embedded, for_config, load_dir, LoadError, QuerySet};
pub use run::{check_params, for_each_row, parse_param, run, Judged, QueryError, QueryResult};
pub use stable::{run_digest, unstable_reason};

/// The saved query of each training campaign's completion: the report's per-campaign
/// chart, and the completion each sync records in its history.
pub const CAMPAIGN_QUERY: &str = "campaign-completion";
