//! The event loop: one thread, one `mio::Poll` (epoll) over the listening
//! socket, a waker and every connection.
//!
//! Each turn: wait for events; accept new connections; for each
//! connection with an event, or queued by another thread (a push, a
//! blocked result, a kill), `drive` it: take its inbox, run what it has
//! decoded, read once if it may have more, and write its output. A
//! connection whose read filled the whole buffer is driven again on the
//! next turn (after the others had theirs), so one busy client cannot
//! starve the rest.
//!
//! Sockets are registered once, edge-triggered, for reading and writing.
//! Invariant: `Conn::readable` is true whenever unread bytes may be in the
//! socket without a new edge to come (it is cleared only by a short read
//! or `WouldBlock`), so a connection that stopped reading (blocked,
//! backpressure, fairness) resumes without an event.

use super::conn_state::{Conn, ConnShared, ReadOutcome};
use super::exec::{self, auth_required};
use super::OUTPUT_HIGH_WATER;
use crate::engine::{Engine, Sink};
use crate::reply::Reply;
use crate::resp::clients::{ClientInfo, Control};
use crate::resp::encode::encode;
use crate::resp::request::{Limits, RequestDecoder};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use parking_lot::Mutex;
use std::cell::Cell;
use std::io::{self, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
/// Connection tokens start here (slot index + FIRST_CONN).
const FIRST_CONN: usize = 2;
/// The most one read takes from a socket.
const READ_SIZE: usize = 64 * 1024;

thread_local! {
    /// The `LoopShared` (as an address) whose loop runs on this thread.
    static LOOP_OF_THREAD: Cell<usize> = const { Cell::new(0) };
}

/// What the loop shares with the world: the engine, its waker, the
/// connections other threads queued for it.
pub(super) struct LoopShared {
    pub engine: Arc<Engine>,
    pub waker: Waker,
    pub stopping: AtomicBool,
    /// Tokens of connections with something for the loop (see
    /// `ConnShared::notify`).
    pub pending: Mutex<Vec<usize>>,
    /// Open connections.
    pub open: AtomicUsize,
}

impl LoopShared {
    /// True on this loop's own thread (which needs no wake-up).
    pub fn on_loop_thread(&self) -> bool {
        LOOP_OF_THREAD.with(|c| c.get()) == self as *const LoopShared as usize
    }
}

/// Starts the loop thread for `sock`.
pub(super) fn spawn(
    engine: Arc<Engine>,
    sock: std::net::TcpListener,
) -> io::Result<(Arc<LoopShared>, JoinHandle<()>)> {
    sock.set_nonblocking(true)?;
    let port = sock.local_addr()?.port();
    let mut listener = TcpListener::from_std(sock);
    let poll = Poll::new()?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let waker = Waker::new(poll.registry(), WAKER)?;
    let shared = Arc::new(LoopShared {
        engine,
        waker,
        stopping: AtomicBool::new(false),
        pending: Mutex::new(Vec::new()),
        open: AtomicUsize::new(0),
    });
    let lp = shared.clone();
    let thread = std::thread::Builder::new()
        .name(format!("ferrite-listen-{port}"))
        .spawn(move || {
            LOOP_OF_THREAD.with(|c| c.set(Arc::as_ptr(&lp) as usize));
            EventLoop {
                lp,
                poll,
                listener,
                conns: Vec::new(),
                free: Vec::new(),
                scratch: vec![0; READ_SIZE],
            }
            .run()
        })?;
    Ok((shared, thread))
}

/// What `drive` decided.
enum Next {
    Keep,
    Close,
}

/// The loop thread's own state: the poll, the listening socket and the
/// connections it owns (nothing here is shared).
struct EventLoop {
    lp: Arc<LoopShared>,
    poll: Poll,
    listener: TcpListener,
    /// Connections by slot (token - FIRST_CONN).
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    /// Where reads land before the decoder copies them (one per loop:
    /// only one connection reads at a time).
    scratch: Vec<u8>,
}

impl EventLoop {
    fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        let mut todo: Vec<usize> = Vec::new();
        let mut again: Vec<usize> = Vec::new();
        loop {
            let timeout = if again.is_empty() {
                None
            } else {
                Some(std::time::Duration::ZERO)
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                eprintln!("ferrite listener: poll failed: {e}");
                break;
            }
            if self.lp.stopping.load(Ordering::SeqCst) {
                break;
            }
            std::mem::swap(&mut todo, &mut again);
            for ev in events.iter() {
                match ev.token() {
                    LISTENER => self.accept_all(),
                    WAKER => {}
                    Token(t) => {
                        if let Some(c) = self.slot(t) {
                            if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                                c.readable = true;
                            }
                            if ev.is_read_closed() || ev.is_error() {
                                c.hup = true;
                            }
                            todo.push(t);
                        }
                    }
                }
            }
            // Then whatever other threads (or these very connections, by
            // serving or publishing to each other) queued, until quiet.
            loop {
                self.take_pending(&mut todo);
                if todo.is_empty() {
                    break;
                }
                for t in todo.drain(..) {
                    self.drive_token(t, &mut again);
                }
            }
        }
        self.close_all();
    }

    fn slot(&mut self, token: usize) -> Option<&mut Conn> {
        self.conns
            .get_mut(token.wrapping_sub(FIRST_CONN))
            .and_then(Option::as_mut)
    }

    fn take_pending(&self, todo: &mut Vec<usize>) {
        let mut p = self.lp.pending.lock();
        todo.append(&mut p);
    }

    fn drive_token(&mut self, t: usize, again: &mut Vec<usize>) {
        let engine = &self.lp.engine;
        let Some(c) = self
            .conns
            .get_mut(t.wrapping_sub(FIRST_CONN))
            .and_then(Option::as_mut)
        else {
            return;
        };
        c.shared.dequeued();
        if let Next::Close = drive(engine, c, t, again, &mut self.scratch) {
            self.close(t);
        }
    }

    fn accept_all(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if let Err(e) = self.open(stream) {
                        eprintln!("ferrite listener: connection setup failed: {e}");
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // Out of descriptors and the like: the next connection
                // attempt raises a new edge.
                Err(_) => return,
            }
        }
    }

    /// Registers a new connection with the engine and the poll, or refuses
    /// it when `maxclients` are connected.
    fn open(&mut self, mut stream: TcpStream) -> io::Result<()> {
        stream.set_nodelay(true)?;
        let peer = stream.peer_addr()?.to_string();
        let local = stream.local_addr()?.to_string();
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.conns.push(None);
                self.conns.len() - 1
            }
        };
        let token = slot + FIRST_CONN;
        let engine = &self.lp.engine;
        let mut session = engine.session();
        let shared = Arc::new(ConnShared::new(session.id, token, self.lp.clone()));
        let (limits, query_limit) = {
            let mut st = engine.lock();
            let max = st.config.num("maxclients", 10000) as i64;
            if st.clients.len() as i64 >= max {
                drop(st);
                self.free.push(slot);
                let _ = (&stream).write(b"-ERR max number of clients reached\r\n");
                let _ = stream.shutdown(Shutdown::Both);
                return Ok(());
            }
            session.authenticated = !auth_required(&st, &session);
            session.sink = Some(shared.clone() as Arc<dyn Sink>);
            let mut info = ClientInfo::new(&session, peer, local, engine.clock.now_ms());
            #[cfg(unix)]
            {
                use std::os::unix::io::AsRawFd;
                info.fd = stream.as_raw_fd() as i64;
            }
            info.control = Some(shared.clone() as Arc<dyn Control>);
            st.clients.register(info);
            (
                Limits {
                    max_bulk: st.config.num("proto-max-bulk-len", 512 << 20) as i64,
                    auth_required: auth_required(&st, &session),
                },
                st.config.num("client-query-buffer-limit", 1 << 30) as usize,
            )
        };
        if let Err(e) = self.poll.registry().register(
            &mut stream,
            Token(token),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            self.unregister(&shared, &mut session);
            self.free.push(slot);
            return Err(e);
        }
        self.conns[slot] = Some(Conn {
            shared,
            stream,
            session,
            dec: RequestDecoder::new(),
            next: 0,
            proto_err: None,
            wbuf: Vec::new(),
            wpos: 0,
            readable: true,
            hup: false,
            blocked: None,
            served: None,
            close_after: false,
            reply_off: false,
            skip_next: false,
            limits,
            query_limit,
        });
        self.lp.open.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// Removes a client from the engine: registry entry, blocked waiter,
    /// MULTI queue, watches and subscriptions.
    fn unregister(&self, shared: &ConnShared, session: &mut crate::engine::Session) {
        let mut st = self.lp.engine.lock();
        // The sink refuses from now on (senders hold the engine lock).
        shared.closed.store(true, Ordering::SeqCst);
        st.clients.remove(shared.id);
        // A client that leaves while blocked stops waiting.
        if let Some(token) = st.blocking.token_of(shared.id) {
            st.blocking.remove(token);
        }
        crate::tx::release_session(&mut st, session);
    }

    /// Closes the connection in slot `token`.
    fn close(&mut self, token: usize) {
        let slot = token - FIRST_CONN;
        let Some(mut c) = self.conns[slot].take() else {
            return;
        };
        self.unregister(&c.shared, &mut c.session);
        let _ = self.poll.registry().deregister(&mut c.stream);
        let _ = c.stream.shutdown(Shutdown::Both);
        drop(c);
        self.free.push(slot);
        self.lp.open.fetch_sub(1, Ordering::SeqCst);
    }

    fn close_all(&mut self) {
        for slot in 0..self.conns.len() {
            if self.conns[slot].is_some() {
                self.close(slot + FIRST_CONN);
            }
        }
    }
}

