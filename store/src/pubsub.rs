//! Pub/sub: channels, patterns, shard channels (Redis 7.0's sharded
//! pub/sub: SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH), subscriber sinks and
//! keyspace notifications (Redis 7.0's `pubsub.c` and `notify.c`).
//!
//! # Delivery scheme
//!
//! - A subscriber is a session with a [`Sink`]. Messages are delivered out of
//!   band as `Outgoing::Push(Reply::Push([...]))`, in Redis's shapes:
//!   `["message", channel, payload]` and
//!   `["pmessage", pattern, channel, payload]` and
//!   `["smessage", shard channel, payload]`. The RESP3 encoder writes
//!   them as `>` pushes, the RESP2 encoder as arrays, exactly as Redis does.
//! - The confirmations of SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE,
//!   SSUBSCRIBE and SUNSUBSCRIBE are the command's *reply*, never sent through the sink: the reply is a
//!   `Reply::Array` holding one `Reply::Push([kind, name, count])` per
//!   channel or pattern (`["unsubscribe", nil, count]` when there was
//!   nothing to unsubscribe from). A wire encoder writes each element as its
//!   own frame (see [`confirmation_frames`]); the NIF hands the list to the
//!   caller, which calls `{:subscribe, channel, count}` callbacks itself.
//!   Keeping them on the reply path keeps them ordered with the replies of
//!   the commands around them.
//! - PUBLISH returns the number of receivers that accepted the message (a
//!   client subscribed to the channel and to a matching pattern counts
//!   twice, as in Redis). `Sink::send` never blocks, so a slow subscriber
//!   never stalls the publisher.
//! - Shard channels are a namespace of their own, as in Redis: SPUBLISH
//!   reaches only SSUBSCRIBE subscribers (no pattern matches them), PUBLISH
//!   never reaches them. The count in `ssubscribe`/`sunsubscribe`
//!   confirmations is the client's shard channel count alone, the count in
//!   the other four its channels plus patterns; a RESP2 client is in
//!   subscribe mode while it has any of the three.
//! - A subscriber whose sink reports it is gone (`send` returns false) is
//!   dropped from every channel and pattern during that PUBLISH.
//!
//! # Invariants
//!
//! - `Hub::channels[ch]` holds client `c` exactly when
//!   `Hub::clients[c].channels` holds `ch` (likewise for patterns, and for
//!   `Hub::shard_channels` and `Hub::clients[c].shard`), and a channel,
//!   pattern or shard channel with no subscriber has no entry.
//! - `Hub::clients` holds exactly the clients with at least one
//!   subscription.
//! - `SessionSubs` counts mirror the hub after each pub/sub command the
//!   session runs (the hub is the truth; a session dropped by the hub as
//!   dead resynchronises at its next pub/sub command).

use crate::engine::{Ctx, Outgoing, Session, Sink, State};
use crate::reply::{Bulk, Reply};
use crate::tx::DropGuard;
use crate::types::shared::SharedBuf;
use crate::util::glob_match;
use hashbrown::HashMap;
use std::sync::Arc;

/// A set that remembers insertion order (for UNSUBSCRIBE without
/// arguments, which answers channel by channel).
#[derive(Default)]
struct OrderedSet {
    seq: HashMap<Vec<u8>, u64>,
    next: u64,
}

impl OrderedSet {
    /// Adds `v`; false when already present.
    fn insert(&mut self, v: &[u8]) -> bool {
        if self.seq.contains_key(v) {
            return false;
        }
        self.seq.insert(v.to_vec(), self.next);
        self.next += 1;
        true
    }

    fn remove(&mut self, v: &[u8]) -> bool {
        self.seq.remove(v).is_some()
    }

    fn len(&self) -> usize {
        self.seq.len()
    }

    /// The members in insertion order.
    fn ordered(&self) -> Vec<Vec<u8>> {
        let mut v: Vec<(&Vec<u8>, &u64)> = self.seq.iter().collect();
        v.sort_unstable_by_key(|(_, s)| **s);
        v.into_iter().map(|(k, _)| k.clone()).collect()
    }
}

