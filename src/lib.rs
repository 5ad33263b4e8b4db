//! mimecast-graph: a Mimecast (API 2.0) to Neo4j knowledge-graph ingestion worker.
//!
//! It reads a Mimecast tenant (account, internal domains and users, Awareness
//! Training campaigns, enrollments, phishing simulations, SAFE scores), builds the
//! graph in memory in the JupiterOne step style, validates referential integrity and
//! upserts it into Neo4j, where saved Cypher queries answer audit questions.
//!
//! # Data flow
//!
//! [`config`] names the tenants; for each, the [`mimecast`] client (the only code
//! that speaks HTTP) feeds the [`steps`], which turn API records into entities and
//! relationships through the pure [`converters`] and [`compliance`] into one
//! [`graph`] store; [`collect`] runs the steps of every tenant and validates the
//! store against [`schema`]. [`sync`] hands the validated graph to the [`sink`] (the
//! only code that writes Cypher), which applies the schema, writes and cleans up per
//! account. [`queries`] read the result; [`daemon`] repeats [`sync`]; [`cli`] is the
//! only place that turns outcomes into [`exit`] codes. Dependencies point that way:
//! `schema`, `time`, `backoff` and `graph` depend on nothing above them, `sink` never on the
//! client, and nothing but `cli` on `cli`.
//!
//! # Layout
//!
//! - [`cli`]: clap types (`cli::args`), one module per command (`cli::cmd`), renderers
//!   (`cli::render`); the one place that turns outcomes and errors into [`exit`] codes.
//! - [`config`]: TOML file plus environment, secrets wrapped, a pure `validate()`.
//! - [`backoff`]: the one exponential backoff with jitter (backon) every retry uses.
//! - [`telemetry`]: tracing set-up (text or JSON lines on stderr).
//! - [`time`]: parsing Mimecast timestamps and normalizing them to UTC.
//! - [`mimecast`]: the API client (auth, envelope, paging, retries and rate limits,
//!   redaction, read-only allowlist) and its typed records.
//! - [`schema`]: graph-schema/schema.toml, embedded: types, labels, properties.
//! - [`graph`]: entities and relationships, the petgraph store, integrity validation.
//! - [`converters`]: pure functions from API records to entities and relationships.
//! - [`steps`]: J1-style steps and the executor that orders and runs them.
//! - [`compliance`]: the roster, person matching and campaign categories, as steps.
//! - [`collect`]: one run over every connection into one validated graph; graph.json.
//! - [`ocsf`]: the findings as OCSF Detection Findings (findings.ocsf.jsonl).
//! - [`sink`]: the only code that writes Cypher: schema apply, batched upserts, cleanup.
//! - [`sync`]: one whole sync (`run_once`): collect, schema, upsert, cleanup.
//! - [`validate`]: the `validate` command's checks (credentials, products, Neo4j).
//! - [`queries`]: the saved compliance queries (`queries/*.cypher`): parsing, loading,
//!   running with checked parameters, rendering.
//! - [`report`]: the evidence report for audits (`report --out DIR`): index.html with
//!   inline SVG charts, one CSV per query, manifest.json with SHA-256 of each file.
//! - [`shard`]: `--shard K/N`, the connections one of N workers syncs (stable hash of the name).
//! - [`daemon`]: `run --interval`: `run_once` in a loop with jitter, backoff and a clean stop.
//! - [`stop`]: the stop signal (SIGINT/SIGTERM) checked between batches.
//! - [`sim`]: the Mimecast API simulator (binary `mimecast-sim`) for tests, demo, benchmarks.
//! - [`exit`]: the process exit codes, one enum; `--help` and README.md are generated from it.

pub mod backoff;
pub mod cli;
pub mod collect;
pub mod compliance;
pub mod config;
pub mod converters;
pub mod daemon;
pub mod exit;
pub mod graph;
pub mod mimecast;
pub mod ocsf;
pub mod queries;
pub mod report;
pub mod schema;
pub mod shard;
pub mod sim;
pub mod sink;
pub mod steps;
pub mod stop;
pub mod sync;
pub mod telemetry;
pub mod time;
pub mod validate;
