//! The saved queries stored beside the data, as `ComplianceQuery` nodes.

use neo4rs::{query, BoltType};

use super::{Sink, SinkError};
use crate::graph::Entity;
use crate::schema::types;

impl Sink {
    /// Upserts the saved queries of the set `source` (one `ComplianceQuery` entity
    /// each, `QueryDef::entity`) and deletes the nodes of the same set that are no
    /// longer in it.
    ///
    /// # Errors
    /// A write fails.
    pub async fn sync_queries(
        &self,
        source: &str,
        entities: &[Entity],
        stamp: &crate::sink::SyncStamp,
    ) -> Result<(crate::sink::WriteCounts, u64), SinkError> {
        let schema = crate::schema::schema();
        let labels = schema
            .entity(types::COMPLIANCE_QUERY)
            .map(crate::schema::EntitySchema::labels)
            .unwrap_or_default();
        let refs: Vec<&Entity> = entities.iter().collect();
        let counts = self
            .upsert_nodes(&labels, &refs, crate::sink::Mode::Replace, stamp)
            .await?;
        // By key, so nodes of an older key form are replaced too.
        let keys: Vec<BoltType> = entities.iter().map(|e| crate::sink::bolt::string(&e.key)).collect();
        let rows = self
            .write(
                "compliance-queries",
                query(
                    "MATCH (q:ComplianceQuery {querySet: $source}) WHERE NOT q._key IN $keys \
                     DETACH DELETE q RETURN count(*) AS deleted",
                )
                .param("source", source)
                .param("keys", crate::sink::bolt::list(keys)),
            )
            .await?;
        let deleted = match rows.first().and_then(|r| r.get("deleted")) {
            Some(BoltType::Integer(i)) => i.value.max(0) as u64,
            _ => 0,
        };
        Ok((counts, deleted))
    }
}

/// What the graph holds, for a message about an account it lacks: "the graph has A,
/// B" or "the graph has no account yet".
pub fn known_accounts(known: &[String]) -> String {
    if known.is_empty() {
        "the graph has no account yet".to_owned()
    } else {
        format!("the graph has {}", known.join(", "))
    }
}

impl Sink {
    /// The account codes in the graph, sorted.
    ///
    /// # Errors
    /// The read fails.
    pub async fn account_codes(&self) -> Result<Vec<String>, SinkError> {
        let rows = self
            .read(query(
                "MATCH (a:MimecastAccount) RETURN a.accountCode AS code ORDER BY code",
            ))
            .await?;
        Ok(rows
            .iter()
            .filter_map(|r| match r.get("code") {
                Some(BoltType::String(s)) => Some(s.value.clone()),
                _ => None,
            })
            .collect())
    }
}
