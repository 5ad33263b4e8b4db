//! mimecast-graph: a Mimecast (API 2.0) to Neo4j knowledge-graph ingestion worker.
//!
//! It reads a Mimecast tenant (account, internal domains and users, Awareness
//! Training campaigns, enrollments, phishing simulations, SAFE scores), builds the
//! graph in memory in the JupiterOne step style, validates referential integrity and
//! upserts it into Neo4j, where saved Cypher queries answer audit questions.
//!
//! # Layout
//!
//! - [`cli`]: command-line parsing and dispatch; maps outcomes to [`exit`] codes.
//! - [`config`]: TOML file plus environment, secrets wrapped, a pure `validate()`.
//! - [`telemetry`]: tracing set-up (text or JSON lines on stderr).
//! - [`time`]: parsing Mimecast timestamps and normalizing them to UTC.
//! - [`graph`]: entities, relationships and property values.
//! - [`sink`]: the only code that writes Cypher: connect, batched upserts.
//! - [`sim`]: the Mimecast API simulator (binary `mimecast-sim`) for tests, demo, benchmarks.
//! - [`exit`]: the process exit codes README.md documents.

pub mod cli;
pub mod config;
pub mod exit;
pub mod graph;
pub mod sim;
pub mod sink;
pub mod telemetry;
pub mod time;
