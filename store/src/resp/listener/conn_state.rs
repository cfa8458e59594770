//! One connection's state: the part other threads reach
//! ([`ConnShared`]: the engine's `Sink`, CLIENT KILL's `Control`) and the
//! part only the event loop touches ([`Conn`]: socket, decoder, output
//! buffer, session).

use super::event_loop::LoopShared;
use super::PUSH_HARD_LIMIT;
use crate::engine::{Outgoing, Session, Sink};
use crate::resp::clients::Control;
use crate::resp::encode::encode;
use crate::resp::request::{Limits, ProtocolError, RequestDecoder};
use parking_lot::Mutex;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// Output buffers above this capacity are not kept once drained.
const KEEP_CAPACITY: usize = 1 << 20;

/// What other threads leave for the loop: encoded pushes and the result of
/// a blocked command, in arrival order.
#[derive(Default)]
pub(super) struct Inbox {
    /// Encoded frames not yet moved to the output buffer.
    pub data: Vec<u8>,
    /// Token of the last `Outgoing::Served` received.
    pub served: Option<u64>,
}

/// The parts of a connection that other threads reach: the engine sends
/// pushes and blocking results through it (as a [`Sink`]), other clients
/// kill it (as a [`Control`]).
///
/// Invariant: every `send`/`kill` that changes the inbox or the flags also
/// queues the connection on its loop (`notify`), so the loop sees it
/// before it next sleeps.
pub(super) struct ConnShared {
    /// Client id (the session's).
    pub id: u64,
    /// The connection's token in its loop.
    pub token: usize,
    pub lp: Arc<LoopShared>,
    pub inbox: Mutex<Inbox>,
    /// Set when the inbox has something; cleared by the loop as it takes it.
    pub inbox_ready: AtomicBool,
    /// Already in the loop's pending list.
    queued: AtomicBool,
    /// The session speaks RESP3 (pushes are encoded for it).
    pub resp3: AtomicBool,
    /// CLIENT REPLY OFF: pushes and blocked results are dropped too.
    pub reply_off: AtomicBool,
    /// Gone or going: the sink refuses further messages.
    pub closed: AtomicBool,
    /// Killed by another client or the hard limit: close without flushing.
    pub killed: AtomicBool,
    /// Unsent bytes in the loop's output buffer (as of its last flush).
    pub unsent: AtomicUsize,
}

impl ConnShared {
    pub fn new(id: u64, token: usize, lp: Arc<LoopShared>) -> ConnShared {
        ConnShared {
            id,
            token,
            lp,
            inbox: Mutex::new(Inbox::default()),
            inbox_ready: AtomicBool::new(false),
            queued: AtomicBool::new(false),
            resp3: AtomicBool::new(false),
            reply_off: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            killed: AtomicBool::new(false),
            unsent: AtomicUsize::new(0),
        }
    }

    /// Queues this connection on its loop (once until the loop takes it),
    /// waking the loop unless the caller is the loop thread itself (which
    /// drains its pending list before it sleeps).
    fn notify(&self) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.lp.pending.lock().push(self.token);
            if !self.lp.on_loop_thread() {
                let _ = self.lp.waker.wake();
            }
        }
    }

    /// The loop took this connection off its pending list.
    pub fn dequeued(&self) {
        self.queued.store(false, Ordering::Release);
    }
}

impl Sink for ConnShared {
    fn send(&self, msg: Outgoing) -> bool {
        if self.closed.load(Ordering::Relaxed) {
            return false;
        }
        let proto = if self.resp3.load(Ordering::Relaxed) {
            3
        } else {
            2
        };
        let reply_off = self.reply_off.load(Ordering::Relaxed);
        {
            let mut ib = self.inbox.lock();
            match msg {
                Outgoing::Served { token, reply } => {
                    if !reply_off {
                        encode(&reply, proto, &mut ib.data);
                    }
                    ib.served = Some(token);
                }
                Outgoing::Push(reply) => {
                    if reply_off {
                        return true;
                    }
                    if ib.data.len() + self.unsent.load(Ordering::Relaxed) > PUSH_HARD_LIMIT {
                        drop(ib);
                        Control::kill(self);
                        return false;
                    }
                    encode(&reply, proto, &mut ib.data);
                }
            }
        }
        self.inbox_ready.store(true, Ordering::Release);
        self.notify();
        true
    }

    fn alive(&self) -> bool {
        !self.closed.load(Ordering::Relaxed)
    }
}

