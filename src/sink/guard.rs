//! The deletion guard: a cleanup that would delete more than `max_delete_share` of an
//! account's elements of one type, or all of them, deletes none of them. An empty
//! roster, a tenant answering zero users, an API that quietly returns less: the
//! upstream data looks complete but is not, and deleting on its word would wipe the
//! account. The type is kept and reported as partial until `--allow-mass-delete`.
//!
//! A relationship type whose endpoint type is kept is kept too: deleting the
//! relationships of nodes that stay would leave them half there.
//!
//! The decision is a pure function of counts ([`DeletePolicy::review`]), so any write
//! path (the cleanup here, a diff engine later) asks the same question the same way.

use std::fmt;

use serde::Serialize;

/// When a cleanup may delete.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DeletePolicy {
    /// `[sync] max_delete_share`: the largest share of one type's elements in one
    /// account that a cleanup deletes (0.5 = half).
    pub max_share: f64,
    /// `--allow-mass-delete`: no limit.
    pub allow_mass_delete: bool,
    /// `[sync] event_retention_days`: events older than this are deleted.
    pub event_retention_days: u32,
}

impl DeletePolicy {
    pub fn from_config(sync: &crate::config::SyncConfig) -> DeletePolicy {
        DeletePolicy {
            max_share: sync.max_delete_share,
            allow_mass_delete: sync.allow_mass_delete,
            event_retention_days: sync.event_retention_days,
        }
    }

    /// No limit at all (tests, and the flag).
    pub fn unlimited() -> DeletePolicy {
        DeletePolicy {
            max_share: 1.0,
            allow_mass_delete: true,
            event_retention_days: crate::config::SyncConfig::default().event_retention_days,
        }
    }

    /// Whether deleting `would_delete` of the `total` elements of `element_type` that
    /// `account` has in Neo4j is held back, and if so what to tell the user.
    pub fn check(&self, account: &str, element_type: &str, would_delete: u64, total: u64) -> Option<HeldBack> {
        if self.allow_mass_delete || would_delete == 0 {
            return None;
        }
        let all = would_delete >= total;
        let share = would_delete as f64 / total.max(1) as f64;
        (all || share > self.max_share).then(|| HeldBack {
            account: account.to_owned(),
            element_type: element_type.to_owned(),
            would_delete,
            total,
            max_share: self.max_share,
            kept_with: None,
        })
    }

    /// The deletions of one account's cleanup that are held back, in the order given:
    /// those over the limit, and relationship types with an endpoint type held back.
    pub fn review(&self, account: &str, deletions: &[Deletion]) -> Vec<HeldBack> {
        let over: Vec<Option<HeldBack>> = deletions
            .iter()
            .map(|d| self.check(account, d.element_type, d.would_delete, d.total))
            .collect();
        let kept_nodes: Vec<&str> = deletions
            .iter()
            .zip(&over)
            .filter(|(d, held)| d.endpoints.is_none() && held.is_some())
            .map(|(d, _)| d.element_type)
            .collect();
        deletions
            .iter()
            .zip(over)
            .filter_map(|(d, held)| {
                held.or_else(|| {
                    let endpoint = d.endpoints?.into_iter().find(|t| kept_nodes.contains(t))?;
                    (d.would_delete > 0).then(|| HeldBack {
                        account: account.to_owned(),
                        element_type: d.element_type.to_owned(),
                        would_delete: d.would_delete,
                        total: d.total,
                        max_share: self.max_share,
                        kept_with: Some(endpoint.to_owned()),
                    })
                })
            })
            .collect()
    }
}

/// What a cleanup would delete of one type in one account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deletion<'a> {
    pub element_type: &'a str,
    pub would_delete: u64,
    /// How many the account has in Neo4j now.
    pub total: u64,
    /// For a relationship type, its endpoint entity types (from, to).
    pub endpoints: Option<[&'a str; 2]>,
}

/// A type whose cleanup was held back in one account.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeldBack {
    pub account: String,
    #[serde(rename = "type")]
    pub element_type: String,
    pub would_delete: u64,
    pub total: u64,
    pub max_share: f64,
    /// Kept because this endpoint type of the relationships is kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept_with: Option<String>,
}

