//! One module per command. Each loads what it needs, calls the library, prints its
//! result on stdout, and returns the [`crate::exit::Exit`] code or a
//! [`super::CliError`].

pub mod collect;
pub mod config;
pub mod daemon;
pub mod docs;
pub mod history;
pub mod queries;
pub mod report;
pub mod schema;
pub mod sync;
pub mod validate;