/// One subscribed client.
struct Subscriber {
    sink: Arc<dyn Sink>,
    channels: OrderedSet,
    patterns: OrderedSet,
    shard: OrderedSet,
}

impl Subscriber {
    /// Channels plus patterns (Redis's `clientSubscriptionsCount`).
    fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// Every subscription, shard channels included.
    fn total(&self) -> usize {
        self.count() + self.shard.len()
    }
}

/// One pattern and its subscribers.
struct PatternSubs {
    pattern: Vec<u8>,
    clients: Vec<u64>,
}

/// Every channel and pattern subscription of an engine.
#[derive(Default)]
pub struct Hub {
    /// Channel → subscriber ids, in subscription order.
    channels: HashMap<Vec<u8>, Vec<u64>>,
    /// Patterns in first-subscription order.
    patterns: Vec<PatternSubs>,
    /// Shard channel → subscriber ids, in subscription order.
    shard_channels: HashMap<Vec<u8>, Vec<u64>>,
    /// Subscriber id → its sink and subscriptions.
    clients: HashMap<u64, Subscriber>,
}

impl Hub {
    /// Number of clients with at least one subscription.
    pub fn subscribers(&self) -> usize {
        self.clients.len()
    }

    /// Number of channels with at least one subscriber.
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    /// Number of shard channels with at least one subscriber (INFO
    /// `pubsubshard_channels`).
    pub fn shard_channel_count(&self) -> usize {
        self.shard_channels.len()
    }

    /// Number of patterns with at least one subscriber (PUBSUB NUMPAT; INFO
    /// `pubsub_patterns`).
    pub fn pattern_count(&self) -> usize {
        self.patterns.len()
    }

    /// Number of subscriptions (channels and patterns) of client `id`.
    pub fn subscriptions_of(&self, id: u64) -> usize {
        self.clients.get(&id).map_or(0, Subscriber::count)
    }

    /// Number of shard channel subscriptions of client `id`.
    pub fn shard_subscriptions_of(&self, id: u64) -> usize {
        self.clients.get(&id).map_or(0, |s| s.shard.len())
    }

    /// Drops client `id` from every channel and pattern.
    pub fn remove_client(&mut self, id: u64) {
        let Some(sub) = self.clients.remove(&id) else {
            return;
        };
        for ch in sub.channels.seq.keys() {
            self.unlink_channel(id, ch);
        }
        for p in sub.patterns.seq.keys() {
            self.unlink_pattern(id, p);
        }
        for ch in sub.shard.seq.keys() {
            unlink(&mut self.shard_channels, id, ch);
        }
    }

    fn unlink_channel(&mut self, id: u64, ch: &[u8]) {
        unlink(&mut self.channels, id, ch);
    }

    fn unlink_pattern(&mut self, id: u64, pattern: &[u8]) {
        if let Some(i) = self.patterns.iter().position(|p| p.pattern == pattern) {
            self.patterns[i].clients.retain(|c| *c != id);
            if self.patterns[i].clients.is_empty() {
                self.patterns.remove(i);
            }
        }
    }
}

/// Removes `id` from the subscribers of `ch` in `map`, and the entry once
/// it has none.
fn unlink(map: &mut HashMap<Vec<u8>, Vec<u64>>, id: u64, ch: &[u8]) {
    if let Some(ids) = map.get_mut(ch) {
        ids.retain(|c| *c != id);
        if ids.is_empty() {
            map.remove(ch);
        }
    }
}

/// One client's subscriptions, as the session sees them.
#[derive(Debug, Default)]
pub struct SessionSubs {
    /// Channels subscribed.
    pub channels: usize,
    /// Patterns subscribed.
    pub patterns: usize,
    /// Shard channels subscribed.
    pub shard: usize,
    /// Reports the session to the engine's graveyard if it is dropped while
    /// subscribed.
    guard: Option<DropGuard>,
}

impl SessionSubs {
    /// True while the client has any subscription (Redis's
    /// `CLIENT_PUBSUB`): a RESP2 client is then in subscribe mode.
    #[inline]
    pub fn active(&self) -> bool {
        self.channels + self.patterns + self.shard > 0
    }
}

