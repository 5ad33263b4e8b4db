//! Process exit codes, distinct per outcome so CI jobs can branch on them.
//! README.md documents the same table.

/// Everything worked.
pub const SUCCESS: u8 = 0;
/// An unexpected error.
pub const FAILURE: u8 = 1;
/// Bad command line (clap's own code).
pub const USAGE: u8 = 2;
/// The configuration is invalid or unreadable.
pub const CONFIG: u8 = 3;
/// Mimecast could not be used: credentials, permissions, network. No tenant synced.
pub const MIMECAST: u8 = 4;
/// Neo4j could not be used: unreachable, authentication, a write that kept failing.
pub const NEO4J: u8 = 5;
/// The graph failed integrity validation under a `fail` policy; nothing was written.
pub const INTEGRITY: u8 = 6;
/// The sync finished but some steps or tenants failed: their data types are partial
/// and were neither cleaned up nor fully refreshed.
pub const PARTIAL: u8 = 10;
/// `queries run --fail-on-findings`: at least one query returned rows.
pub const FINDINGS: u8 = 20;