impl Control for ConnShared {
    fn kill(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.killed.store(true, Ordering::SeqCst);
        self.notify();
    }
}

/// How a read went.
pub(super) enum ReadOutcome {
    /// Bytes arrived.
    Data,
    /// Nothing more to read now.
    Drained,
    /// The client closed its side.
    Eof,
    /// The socket failed.
    Failed,
}

/// A connection as the loop owns it.
pub(super) struct Conn {
    pub shared: Arc<ConnShared>,
    pub stream: mio::net::TcpStream,
    pub session: Session,
    pub dec: RequestDecoder,
    /// Index in the decoder's batch of the next command to run.
    pub next: usize,
    /// A protocol error found after the current batch: replied and the
    /// connection closed once the batch has run.
    pub proto_err: Option<ProtocolError>,
    /// Encoded output; `wbuf[wpos..]` is unsent.
    pub wbuf: Vec<u8>,
    pub wpos: usize,
    /// The socket may hold unread bytes (an edge was seen and no short
    /// read or `WouldBlock` since).
    pub readable: bool,
    /// The client closed its side (or the socket failed).
    pub hup: bool,
    /// The blocked command's token, while one is blocked.
    pub blocked: Option<u64>,
    /// Token of the last blocked result taken from the inbox.
    pub served: Option<u64>,
    /// Close once the output is written (QUIT, protocol error, EOF,
    /// CLIENT KILL of oneself).
    pub close_after: bool,
    /// CLIENT REPLY OFF.
    pub reply_off: bool,
    /// CLIENT REPLY SKIP: drop the next reply.
    pub skip_next: bool,
    pub limits: Limits,
    /// `client-query-buffer-limit`.
    pub query_limit: usize,
}

impl Conn {
    /// Unsent output bytes.
    #[inline]
    pub fn unsent(&self) -> usize {
        self.wbuf.len() - self.wpos
    }

    /// Moves what other threads left in the inbox to the output buffer.
    #[inline]
    pub fn take_inbox(&mut self) {
        if !self.shared.inbox_ready.swap(false, Ordering::Acquire) {
            return;
        }
        let mut ib = self.shared.inbox.lock();
        if self.unsent() == 0 && self.wbuf.capacity() <= ib.data.capacity() {
            self.wbuf.clear();
            self.wpos = 0;
            std::mem::swap(&mut self.wbuf, &mut ib.data);
        } else {
            self.wbuf.extend_from_slice(&ib.data);
            ib.data.clear();
        }
        if let Some(t) = ib.served.take() {
            self.served = Some(t);
        }
    }

    /// Reads once into the decoder, through the loop's `scratch` buffer
    /// (the decoder's own `read_from` zeroes a fresh 16 KiB on every call,
    /// which cost more than the read of a typical pipeline).
    pub fn read(&mut self, scratch: &mut [u8]) -> ReadOutcome {
        loop {
            match (&mut &self.stream).read(scratch) {
                Ok(0) => return ReadOutcome::Eof,
                Ok(n) => {
                    if n < scratch.len() {
                        // Drained: the next bytes raise a new edge.
                        self.readable = false;
                    }
                    self.dec.feed(&scratch[..n]);
                    return ReadOutcome::Data;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.readable = false;
                    return ReadOutcome::Drained;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return ReadOutcome::Failed,
            }
        }
    }

    /// True when the socket of a blocked client shows it hung up (a peek
    /// sees the end of the stream or an error).
    pub fn hung_up(&mut self) -> bool {
        if self.hup {
            return true;
        }
        if !self.readable {
            return false;
        }
        let mut b = [0u8; 1];
        match self.stream.peek(&mut b) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.readable = false;
                false
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => false,
            Err(_) => true,
        }
    }

    /// Writes unsent output until done or the socket would block.
    pub fn flush(&mut self) -> io::Result<()> {
        while self.wpos < self.wbuf.len() {
            match (&mut &self.stream).write(&self.wbuf[self.wpos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.wpos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.wpos == self.wbuf.len() {
            self.wbuf.clear();
            self.wpos = 0;
            if self.wbuf.capacity() > KEEP_CAPACITY {
                self.wbuf = Vec::new();
            }
        } else if self.wpos > KEEP_CAPACITY && self.wpos > self.wbuf.len() / 2 {
            // Most of a big buffer is sent: drop the sent part.
            self.wbuf.drain(..self.wpos);
            self.wpos = 0;
        }
        self.shared.unsent.store(self.unsent(), Ordering::Relaxed);
        Ok(())
    }
}