/// True when `session` is a RESP2 client in subscribe mode: PING then
/// replies `["pong", message]` and only the pub/sub commands may run.
pub fn resp2_subscribed(session: &Session) -> bool {
    session.resp == 2 && session.subs.active()
}

/// Copies the hub's counts for `session` into `session.subs` and keeps the
/// drop guard armed while it has subscriptions.
fn sync_session(st: &mut State, session: &mut Session) {
    let (c, p, sh) = st.pubsub.clients.get(&session.id).map_or((0, 0, 0), |s| {
        (s.channels.len(), s.patterns.len(), s.shard.len())
    });
    session.subs.channels = c;
    session.subs.patterns = p;
    session.subs.shard = sh;
    if c + p + sh > 0 && session.subs.guard.is_none() {
        let yard = st.watches.graveyard().clone();
        session.subs.guard = Some(DropGuard::new(session.id, yard));
    }
}

fn confirmation(kind: &str, name: Option<&[u8]>, count: usize) -> Reply {
    Reply::Push(vec![
        Reply::text(kind),
        Reply::opt_bulk(name),
        Reply::Int(count as i64),
    ])
}

/// The frames a wire encoder writes for a command's reply: the confirmation
/// list of (P)SUBSCRIBE / (P)UNSUBSCRIBE one frame per element, any other
/// reply as one frame.
pub fn confirmation_frames(command: &[u8], reply: Reply) -> Vec<Reply> {
    let is_sub = [
        "subscribe",
        "unsubscribe",
        "psubscribe",
        "punsubscribe",
        "ssubscribe",
        "sunsubscribe",
    ]
    .iter()
    .any(|n| command.eq_ignore_ascii_case(n.as_bytes()));
    match reply {
        Reply::Array(items) if is_sub && items.iter().all(|i| matches!(i, Reply::Push(_))) => items,
        other => vec![other],
    }
}

/// The sink to subscribe with, or Redis's error for a client that cannot
/// receive pushes.
fn sink_of(session: &Session, cmd: &str) -> Result<Arc<dyn Sink>, Reply> {
    session.sink.clone().ok_or_else(|| {
        Reply::err(format!(
            "ERR {cmd} isn't allowed for a DENY BLOCKING client"
        ))
    })
}

/// SUBSCRIBE channel [channel ...].
pub fn subscribe(ctx: &mut Ctx<'_>, names: &[&[u8]]) -> Reply {
    subscribe_generic(ctx, names, false)
}

/// PSUBSCRIBE pattern [pattern ...].
pub fn psubscribe(ctx: &mut Ctx<'_>, names: &[&[u8]]) -> Reply {
    subscribe_generic(ctx, names, true)
}

/// The hub's entry for client `id`, created on its first subscription;
/// its sink is the one of the latest subscribing call.
fn subscriber(
    clients: &mut HashMap<u64, Subscriber>,
    id: u64,
    sink: Arc<dyn Sink>,
) -> &mut Subscriber {
    let sub = clients.entry(id).or_insert_with(|| Subscriber {
        sink: sink.clone(),
        channels: OrderedSet::default(),
        patterns: OrderedSet::default(),
        shard: OrderedSet::default(),
    });
    sub.sink = sink;
    sub
}

fn subscribe_generic(ctx: &mut Ctx<'_>, names: &[&[u8]], pattern: bool) -> Reply {
    let sink = match sink_of(
        ctx.session,
        if pattern { "PSUBSCRIBE" } else { "SUBSCRIBE" },
    ) {
        Ok(s) => s,
        Err(e) => return e,
    };
    let id = ctx.session.id;
    let hub = &mut ctx.st.pubsub;
    let sub = subscriber(&mut hub.clients, id, sink);
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        if pattern {
            if sub.patterns.insert(name) {
                match hub.patterns.iter_mut().find(|p| p.pattern == *name) {
                    Some(p) => p.clients.push(id),
                    None => hub.patterns.push(PatternSubs {
                        pattern: name.to_vec(),
                        clients: vec![id],
                    }),
                }
            }
            out.push(confirmation("psubscribe", Some(name), sub.count()));
        } else {
            if sub.channels.insert(name) {
                hub.channels.entry_ref(*name).or_default().push(id);
            }
            out.push(confirmation("subscribe", Some(name), sub.count()));
        }
    }
    sync_session(ctx.st, ctx.session);
    Reply::Array(out)
}

