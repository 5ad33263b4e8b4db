//! A local Mimecast API simulator for tests, the demo and benchmarks.
//!
//! This part: the tenant it serves ([`Tenant`], a JSON file whose records are shaped
//! exactly like the API's own) and a deterministic generator of realistic tenants.

mod generate;
mod rng;
mod tenant;

pub use generate::{
    external_addresses, generate, GenerateSpec, SpecError, AWARENESS_TRAINING_PACKAGE, DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET, TRAINING_NAMES,
};
pub use rng::SplitMix64;
pub use tenant::{Credential, Tenant, TenantError};
