//! graph-schema/README.md, generated from the schema.

use std::fmt::Write as _;

use super::{Lifecycle, PropSpec, Schema};

impl Schema {
    /// graph-schema/README.md, generated from the schema (never edited by hand).
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# Graph schema\n");
        let _ = writeln!(
            out,
            "Generated from `schema.toml` by `mimecast-graph schema docs`; do not edit by hand.\n\n\
             Every node has `_key`, `_type`, `_class`, `displayName` and the sync bookkeeping \
             `_fingerprint` (a hash of its content: its data properties and labels), `_firstSeenOn` \
             (when a sync created it) and `_lastChangedOn` (when a sync last changed it). Every \
             relationship has `_key`, `_type` and the same bookkeeping; graph.json also gives its \
             `_class`, `_fromEntityKey` and `_toEntityKey`, which Neo4j holds as its type and its \
             endpoints. When an element was last seen is its account's `lastSuccessfulSyncOn`; when \
             a sync last read and verified the account's stored content in full, its \
             `_contentVerifiedOn`; the count and fingerprint sum of each of its types after the \
             last complete write, its `_digests` (stamped `_digestsOn`). \
             Date-times, the bookkeeping stamps too, are Neo4j `DATETIME` values (graph.json keeps \
             their ISO 8601 UTC text, `2024-05-01T09:00:00Z`). `!` marks a required property.\n\n\
             Every type has a lifecycle. A `snapshot` type holds the tenant's current state: what a \
             complete sync no longer brings is deleted (within the deletion guard). An `event` type \
             holds things that happened: never deleted for being absent from a sync, only once its \
             event time is older than `[sync] event_retention_days` (default 90); a relationship to \
             an event lives as long as the event.\n\n\
             Beside the graph, two bookkeeping labels carry no `_type`: `MimecastGraphLock` (one write \
             lease per account while a sync writes it) and `MimecastSyncRun` (one per sync and account, \
             linked `(:MimecastAccount)-[:HAS_SYNC_RUN]->(:MimecastSyncRun)`: `syncId`, `startedOn`, \
             `endedOn`, `status`, `created`, `updated`, `unchanged`, `deleted`, `typeCounts` (JSON \
             text per type), `apiRequests`, `throttledCalls`, `throttleWaitMs`, `findings` (JSON text: \
             findings per saved rule after the sync), `findingsTotal`, `recordedMs`; the newest \
             `[sync] history_runs` (default 100) are kept).\n\n\
             Labels other tools may also use (`Person`, `User`, `Account`, `UserAccount`, \
             `TrainingCategory`, `ComplianceQuery`, ...) are safe in a shared database: this tool \
             reads, changes and deletes only nodes that carry its type label (`MimecastUser`, \
             `Person`, ...) together with its `_type` and, for tenant data, the account's \
             `accountCode`; a node another tool wrote is never touched, and labels another tool \
             adds to ours are left alone.\n"
        );
        let _ = writeln!(out, "## Entities\n");
        let _ = writeln!(out, "| `_type` | `_class` | Neo4j labels | `_key` | lifecycle | from |");
        let _ = writeln!(out, "|---|---|---|---|---|---|");
        for e in &self.entities {
            let lifecycle = match &e.lifecycle {
                Lifecycle::Snapshot => "snapshot".to_owned(),
                Lifecycle::Event { time } => format!("event (`{time}`)"),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | `{}` | {lifecycle} | {} |",
                e.entity_type,
                e.class,
                e.labels().join(", "),
                e.key,
                e.source
            );
        }
        for e in &self.entities {
            let dense = if e.dense {
                " Dense: it gathers many relationships."
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "\n### {} (`{}`)\n\n{}{dense}\n",
                e.label, e.entity_type, e.description
            );
            let _ = writeln!(out, "{}", property_list(&e.properties));
            if let Some(t) = e.additional_properties {
                let _ = writeln!(out, "\nOther properties of type {} are allowed.", t.name());
            }
        }
        let _ = writeln!(out, "\n## Relationships\n");
        let _ = writeln!(out, "| `_type` | pattern | properties |");
        let _ = writeln!(out, "|---|---|---|");
        for r in &self.relationships {
            let label = |t: &str| self.entity(t).map_or(t.to_owned(), |e| e.label.clone());
            let _ = writeln!(
                out,
                "| {} | `({})-[:{}]->({})` | {} |",
                r.relationship_type,
                label(&r.from),
                r.class,
                label(&r.to),
                property_list(&r.properties)
            );
        }
        let _ = writeln!(out, "\n## Constraints and indexes\n");
        let _ = writeln!(
            out,
            "For every entity label: a uniqueness constraint on `_key` and an index on \
             `accountCode`; for every relationship type: a uniqueness constraint on `_key`; for \
             `MimecastSyncRun`: a uniqueness constraint on `_key` and an index on `accountCode`. \
             `mimecast-graph schema apply` creates them (idempotent); every sync applies them first.\n\n\
             Range indexes on what joins and the saved queries filter by:\n"
        );
        for e in self.entities.iter().filter(|e| !e.indexes.is_empty()) {
            let names: Vec<String> = e.indexes.iter().map(|p| index_text(p)).collect();
            let _ = writeln!(out, "- `{}`: {}", e.label, names.join(", "));
        }
        for (class, names) in self.relationship_indexes() {
            let names: Vec<String> = names.iter().map(|p| index_text(p)).collect();
            let _ = writeln!(out, "- `[:{class}]`: {}", names.join(", "));
        }
        out
    }
}

/// An index as the page shows it: "`a`", or "(`a`, `b`)" for a composite one.
fn index_text(index: &str) -> String {
    let names: Vec<String> = super::index_properties(index).map(|p| format!("`{p}`")).collect();
    match names.as_slice() {
        [one] => one.clone(),
        several => format!("({})", several.join(", ")),
    }
}

/// "`name`: type!" for each property, comma-separated (`!` marks required ones).
fn property_list(properties: &[PropSpec]) -> String {
    properties
        .iter()
        .map(|p| {
            format!(
                "`{}`: {}{}",
                p.name,
                p.prop_type.name(),
                if p.required { "!" } else { "" }
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}