/// UNSUBSCRIBE [channel ...]: no channel means every channel.
pub fn unsubscribe(ctx: &mut Ctx<'_>, names: &[&[u8]]) -> Reply {
    unsubscribe_generic(ctx, names, false)
}

/// PUNSUBSCRIBE [pattern ...]: no pattern means every pattern.
pub fn punsubscribe(ctx: &mut Ctx<'_>, names: &[&[u8]]) -> Reply {
    unsubscribe_generic(ctx, names, true)
}

fn unsubscribe_generic(ctx: &mut Ctx<'_>, names: &[&[u8]], pattern: bool) -> Reply {
    let id = ctx.session.id;
    let kind = if pattern {
        "punsubscribe"
    } else {
        "unsubscribe"
    };
    let targets: Vec<Vec<u8>> = if names.is_empty() {
        match ctx.st.pubsub.clients.get(&id) {
            Some(s) if pattern => s.patterns.ordered(),
            Some(s) => s.channels.ordered(),
            None => Vec::new(),
        }
    } else {
        names.iter().map(|n| n.to_vec()).collect()
    };
    let mut out = Vec::with_capacity(targets.len().max(1));
    if targets.is_empty() {
        let count = ctx.st.pubsub.subscriptions_of(id);
        out.push(confirmation(kind, None, count));
    }
    for name in &targets {
        let hub = &mut ctx.st.pubsub;
        let removed = match hub.clients.get_mut(&id) {
            Some(s) if pattern => s.patterns.remove(name),
            Some(s) => s.channels.remove(name),
            None => false,
        };
        if removed {
            if pattern {
                hub.unlink_pattern(id, name);
            } else {
                hub.unlink_channel(id, name);
            }
        }
        out.push(confirmation(kind, Some(name), hub.subscriptions_of(id)));
    }
    forget_if_unsubscribed(&mut ctx.st.pubsub, id);
    sync_session(ctx.st, ctx.session);
    Reply::Array(out)
}

/// Drops client `id` from `Hub::clients` once it has no subscription left.
fn forget_if_unsubscribed(hub: &mut Hub, id: u64) {
    if hub.clients.get(&id).is_some_and(|s| s.total() == 0) {
        hub.clients.remove(&id);
    }
}

/// SSUBSCRIBE shardchannel [shardchannel ...]. Redis 7.0 refuses it inside
/// MULTI as well as for a client that cannot receive pushes.
pub fn ssubscribe(ctx: &mut Ctx<'_>, names: &[&[u8]]) -> Reply {
    let sink = match sink_of(ctx.session, "SSUBSCRIBE") {
        Ok(_) if ctx.session.no_block => {
            return Reply::err("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client")
        }
        Ok(s) => s,
        Err(e) => return e,
    };
    let id = ctx.session.id;
    let hub = &mut ctx.st.pubsub;
    let sub = subscriber(&mut hub.clients, id, sink);
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        if sub.shard.insert(name) {
            hub.shard_channels.entry_ref(*name).or_default().push(id);
        }
        out.push(confirmation("ssubscribe", Some(name), sub.shard.len()));
    }
    sync_session(ctx.st, ctx.session);
    Reply::Array(out)
}

