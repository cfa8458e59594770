//! RESP: the Redis serialization protocol, versions 2 and 3.
//!
//! - [`encode`]: `Reply` to bytes, with Redis 7.0's RESP2 downgrades.
//! - [`request`]: incremental decoding of client requests (multibulk and
//!   inline), with Redis's limits and `Protocol error` texts.
//! - [`reply_decoder`]: incremental decoding of server replies, for a
//!   Rust-side client.
//! - [`clients`]: the engine's registry of connected clients (CLIENT LIST,
//!   CLIENT KILL, INFO clients).
//! - [`conn`]: the connection commands (HELLO, AUTH, CLIENT, QUIT, RESET).
//! - [`listener`]: a TCP server that serves one engine to any Redis client.

pub mod clients;
pub mod conn;
pub mod encode;
pub mod listener;
pub mod reply_decoder;
pub mod request;

pub use encode::{encode, encode_command, to_bytes};
pub use reply_decoder::{ReplyDecoder, ReplyError, ReplyLimits};
pub use request::{Limits, ProtocolError, RequestDecoder};
