//! A TCP server that serves one [`Engine`] to any Redis client.
//!
//! # Threads
//!
//! One thread accepts. Each connection gets a reader thread, which decodes
//! requests and runs them, and a writer thread, which sends what the engine
//! pushes while the reader is busy or idle (pub/sub messages, the reply of
//! a blocking command).
//!
//! # Invariants
//!
//! - Nothing waits on a socket while the engine lock is held. Replies are
//!   encoded into the connection's output buffer under the lock (so they
//!   stay in order with pushes, which the engine also writes under the
//!   lock through the connection's [`Sink`]) and written after it is
//!   released. A stalled client therefore only stalls its own threads.
//! - One writer at a time: the `writing` flag of the output buffer is a
//!   token taken by whichever thread (reader or writer) sends bytes.
//! - A client's pipelined commands are run in order, and its replies leave
//!   in that order. A blocked command holds the rest of the pipeline back
//!   until its reply has been queued.
//! - Backpressure: a reader whose client does not read its replies stops
//!   reading requests once `OUTPUT_HIGH_WATER` bytes are queued.

use super::clients::{ClientInfo, Control};
use super::encode::encode;
use super::request::{Limits, RequestDecoder};
use crate::engine::{Engine, Outgoing, Session, Sink, State};
use crate::reply::Reply;
use crate::util::eq_ic;
use parking_lot::{Condvar, Mutex, MutexGuard};
use std::collections::HashMap;
use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Most commands run under one hold of the engine lock.
const BATCH: usize = 128;
/// A reader stops reading while this much output waits.
const OUTPUT_HIGH_WATER: usize = 64 * 1024 * 1024;
/// Pushes to a client with this much unsent output close it (Redis's
/// pub/sub client hard limit).
const PUSH_HARD_LIMIT: usize = 32 * 1024 * 1024;
/// How often a blocked client's socket is checked for a hang-up.
const BLOCKED_POLL: Duration = Duration::from_millis(10);

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

struct Shared {
    engine: Arc<Engine>,
    stopping: AtomicBool,
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
}

/// A running listener. Dropping it (or [`Listener::stop`]) stops accepting
/// and closes every connection it made.
pub struct Listener {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept: Option<JoinHandle<()>>,
}

impl Listener {
    /// Binds and starts serving `engine`.
    pub fn start(engine: Arc<Engine>, opts: &ListenOptions) -> io::Result<Listener> {
        let sock = TcpListener::bind((opts.bind.as_str(), opts.port))?;
        let addr = sock.local_addr()?;
        let shared = Arc::new(Shared {
            engine,
            stopping: AtomicBool::new(false),
            conns: Mutex::new(HashMap::new()),
        });
        let sh = shared.clone();
        let accept = std::thread::Builder::new()
            .name(format!("ferrite-listen-{}", addr.port()))
            .spawn(move || accept_loop(sh, sock))?;
        Ok(Listener {
            shared,
            addr,
            accept: Some(accept),
        })
    }

    /// The bound address (with the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Number of open connections.
    pub fn connections(&self) -> usize {
        self.shared.conns.lock().len()
    }

