//! The Mimecast API client: the only code that knows hosts, authentication, the
//! `meta`/`data`/`fail` envelope, pagination, retries and rate limits. It exposes
//! typed records and refuses any endpoint that is not on its read-only list.
//!
//! # Layout
//!
//! - `client`: [`Client`] (set-up, counters) and one typed method per endpoint.
//! - `endpoints`: the read-only allowlist.
//! - `call`: one `POST /api/...` and what each answer means.
//! - `paging`: following `meta.pagination.next`.
//! - `auth`: the cached bearer token (and its `/oauth/token` request), API 1.0 signing.
//! - `retry`: the one send-and-retry loop both requests use, and its policy.
//! - `throttle`: `Retry-After`, `X-RateLimit-*`, and pacing on a low quota.
//! - `net`: the HTTP client (no redirects, proxy), capped bodies, network errors.
//! - `redact`: credentials and tokens kept out of every error and log.
//! - `envelope`, `error`, `records`: the wire shapes, the typed errors, the records.
//! - `directory`: directory groups and Message Finder (records and methods).
//! - `siem`: the SIEM batch: the file listing and the streamed gzip NDJSON files.

mod auth;
mod call;
mod client;
pub mod directory;
mod endpoints;
/// Public so that the fuzz targets (`fuzz/`) can decode envelopes as the client does.
pub mod envelope;
mod error;
mod net;
mod paging;
pub mod records;
mod redact;
mod retry;
pub mod siem;
mod throttle;

pub use auth::sign as hmac_signature;
pub use client::{Client, ClientStats};
pub use endpoints::{Area, Endpoint};
pub use envelope::Envelope;
pub use error::{ApiError, FailError};
pub use paging::{all, Pages};