impl fmt::Display for HeldBack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "account {}: the cleanup would delete ", self.account)?;
        if let Some(endpoint) = &self.kept_with {
            write!(
                f,
                "{} of {} {}, relationships of {endpoint}, which is kept",
                self.would_delete, self.total, self.element_type
            )?;
        } else if self.would_delete >= self.total {
            write!(f, "all {} {}", self.total, self.element_type)?;
        } else {
            write!(
                f,
                "{} of {} {} ({:.0}%, more than [sync] max_delete_share = {})",
                self.would_delete,
                self.total,
                self.element_type,
                100.0 * self.would_delete as f64 / self.total as f64,
                self.max_share
            )?;
        }
        write!(
            f,
            "; none were deleted and the type is partial. If the tenant really lost them, \
             run sync (or run) with --allow-mass-delete"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HALF: DeletePolicy = DeletePolicy {
        max_share: 0.5,
        allow_mass_delete: false,
        event_retention_days: 90,
    };

    #[test]
    fn more_than_the_share_or_everything_is_held_back() {
        assert_eq!(HALF.check("C1", "person", 0, 10), None);
        assert_eq!(HALF.check("C1", "person", 5, 10), None, "exactly half is allowed");
        let six = HALF.check("C1", "person", 6, 10).unwrap();
        assert_eq!(
            six.to_string(),
            "account C1: the cleanup would delete 6 of 10 person (60%, more than [sync] max_delete_share = 0.5); \
             none were deleted and the type is partial. If the tenant really lost them, run sync (or run) with \
             --allow-mass-delete"
        );
        let everything = DeletePolicy {
            max_share: 1.0,
            allow_mass_delete: false,
            event_retention_days: 90,
        };
        assert_eq!(everything.check("C1", "person", 9, 10), None);
        assert_eq!(
            everything.check("C1", "mimecast_user", 1, 1).unwrap().to_string(),
            "account C1: the cleanup would delete all 1 mimecast_user; none were deleted and the type is partial. \
             If the tenant really lost them, run sync (or run) with --allow-mass-delete"
        );
    }

    #[test]
    fn relationships_of_a_kept_node_type_are_kept() {
        let deletions = [
            Deletion {
                element_type: "mimecast_user_assigned_phishing_campaign",
                would_delete: 2,
                total: 11,
                endpoints: Some(["mimecast_user", "mimecast_phishing_campaign"]),
            },
            Deletion {
                element_type: "person_is_mimecast_user",
                would_delete: 1,
                total: 7,
                endpoints: Some(["person", "mimecast_user"]),
            },
            Deletion {
                element_type: "mimecast_account_has_domain",
                would_delete: 1,
                total: 2,
                endpoints: Some(["mimecast_account", "mimecast_domain"]),
            },
            Deletion {
                element_type: "mimecast_user",
                would_delete: 7,
                total: 12,
                endpoints: None,
            },
        ];
        let held = HALF.review("C1", &deletions);
        let types: Vec<(&str, Option<&str>)> = held
            .iter()
            .map(|h| (h.element_type.as_str(), h.kept_with.as_deref()))
            .collect();
        assert_eq!(
            types,
            vec![
                ("mimecast_user_assigned_phishing_campaign", Some("mimecast_user")),
                ("person_is_mimecast_user", Some("mimecast_user")),
                ("mimecast_user", None),
            ]
        );
        assert_eq!(
            held[1].to_string(),
            "account C1: the cleanup would delete 1 of 7 person_is_mimecast_user, relationships of mimecast_user, \
             which is kept; none were deleted and the type is partial. If the tenant really lost them, run sync \
             (or run) with --allow-mass-delete"
        );
        assert_eq!(DeletePolicy::unlimited().review("C1", &deletions), vec![]);
    }

    #[test]
    fn the_flag_allows_anything() {
        let allowed = DeletePolicy {
            allow_mass_delete: true,
            event_retention_days: 90,
            ..HALF
        };
        assert_eq!(allowed.check("C1", "person", 10, 10), None);
        assert_eq!(DeletePolicy::unlimited().check("C1", "person", 10, 10), None);
    }
}
