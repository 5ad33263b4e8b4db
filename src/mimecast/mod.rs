//! The Mimecast API client: the only code that knows hosts, authentication, the
//! `meta`/`data`/`fail` envelope, pagination, retries and rate limits. It exposes
//! typed records and refuses any endpoint that is not on its read-only list.

mod auth;
mod client;
mod endpoints;
/// Public so that the fuzz targets (`fuzz/`) can decode envelopes as the client does.
pub mod envelope;
mod error;
pub mod records;

pub use auth::sign as hmac_signature;
pub use client::{all, Client, ClientStats, Pages};
pub use endpoints::{Area, Endpoint};
pub use envelope::Envelope;
pub use error::{ApiError, FailError};
