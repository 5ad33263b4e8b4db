//! The integration test binary: end-to-end tests against a real Neo4j and the
//! Mimecast simulator. Neo4j comes from NEO4J_TEST_URI (+ NEO4J_TEST_USER,
//! NEO4J_TEST_PASSWORD); `scripts/test` starts a local one and sets them.

mod browser;
mod cleanup;
mod cli;
mod client;
mod collect;
mod datetimes;
mod diff;
mod drift;
mod examples;
mod groups;
mod helpers;
mod local;
mod plans;
mod queries;
mod recovery;
mod report;
mod siem;
mod sink_roundtrip;
mod sync;
mod threats;
mod throttle;
mod tls;
mod wire;