/// SUNSUBSCRIBE [shardchannel ...]: no channel means every shard channel.
pub fn sunsubscribe(ctx: &mut Ctx<'_>, names: &[&[u8]]) -> Reply {
    let id = ctx.session.id;
    let hub = &mut ctx.st.pubsub;
    let targets: Vec<Vec<u8>> = if names.is_empty() {
        hub.clients
            .get(&id)
            .map_or_else(Vec::new, |s| s.shard.ordered())
    } else {
        names.iter().map(|n| n.to_vec()).collect()
    };
    let mut out = Vec::with_capacity(targets.len().max(1));
    if targets.is_empty() {
        out.push(confirmation("sunsubscribe", None, 0));
    }
    for name in &targets {
        if hub
            .clients
            .get_mut(&id)
            .is_some_and(|s| s.shard.remove(name))
        {
            unlink(&mut hub.shard_channels, id, name);
        }
        out.push(confirmation(
            "sunsubscribe",
            Some(name),
            hub.shard_subscriptions_of(id),
        ));
    }
    forget_if_unsubscribed(hub, id);
    sync_session(ctx.st, ctx.session);
    Reply::Array(out)
}

/// Drops every subscription of `session` (RESET, client gone) and disarms
/// its drop guard.
pub fn unsubscribe_everything(st: &mut State, session: &mut Session) {
    st.pubsub.remove_client(session.id);
    session.subs.channels = 0;
    session.subs.patterns = 0;
    session.subs.shard = 0;
    if let Some(g) = session.subs.guard.take() {
        g.disarm();
    }
}

/// Sends `head ++ [msg]` as a push to each of `ids` that is still a
/// subscriber; returns how many accepted it and collects in `dead` those
/// whose sink is gone.
fn deliver(
    clients: &HashMap<u64, Subscriber>,
    ids: &[u64],
    head: &[Reply],
    msg: &Reply,
    dead: &mut Vec<u64>,
) -> usize {
    let mut receivers = 0;
    for id in ids {
        let Some(sub) = clients.get(id) else {
            continue;
        };
        let mut frame = Vec::with_capacity(head.len() + 1);
        frame.extend_from_slice(head);
        frame.push(msg.clone());
        if sub.sink.send(Outgoing::Push(Reply::Push(frame))) {
            receivers += 1;
        } else {
            dead.push(*id);
        }
    }
    receivers
}

/// Publishes `message` on `channel` to every subscriber of the channel and
/// of every matching pattern; returns how many accepted it. Subscribers
/// whose sink is gone are dropped.
pub fn publish(st: &mut State, channel: &[u8], message: &[u8]) -> usize {
    let hub = &mut st.pubsub;
    if hub.clients.is_empty() {
        return 0;
    }
    // Shared buffers: one copy of the payload however many receivers.
    let shared = |b: &[u8]| Reply::Bulk(Bulk::Shared(SharedBuf::from_slice(b)));
    let chan = shared(channel);
    let msg = shared(message);
    let mut receivers = 0;
    let mut dead = Vec::new();
    if let Some(ids) = hub.channels.get(channel) {
        let head = [shared(b"message"), chan.clone()];
        receivers += deliver(&hub.clients, ids, &head, &msg, &mut dead);
    }
    if !hub.patterns.is_empty() {
        let kind = shared(b"pmessage");
        for p in &hub.patterns {
            if !glob_match(&p.pattern, channel, false) {
                continue;
            }
            let head = [kind.clone(), shared(&p.pattern), chan.clone()];
            receivers += deliver(&hub.clients, &p.clients, &head, &msg, &mut dead);
        }
    }
    for id in dead {
        hub.remove_client(id);
    }
    receivers
}

/// SPUBLISH: publishes `message` on shard channel `channel` to its
/// subscribers as `["smessage", channel, message]` (patterns never match a
/// shard channel); returns how many accepted it. Subscribers whose sink is
/// gone are dropped.
pub fn spublish(st: &mut State, channel: &[u8], message: &[u8]) -> usize {
    let hub = &mut st.pubsub;
    let Some(ids) = hub.shard_channels.get(channel) else {
        return 0;
    };
    let shared = |b: &[u8]| Reply::Bulk(Bulk::Shared(SharedBuf::from_slice(b)));
    let head = [shared(b"smessage"), shared(channel)];
    let mut dead = Vec::new();
    let receivers = deliver(&hub.clients, ids, &head, &shared(message), &mut dead);
    for id in dead {
        hub.remove_client(id);
    }
    receivers
}

