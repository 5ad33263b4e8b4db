//! The Mimecast API client: the only code that knows hosts, authentication, the
//! `meta`/`data`/`fail` envelope, pagination, retries and rate limits. It exposes
//! typed records and refuses any endpoint that is not on its read-only list.

mod auth;
mod client;
mod endpoints;
mod envelope;
mod error;
pub mod records;

pub use auth::sign as hmac_signature;
pub use client::{all, Client, ClientStats, Pages};
pub use endpoints::{Area, Endpoint};
pub use envelope::Envelope;
pub use error::{ApiError, FailError};
