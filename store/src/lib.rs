//! # ferrite-store
//!
//! The Ferrite engine: a Redis-compatible data platform in pure Rust. It
//! knows nothing of the BEAM; the `ferrite-nif` crate wraps it.
//!
//! Everything goes through one path: build an [`Engine`], open a
//! [`Session`], and call [`Engine::execute`] with an argument vector. The
//! result is a [`Reply`].
//!
//! ```
//! use ferrite_store::{Engine, Reply};
//! let engine = Engine::new();
//! let mut s = engine.session();
//! assert_eq!(engine.execute(&mut s, &[b"SET", b"k", b"v"]), Reply::ok());
//! assert_eq!(engine.execute(&mut s, &[b"GET", b"k"]), Reply::bulk(b"v"));
//! ```

pub mod blocking;
pub mod command;
pub mod config;
pub mod engine;
pub mod evict;
pub mod expire;
pub mod hugepage;
pub mod keyspace;
pub mod longdouble;
pub mod persist;
pub mod pubsub;
pub mod reply;
pub mod resp;
pub mod script;
pub mod stats;
pub mod tx;
pub mod types;
pub mod util;

pub use engine::{Ctx, Engine, Outgoing, Session, Sink};
pub use reply::{Bulk, Reply};
