//! The in-memory graph: entities and relationships (J1 shape), the petgraph store
//! with a key index, and integrity validation.

mod model;

pub use model::{relationship_key, Entity, Properties, Relationship, Value};