/// PUBSUB SHARDCHANNELS [pattern]: active shard channels matching
/// `pattern`.
pub fn shard_channels_matching(st: &State, pattern: Option<&[u8]>) -> Vec<Vec<u8>> {
    names_matching(&st.pubsub.shard_channels, pattern)
}

/// PUBSUB SHARDNUMSUB: subscribers of shard channel `channel`.
pub fn shard_numsub(st: &State, channel: &[u8]) -> usize {
    st.pubsub.shard_channels.get(channel).map_or(0, Vec::len)
}

/// PUBSUB CHANNELS [pattern]: active channels matching `pattern`.
pub fn channels_matching(st: &State, pattern: Option<&[u8]>) -> Vec<Vec<u8>> {
    names_matching(&st.pubsub.channels, pattern)
}

/// The channel names of `subs` that match `pattern` (all without one).
fn names_matching(subs: &HashMap<Vec<u8>, Vec<u64>>, pattern: Option<&[u8]>) -> Vec<Vec<u8>> {
    subs.keys()
        .filter(|c| pattern.is_none_or(|p| glob_match(p, c, false)))
        .cloned()
        .collect()
}

/// PUBSUB NUMSUB: subscribers of `channel` (patterns excluded).
pub fn numsub(st: &State, channel: &[u8]) -> usize {
    st.pubsub.channels.get(channel).map_or(0, Vec::len)
}

// ---------------------------------------------------------------------------
// Keyspace notifications

/// `notify-keyspace-events` class bits, as Redis's `NOTIFY_*`.
pub mod class {
    /// `K`: publish on `__keyspace@<db>__:<key>`.
    pub const KEYSPACE: u32 = 1 << 0;
    /// `E`: publish on `__keyevent@<db>__:<event>`.
    pub const KEYEVENT: u32 = 1 << 1;
    /// `g`: generic commands (DEL, EXPIRE, RENAME, ...).
    pub const GENERIC: u32 = 1 << 2;
    /// `$`: string commands.
    pub const STRING: u32 = 1 << 3;
    /// `l`: list commands.
    pub const LIST: u32 = 1 << 4;
    /// `s`: set commands.
    pub const SET: u32 = 1 << 5;
    /// `h`: hash commands.
    pub const HASH: u32 = 1 << 6;
    /// `z`: sorted set commands.
    pub const ZSET: u32 = 1 << 7;
    /// `x`: expired events.
    pub const EXPIRED: u32 = 1 << 8;
    /// `e`: evicted events.
    pub const EVICTED: u32 = 1 << 9;
    /// `t`: stream commands.
    pub const STREAM: u32 = 1 << 10;
    /// `m`: key misses.
    pub const KEY_MISS: u32 = 1 << 11;
    /// `d`: module key type events.
    pub const MODULE: u32 = 1 << 12;
    /// `n`: new key events.
    pub const NEW: u32 = 1 << 13;
    /// `A`: alias for `g$lshzxetd`.
    pub const ALL: u32 =
        GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;
}

/// The class bit of one flag letter (`A` excluded).
fn class_bit(c: char) -> Option<u32> {
    Some(match c {
        'K' => class::KEYSPACE,
        'E' => class::KEYEVENT,
        'g' => class::GENERIC,
        '$' => class::STRING,
        'l' => class::LIST,
        's' => class::SET,
        'h' => class::HASH,
        'z' => class::ZSET,
        'x' => class::EXPIRED,
        'e' => class::EVICTED,
        't' => class::STREAM,
        'm' => class::KEY_MISS,
        'd' => class::MODULE,
        'n' => class::NEW,
        _ => return None,
    })
}

/// Parses a `notify-keyspace-events` value as Redis does; `None` for an
/// invalid character (CONFIG SET then fails with
/// `Invalid event class character. Use 'Ag$lshzxeKEtmdn'.`).
pub fn parse_notify_flags(s: &str) -> Option<u32> {
    let mut flags = 0;
    for c in s.chars() {
        flags |= if c == 'A' { class::ALL } else { class_bit(c)? };
    }
    Some(flags)
}

