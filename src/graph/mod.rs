//! The in-memory graph: entities and relationships (J1 shape), the petgraph store
//! with a key index, and integrity validation against graph-schema/.

mod model;
mod store;
mod validate;

pub use model::{
    intern, relationship_key, ActivityState, Element, Entity, Properties, Relationship, StoredActivity, Value,
};
pub use store::{DuplicateKey, GraphStore, Observation};
pub use validate::{validate, Finding, FindingKind, IntegrityReport, SAMPLES};
