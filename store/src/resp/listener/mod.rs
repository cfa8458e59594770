//! A TCP server that serves one [`Engine`] to any Redis client.
//!
//! # Threads
//!
//! One event-loop thread per listener ([`event_loop`]) owns the listening
//! socket and every connection: it waits in `epoll` (through `mio`) on all
//! of them, and for each readable connection reads what is available,
//! decodes every complete request, runs the batch under one hold of the
//! engine lock ([`exec`]), and writes the replies straight away. Two cores
//! are enough for a client and this one thread; a thread per connection
//! (the previous design) spent most of its time in futexes and context
//! switches.
//!
//! Out-of-band messages (pub/sub pushes, blocking-command results, CLIENT
//! KILL, CLIENT UNBLOCK, blocking timeouts) come from any thread through
//! the connection's [`Sink`](crate::engine::Sink) / `Control`
//! ([`conn_state::ConnShared`]): they are appended to the connection's
//! inbox and the loop is woken (an eventfd) unless it is the sender.
//!
//! # Invariants
//!
//! - Nothing waits while the engine lock is held: sockets are
//!   non-blocking, replies are encoded into the connection's output buffer
//!   under the lock and written after it is released. A stalled client only
//!   grows its own buffer.
//! - A client's pipelined commands run in order, and their replies (and
//!   the pushes they cause) leave in that order. A blocked command holds
//!   the rest of its client's pipeline back until its reply is queued.
//! - Backpressure: a connection with more than `OUTPUT_HIGH_WATER` unsent
//!   bytes runs no more commands until the client reads; a pub/sub push to
//!   a client with more than `PUSH_HARD_LIMIT` unsent bytes closes it.
//! - Only the loop thread touches a connection's socket, decoder, output
//!   buffer and session.

mod conn_state;
mod event_loop;
mod exec;

use crate::engine::Engine;
use event_loop::LoopShared;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;

/// Most commands run under one hold of the engine lock.
const BATCH: usize = 128;
/// A connection with this much unsent output runs no more commands until
/// its client reads.
const OUTPUT_HIGH_WATER: usize = 64 * 1024 * 1024;
/// Pushes to a client with this much unsent output close it (Redis's
/// pub/sub client hard limit).
const PUSH_HARD_LIMIT: usize = 32 * 1024 * 1024;

/// Where to listen.
#[derive(Clone, Debug)]
pub struct ListenOptions {
    /// Address to bind; loopback by default.
    pub bind: String,
    /// Port; 0 picks a free one (see [`Listener::local_addr`]).
    pub port: u16,
}

impl Default for ListenOptions {
    fn default() -> ListenOptions {
        ListenOptions {
            bind: "127.0.0.1".into(),
            port: 6379,
        }
    }
}

/// A running listener. Dropping it (or [`Listener::stop`]) stops accepting,
/// closes every connection it made and joins its thread.
pub struct Listener {
    shared: Arc<LoopShared>,
    addr: SocketAddr,
    thread: Option<JoinHandle<()>>,
}

impl Listener {
    /// Binds and starts serving `engine`.
    pub fn start(engine: Arc<Engine>, opts: &ListenOptions) -> io::Result<Listener> {
        let sock = std::net::TcpListener::bind((opts.bind.as_str(), opts.port))?;
        let addr = sock.local_addr()?;
        let (shared, thread) = event_loop::spawn(engine, sock)?;
        Ok(Listener {
            shared,
            addr,
            thread: Some(thread),
        })
    }

    /// The bound address (with the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Number of open connections.
    pub fn connections(&self) -> usize {
        self.shared.open.load(Ordering::SeqCst)
    }

    /// Stops accepting, closes every connection and waits for the loop
    /// thread to finish.
    pub fn stop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        let _ = self.shared.waker.wake();
        if let Some(h) = self.thread.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop();
    }
}