/// Redis's canonical text of a flag set, as CONFIG GET shows it (`KEA`
/// reads back as `AKE`; with `A`, an `n` is not shown, as in Redis 7.0).
pub fn notify_flags_to_string(flags: u32) -> String {
    let mut out = String::new();
    if flags & class::ALL == class::ALL {
        out.push('A');
    } else {
        for c in "g$lshzxetdn".chars() {
            if flags & class_bit(c).unwrap_or(0) != 0 {
                out.push(c);
            }
        }
    }
    for c in "KEm".chars() {
        if flags & class_bit(c).unwrap_or(0) != 0 {
            out.push(c);
        }
    }
    out
}

/// Publishes a keyspace notification (Redis's `notifyKeyspaceEvent`):
/// `event` on `__keyspace@<db>__:<key>` when `K` is set, and `key` on
/// `__keyevent@<db>__:<event>` when `E` is set, if the class letter `class`
/// is enabled by `notify-keyspace-events`.
pub fn notify_keyspace(st: &mut State, class: char, event: &str, key: &[u8], db: usize) {
    if st.config.notify.is_empty() || st.pubsub.clients.is_empty() {
        return;
    }
    let Some(flags) = parse_notify_flags(&st.config.notify) else {
        return;
    };
    let Some(bit) = class_bit(class) else {
        return;
    };
    if flags & bit == 0 {
        return;
    }
    if flags & class::KEYSPACE != 0 {
        let mut chan = format!("__keyspace@{db}__:").into_bytes();
        chan.extend_from_slice(key);
        publish(st, &chan, event.as_bytes());
    }
    if flags & class::KEYEVENT != 0 {
        let chan = format!("__keyevent@{db}__:{event}");
        publish(st, chan.as_bytes(), key);
    }
}

// ---------------------------------------------------------------------------
// PUBSUB subcommands

/// PUBSUB's subcommands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sub {
    /// CHANNELS [pattern]
    Channels,
    /// NUMSUB [channel ...]
    Numsub,
    /// NUMPAT
    Numpat,
    /// SHARDCHANNELS [pattern]
    ShardChannels,
    /// SHARDNUMSUB [channel ...]
    ShardNumsub,
    /// HELP
    Help,
}

/// Resolves PUBSUB's subcommand and checks its arity, with the errors
/// Redis's command table gives (these also abort a MULTI at queue time).
pub fn subcommand_check(argv: &[&[u8]]) -> Result<Sub, Reply> {
    let name = argv.get(1).copied().unwrap_or_default();
    let (sub, arity): (Sub, i32) = match name.to_ascii_lowercase().as_slice() {
        b"channels" => (Sub::Channels, -2),
        b"numsub" => (Sub::Numsub, -2),
        b"numpat" => (Sub::Numpat, 2),
        b"shardchannels" => (Sub::ShardChannels, -2),
        b"shardnumsub" => (Sub::ShardNumsub, -2),
        b"help" => (Sub::Help, 2),
        _ => {
            let shown = &name[..name.len().min(128)];
            return Err(Reply::err(format!(
                "ERR unknown subcommand '{}'. Try PUBSUB HELP.",
                String::from_utf8_lossy(shown)
            )));
        }
    };
    let argc = argv.len() as i32;
    let ok = if arity >= 0 {
        argc == arity
    } else {
        argc >= -arity
    };
    if !ok {
        let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
        return Err(Reply::err(format!(
            "ERR wrong number of arguments for 'pubsub|{lower}' command"
        )));
    }
    Ok(sub)
}

/// PUBSUB HELP's lines, as Redis 7.0 prints them.
pub const PUBSUB_HELP: &[&str] = &[
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
];

/// Writes the pub/sub lines of INFO's stats section, each ending in `\r\n`.
pub fn info_lines(st: &State, out: &mut String) {
    out.push_str(&format!(
        "pubsub_channels:{}\r\npubsub_patterns:{}\r\npubsubshard_channels:{}\r\n",
        st.pubsub.channel_count(),
        st.pubsub.pattern_count(),
        st.pubsub.shard_channel_count()
    ));
}