/// Moves connection `c` (token `t`) forward as far as it can go without
/// waiting: inbox, blocked result, queued commands, one read, output.
/// Pushes `t` to `again` when it read a full buffer and may have more.
fn drive(
    engine: &Engine,
    c: &mut Conn,
    t: usize,
    again: &mut Vec<usize>,
    scratch: &mut [u8],
) -> Next {
    let mut did_read = false;
    loop {
        if c.shared.killed.load(Ordering::SeqCst) {
            return Next::Close;
        }
        c.take_inbox();
        if let Some(token) = c.blocked {
            if c.served != Some(token) {
                if c.hung_up() {
                    return Next::Close;
                }
                break;
            }
            c.blocked = None;
            if c.next >= c.dec.batch_len() && c.proto_err.is_none() {
                exec::touch_unblocked(engine, c);
            }
        }
        if c.close_after {
            break;
        }
        if c.unsent() > OUTPUT_HIGH_WATER {
            // Backpressure. Invariant: we stop only after a write that
            // would block, so a writable edge is sure to drive us again.
            if c.flush().is_err() {
                return Next::Close;
            }
            if c.unsent() > OUTPUT_HIGH_WATER {
                break;
            }
        }
        if c.next < c.dec.batch_len() {
            exec::run_batch(engine, c);
            continue;
        }
        if let Some(e) = c.proto_err.take() {
            let proto = c.session.resp;
            encode(&Reply::err(e.reply_text()), proto, &mut c.wbuf);
            c.close_after = true;
            continue;
        }
        let parsed = c.dec.parse(&c.limits, exec::parse_max(c));
        c.next = 0;
        if let Err(e) = parsed {
            c.proto_err = Some(e);
        }
        if c.dec.batch_len() != 0 || c.proto_err.is_some() {
            continue;
        }
        if !c.readable {
            break;
        }
        if did_read {
            // Others get their turn first.
            again.push(t);
            break;
        }
        if c.dec.buffered() > c.query_limit {
            return Next::Close;
        }
        did_read = true;
        match c.read(scratch) {
            ReadOutcome::Data | ReadOutcome::Drained => {}
            ReadOutcome::Eof => {
                c.readable = false;
                c.close_after = true;
            }
            ReadOutcome::Failed => return Next::Close,
        }
    }
    if c.flush().is_err() {
        return Next::Close;
    }
    if c.close_after && c.unsent() == 0 {
        return Next::Close;
    }
    Next::Keep
}