    /// Stops accepting and closes every connection.
    pub fn stop(&mut self) {
        if self.shared.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        // Wake the accept call with a connection of our own.
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(if wake.is_ipv4() {
                std::net::Ipv4Addr::LOCALHOST.into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            });
        }
        let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(1));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
        let conns: Vec<Arc<Conn>> = self.shared.conns.lock().values().cloned().collect();
        for c in conns {
            c.kill();
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(shared: Arc<Shared>, sock: TcpListener) {
    for stream in sock.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        match stream {
            Ok(s) => {
                if let Err(e) = open_conn(&shared, s) {
                    eprintln!("ferrite listener: connection setup failed: {e}");
                }
            }
            // Out of descriptors and the like: back off a little.
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// The parts of a connection that other threads (the writer, the engine's
/// pushes, CLIENT KILL) reach.
struct Conn {
    id: u64,
    stream: TcpStream,
    out: Mutex<Out>,
    cv: Condvar,
    resp3: AtomicBool,
    /// CLIENT REPLY OFF: pushes are dropped too.
    reply_off: AtomicBool,
    closed: AtomicBool,
}

#[derive(Default)]
struct Out {
    data: Vec<u8>,
    spare: Vec<u8>,
    /// A thread is writing to the socket (the one-writer token).
    writing: bool,
    /// The writer thread should finish.
    closing: bool,
    /// Token of the last `Outgoing::Served` received.
    served: Option<u64>,
}

impl Conn {
    fn proto(&self) -> u8 {
        if self.resp3.load(Ordering::Relaxed) {
            3
        } else {
            2
        }
    }

    /// Writes queued output until none is left, unless another thread holds
    /// the writing token. Blocks only the calling thread.
    fn flush(&self, mut o: MutexGuard<'_, Out>) -> io::Result<()> {
        if o.writing {
            return Ok(());
        }
        o.writing = true;
        loop {
            if o.data.is_empty() || self.closed.load(Ordering::Relaxed) {
                o.writing = false;
                self.cv.notify_all();
                return Ok(());
            }
            let spare = std::mem::take(&mut o.spare);
            let mut buf = std::mem::replace(&mut o.data, spare);
            let r = MutexGuard::unlocked(&mut o, || (&self.stream).write_all(&buf));
            buf.clear();
            if buf.capacity() <= 1 << 20 {
                o.spare = buf;
            }
            if let Err(e) = r {
                o.writing = false;
                self.closed.store(true, Ordering::SeqCst);
                self.cv.notify_all();
                return Err(e);
            }
        }
    }

    fn kill(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let _ = self.stream.shutdown(Shutdown::Both);
        let mut o = self.out.lock();
        o.closing = true;
        self.cv.notify_all();
    }
}

impl Sink for Conn {
    fn send(&self, msg: Outgoing) -> bool {
        if self.closed.load(Ordering::Relaxed) {
            return false;
        }
        let proto = self.proto();
        let mut o = self.out.lock();
        match msg {
            Outgoing::Served { token, reply } => {
                if !self.reply_off.load(Ordering::Relaxed) {
                    encode(&reply, proto, &mut o.data);
                }
                o.served = Some(token);
            }
            Outgoing::Push(reply) => {
                if self.reply_off.load(Ordering::Relaxed) {
                    return true;
                }
                if o.data.len() > PUSH_HARD_LIMIT {
                    drop(o);
                    self.kill();
                    return false;
                }
                encode(&reply, proto, &mut o.data);
            }
        }
        self.cv.notify_all();
        true
    }

    fn alive(&self) -> bool {
        !self.closed.load(Ordering::Relaxed)
    }
}

impl Control for Conn {
    fn kill(&self) {
        Conn::kill(self);
    }
}

/// A numeric or memory-size parameter (`maxclients`, `proto-max-bulk-len`).
/// (CONFIG SET stores them normalized to plain numbers; read without
/// allocating, as this runs once per batch.)
fn config_num(st: &State, name: &str, default: i64) -> i64 {
    st.config
        .other
        .get(name)
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(default)
}

fn auth_required(st: &State, session: &Session) -> bool {
    !session.authenticated
        && st
            .config
            .other
            .get("requirepass")
            .is_some_and(|p| !p.is_empty())
}

fn open_conn(shared: &Arc<Shared>, stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let peer = stream.peer_addr()?.to_string();
    let local = stream.local_addr()?.to_string();
    let engine = &shared.engine;
    let mut session = engine.session();
    let conn = Arc::new(Conn {
        id: session.id,
        stream: stream.try_clone()?,
        out: Mutex::new(Out::default()),
        cv: Condvar::new(),
        resp3: AtomicBool::new(false),
        reply_off: AtomicBool::new(false),
        closed: AtomicBool::new(false),
    });
    {
        let mut st = engine.lock();
        let max = config_num(&st, "maxclients", 10000);
        if st.clients.len() as i64 >= max {
            drop(st);
            let _ = (&stream).write_all(b"-ERR max number of clients reached\r\n");
            let _ = stream.shutdown(Shutdown::Both);
            return Ok(());
        }
        session.authenticated = !auth_required(&st, &session);
        session.sink = Some(conn.clone() as Arc<dyn Sink>);
        let mut info = ClientInfo::new(&session, peer, local, engine.clock.now_ms());
        #[cfg(unix)]
        {
            use std::os::unix::io::AsRawFd;
            info.fd = stream.as_raw_fd() as i64;
        }
        info.control = Some(conn.clone() as Arc<dyn Control>);
        st.clients.register(info);
    }
    shared.conns.lock().insert(conn.id, conn.clone());
    let writer = {
        let conn = conn.clone();
        std::thread::Builder::new()
            .name(format!("ferrite-w{}", conn.id))
            .stack_size(64 * 1024)
            .spawn(move || writer_loop(&conn))?
    };
    let sh = shared.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("ferrite-c{}", conn.id))
        .spawn(move || {
            let mut stream = stream;
            reader_loop(&sh, &conn, &mut session, &mut stream);
            close_conn(&sh, &conn, session, writer);
        });
    spawned.map(|_| ())
}

fn writer_loop(conn: &Conn) {
    let mut o = conn.out.lock();
    loop {
        while !o.closing && (o.data.is_empty() || o.writing) {
            conn.cv.wait(&mut o);
        }
        if o.closing {
            return;
        }
        if conn.flush(o).is_err() {
            return;
        }
        o = conn.out.lock();
    }
}

/// Per-connection state the reader keeps between commands.
struct ReaderState {
    reply_off: bool,
    skip_next: bool,
    close_after: bool,
    limits: Limits,
    query_limit: usize,
}

fn reader_loop(shared: &Shared, conn: &Conn, session: &mut Session, stream: &mut TcpStream) {
    let engine = &shared.engine;
    let mut dec = RequestDecoder::new();
    let mut rs = {
        let st = engine.lock();
        ReaderState {
            reply_off: false,
            skip_next: false,
            close_after: false,
            limits: Limits {
                max_bulk: config_num(&st, "proto-max-bulk-len", 512 << 20),
                auth_required: auth_required(&st, session),
            },
            query_limit: config_num(&st, "client-query-buffer-limit", 1 << 30) as usize,
        }
    };
    loop {
        // Run every complete command already buffered.
        loop {
            let max = if rs.limits.auth_required { 1 } else { BATCH };
            let parsed = dec.parse(&rs.limits, max);
            if dec.batch_len() != 0 {
                run_batch(engine, conn, session, &dec, &mut rs);
            }
            let failed = parsed.is_err();
            if let Err(e) = parsed {
                let mut o = conn.out.lock();
                encode(&Reply::err(e.reply_text()), conn.proto(), &mut o.data);
                rs.close_after = true;
            }
            let o = conn.out.lock();
            let backlog = o.data.len();
            let _ = conn.flush(o);
            if rs.close_after || conn.closed.load(Ordering::SeqCst) {
                return;
            }
            if backlog > OUTPUT_HIGH_WATER {
                wait_drained(conn);
            }
            if dec.batch_len() == 0 || failed {
                break;
            }
        }
        if dec.buffered() > rs.query_limit {
            return;
        }
        match dec.read_from(stream) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// Waits until the writer has sent the backlog down (backpressure).
fn wait_drained(conn: &Conn) {
    let mut o = conn.out.lock();
    while o.data.len() > OUTPUT_HIGH_WATER / 2 && !conn.closed.load(Ordering::SeqCst) {
        conn.cv.wait_for(&mut o, Duration::from_millis(100));
    }
}

/// Runs the decoded batch under the engine lock, queueing replies.
fn run_batch(
    engine: &Engine,
    conn: &Conn,
    session: &mut Session,
    dec: &RequestDecoder,
    rs: &mut ReaderState,
) {
    let mut argv: Vec<&[u8]> = Vec::with_capacity(8);
    let argv = &mut argv;
    let mut st = engine.lock();
    let mut i = 0;
    let mut last_name = "NULL";
    while i < dec.batch_len() {
        dec.argv(i, argv);
        i += 1;
        let reply = if rs.limits.auth_required && needs_auth(argv[0]) {
            Reply::err("NOAUTH Authentication required.")
        } else {
            engine.execute_locked(&mut st, session, argv)
        };
        conn.resp3.store(session.resp == 3, Ordering::Relaxed);
        last_name = spec_name(argv[0]);
        let mut send = !(rs.reply_off || rs.skip_next);
        rs.skip_next = false;
        let is_client = eq_ic(argv[0], "client");
        if is_client && argv.len() == 3 && eq_ic(argv[1], "reply") && reply == Reply::ok() {
            if eq_ic(argv[2], "on") {
                rs.reply_off = false;
                send = true;
            } else if eq_ic(argv[2], "off") {
                rs.reply_off = true;
                send = false;
            } else {
                rs.skip_next = !rs.reply_off;
                send = false;
            }
            conn.reply_off.store(rs.reply_off, Ordering::Relaxed);
        } else if eq_ic(argv[0], "reset") && matches!(&reply, Reply::Status(s) if s == "RESET") {
            rs.reply_off = false;
            conn.reply_off.store(false, Ordering::Relaxed);
            send = true;
        } else if eq_ic(argv[0], "quit") && reply == Reply::ok() {
            rs.close_after = true;
        }
        if is_client {
            if let Some(c) = st.clients.get(session.id) {
                rs.close_after |= c.close_after_reply;
            }
        }
        let blocked = session.blocked.take();
        if blocked.is_none() && send {
            let mut o = conn.out.lock();
            if is_confirmation_list(&reply) {
                // (P)SUBSCRIBE / (P)UNSUBSCRIBE: one frame per channel.
                for frame in crate::pubsub::confirmation_frames(argv[0], reply) {
                    encode(&frame, session.resp, &mut o.data);
                }
            } else {
                encode(&reply, session.resp, &mut o.data);
            }
        }
        if rs.limits.auth_required {
            rs.limits.auth_required = auth_required(&st, session);
        }
        if let Some(token) = blocked {
            st.clients.touch(session, last_name, engine.clock.now_ms());
            if let Some(c) = st.clients.get_mut(session.id) {
                c.blocked = true;
            }
            drop(st);
            let o = conn.out.lock();
            let _ = conn.flush(o);
            wait_served(conn, token);
            if conn.closed.load(Ordering::SeqCst) {
                return;
            }
            st = engine.lock();
        }
        if rs.close_after {
            break;
        }
    }
    rs.limits.auth_required = auth_required(&st, session);
    rs.limits.max_bulk = config_num(&st, "proto-max-bulk-len", 512 << 20);
    st.clients.touch(session, last_name, engine.clock.now_ms());
}

/// True for a reply shaped like the confirmation list of a (P)SUBSCRIBE or
/// (P)UNSUBSCRIBE (an array of pushes): one cheap match for other replies.
fn is_confirmation_list(reply: &Reply) -> bool {
    matches!(reply, Reply::Array(items) if matches!(items.first(), Some(Reply::Push(_))))
}

/// The table name of a command, for CLIENT LIST's `cmd=`.
fn spec_name(argv0: &[u8]) -> &'static str {
    Engine::lookup(argv0).map_or("NULL", |s| s.name)
}

/// True for commands an unauthenticated client may not run.
fn needs_auth(argv0: &[u8]) -> bool {
    Engine::lookup(argv0).is_none_or(|s| !s.flags.contains(crate::command::Flags::NO_AUTH))
}

/// Waits for the reply of the blocked command `token`, watching the socket
/// for a hang-up meanwhile.
fn wait_served(conn: &Conn, token: u64) {
    loop {
        {
            let mut o = conn.out.lock();
            if o.served == Some(token) || conn.closed.load(Ordering::SeqCst) {
                break;
            }
            conn.cv.wait_for(&mut o, BLOCKED_POLL);
            if o.served == Some(token) {
                break;
            }
        }
        // A client that hangs up while blocked is gone: peeking sees EOF.
        let _ = conn.stream.set_read_timeout(Some(Duration::from_millis(1)));
        let mut b = [0u8; 1];
        if let Ok(0) = conn.stream.peek(&mut b) {
            conn.closed.store(true, Ordering::SeqCst);
        }
        let _ = conn.stream.set_read_timeout(None);
    }
    let o = conn.out.lock();
    let _ = conn.flush(o);
}

fn close_conn(shared: &Shared, conn: &Arc<Conn>, mut session: Session, writer: JoinHandle<()>) {
    {
        let o = conn.out.lock();
        let _ = conn.flush(o);
    }
    conn.kill();
    let _ = writer.join();
    {
        let mut st = shared.engine.lock();
        st.clients.remove(conn.id);
        // A client that leaves while blocked stops waiting.
        if let Some(token) = st.blocking.token_of(conn.id) {
            st.blocking.remove(token);
        }
        // Its MULTI queue, watches and subscriptions go at once (as
        // `Engine::forget_session`, under the lock already held).
        crate::tx::release_session(&mut st, &mut session);
    }
    drop(session);
    shared.conns.lock().remove(&conn.id);
}
