//! The engine's registry of connected clients: what CLIENT LIST, CLIENT
//! INFO, CLIENT KILL and INFO's `connected_clients` read.
//!
//! It lives in the engine state (`State::clients`), so it is read and
//! written under the engine lock. A connection (the listener's, or any
//! front end that wants its clients listed) registers an entry with a
//! [`Control`] to be killed through, keeps the entry's mirror fields
//! current after each command ([`Registry::touch`]), and removes it when
//! it goes. Sessions that never register (plain embedded calls) are simply
//! not listed, except the caller itself in CLIENT LIST/INFO.

use crate::engine::Session;
use std::collections::BTreeMap;
use std::sync::Arc;

/// How a connection can be acted on from another client's command.
pub trait Control: Send + Sync {
    /// Closes the connection at once (CLIENT KILL of another client).
    fn kill(&self);
}

/// One registered client.
#[derive(Clone)]
pub struct ClientInfo {
    /// Client id (the session's).
    pub id: u64,
    /// Peer address, `ip:port`.
    pub addr: String,
    /// Local address, `ip:port`.
    pub laddr: String,
    /// File descriptor number, or -1.
    pub fd: i64,
    /// When the connection was made, Unix ms.
    pub created_ms: u64,
    /// Last command time, Unix ms.
    pub last_ms: u64,
    /// Mirror of the session's name.
    pub name: Option<Vec<u8>>,
    /// Mirror of the session's selected database.
    pub db: usize,
    /// Mirror of the session's protocol.
    pub resp: u8,
    /// Name of the last command (`client|info` style for subcommands).
    pub last_cmd: String,
    /// Mirror: blocked in a blocking command.
    pub blocked: bool,
    /// Channel subscriptions (mirrored by the pub/sub layer when it knows).
    pub sub: usize,
    /// Pattern subscriptions.
    pub psub: usize,
    /// Shard channel subscriptions.
    pub ssub: usize,
    /// Commands queued in MULTI, or -1 outside MULTI.
    pub multi: i64,
    /// Bytes in the query buffer.
    pub qbuf: usize,
    /// Bytes in the output buffer.
    pub omem: usize,
    /// `CLIENT NO-EVICT` state.
    pub no_evict: bool,
    /// Set by a command that asks for the connection to close once its
    /// reply is written (CLIENT KILL of oneself).
    pub close_after_reply: bool,
    /// How to kill it; `None` for entries that cannot be killed.
    pub control: Option<Arc<dyn Control>>,
}

impl ClientInfo {
    /// A fresh entry for `session`.
    pub fn new(session: &Session, addr: String, laddr: String, now_ms: u64) -> ClientInfo {
        ClientInfo {
            id: session.id,
            addr,
            laddr,
            fd: -1,
            created_ms: now_ms,
            last_ms: now_ms,
            name: session.name.clone(),
            db: session.db,
            resp: session.resp,
            last_cmd: "NULL".into(),
            blocked: false,
            sub: 0,
            psub: 0,
            ssub: 0,
            multi: -1,
            qbuf: 0,
            omem: 0,
            no_evict: false,
            close_after_reply: false,
            control: None,
        }
    }

    /// Copies the session's subscription counts and MULTI queue length
    /// (`-1` outside MULTI) into the entry.
    pub fn mirror_subs_and_multi(&mut self, session: &Session) {
        self.sub = session.subs.channels;
        self.psub = session.subs.patterns;
        self.ssub = session.subs.shard;
        self.multi = if session.tx.multi {
            session.tx.queue.len() as i64
        } else {
            -1
        };
    }

    /// `pubsub` when the client has subscriptions, else `normal`.
    pub fn kind(&self) -> &'static str {
        if self.sub + self.psub + self.ssub > 0 {
            "pubsub"
        } else {
            "normal"
        }
    }

    /// Redis's `flags=` letters.
    pub fn flags(&self) -> String {
        let mut f = String::new();
        if self.sub + self.psub + self.ssub > 0 {
            f.push('P');
        }
        if self.multi >= 0 {
            f.push('x');
        }
        if self.blocked {
            f.push('b');
        }
        if self.close_after_reply {
            f.push('c');
        }
        if self.no_evict {
            f.push('e');
        }
        if f.is_empty() {
            f.push('N');
        }
        f
    }

    /// One CLIENT LIST line (with its trailing newline), in Redis 7.0's
    /// field order.
    pub fn line(&self, now_ms: u64) -> String {
        let name = self
            .name
            .as_deref()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default();
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=16384 rbp=0 obl=0 oll=0 omem={} tot-mem={} events=r cmd={} user=default redir=-1 resp={}\n",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            name,
            now_ms.saturating_sub(self.created_ms) / 1000,
            now_ms.saturating_sub(self.last_ms) / 1000,
            self.flags(),
            self.db,
            self.sub,
            self.psub,
            self.ssub,
            self.multi,
            self.qbuf,
            self.omem,
            self.qbuf + self.omem,
            self.last_cmd,
            self.resp,
        )
    }
}

/// Every registered client, in id (connection) order.
#[derive(Default)]
pub struct Registry {
    clients: BTreeMap<u64, ClientInfo>,
}

impl Registry {
    /// Adds a client.
    pub fn register(&mut self, info: ClientInfo) {
        self.clients.insert(info.id, info);
    }

    /// Removes a client.
    pub fn remove(&mut self, id: u64) -> Option<ClientInfo> {
        self.clients.remove(&id)
    }

    /// Number of registered clients (INFO `connected_clients`).
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// True when no client is registered.
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// The entry of client `id`.
    pub fn get(&self, id: u64) -> Option<&ClientInfo> {
        self.clients.get(&id)
    }

    /// The entry of client `id`, mutable.
    pub fn get_mut(&mut self, id: u64) -> Option<&mut ClientInfo> {
        self.clients.get_mut(&id)
    }

    /// Every entry, in id order.
    pub fn iter(&self) -> impl Iterator<Item = &ClientInfo> {
        self.clients.values()
    }

    /// Refreshes the mirror fields of `session`'s entry after a command.
    pub fn touch(&mut self, session: &Session, cmd: &str, now_ms: u64) {
        if let Some(c) = self.clients.get_mut(&session.id) {
            c.last_ms = now_ms;
            c.db = session.db;
            c.resp = session.resp;
            if c.name != session.name {
                c.name = session.name.clone();
            }
            if c.last_cmd != cmd {
                c.last_cmd.clear();
                c.last_cmd.push_str(cmd);
            }
            c.blocked = session.blocked.is_some();
            c.mirror_subs_and_multi(session);
        }
    }
}
