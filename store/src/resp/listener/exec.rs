//! Running a connection's decoded commands: the batch runs under one hold
//! of the engine lock, replies are encoded into the output buffer, and the
//! connection-level effects of HELLO, AUTH, CLIENT REPLY, QUIT, RESET and
//! blocking commands are applied.

use super::conn_state::Conn;
use super::{BATCH, OUTPUT_HIGH_WATER};
use crate::command::Flags;
use crate::engine::{Engine, Session, State};
use crate::reply::Reply;
use crate::resp::encode::encode;
use crate::util::eq_ic;
use std::sync::atomic::Ordering;

/// True while `session` must still authenticate.
pub(super) fn auth_required(st: &State, session: &Session) -> bool {
    !session.authenticated
        && st
            .config
            .other
            .get("requirepass")
            .is_some_and(|p| !p.is_empty())
}

/// How many commands the next `parse` may decode: one at a time until the
/// client has authenticated (AUTH lifts the decoder's limits for what
/// follows it).
pub(super) fn parse_max(c: &Conn) -> usize {
    if c.limits.auth_required {
        1
    } else {
        BATCH
    }
}

/// Runs the rest of the decoder's batch (from `c.next`) under one engine
/// lock hold. Stops early, leaving `c.next` at the first command not run,
/// when a command blocks, when the connection is to close, or when the
/// output passes the high-water mark.
///
/// Invariant: replies and the pushes this client causes for itself are
/// appended in execution order (the inbox is merged before each reply), and
/// nothing here waits on a socket.
pub(super) fn run_batch(engine: &Engine, c: &mut Conn) {
    let Conn {
        shared,
        session,
        dec,
        next,
        wbuf,
        wpos,
        blocked: conn_blocked,
        close_after,
        reply_off,
        skip_next,
        limits,
        ..
    } = c;
    let mut argv: Vec<&[u8]> = Vec::with_capacity(8);
    // The lock is taken through `lock_for_command`, so that while a Lua
    // script runs past `busy-reply-threshold` (holding the lock) commands
    // are answered BUSY and SCRIPT KILL gets through, as in Redis. Until
    // the lock is held, each command is offered to it in turn.
    let mut held = None;
    let mut last_name = "NULL";
    while *next < dec.batch_len() {
        if wbuf.len() - *wpos > OUTPUT_HIGH_WATER {
            break;
        }
        dec.argv(*next, &mut argv);
        *next += 1;
        let st = match &mut held {
            Some(guard) => guard,
            None => match engine.lock_for_command(&argv) {
                Ok(guard) => held.insert(guard),
                Err(reply) => {
                    if !(*reply_off || *skip_next) {
                        encode(&reply, session.resp, wbuf);
                    }
                    *skip_next = false;
                    continue;
                }
            },
        };
        let st = &mut **st;
        let spec = Engine::lookup(argv[0]);
        let reply =
            if limits.auth_required && spec.is_none_or(|s| !s.flags.contains(Flags::NO_AUTH)) {
                Reply::err("NOAUTH Authentication required.")
            } else {
                match spec {
                    Some(s) => engine.execute_spec_locked(st, session, s, &argv),
                    None => engine.execute_locked(st, session, &argv),
                }
            };
        shared.resp3.store(session.resp == 3, Ordering::Relaxed);
        let name = spec.map_or("NULL", |s| s.name);
        last_name = name;
        let mut send = !(*reply_off || *skip_next);
        *skip_next = false;
        let is_client = name == "client";
        if is_client && argv.len() == 3 && eq_ic(argv[1], "reply") && reply == Reply::ok() {
            if eq_ic(argv[2], "on") {
                *reply_off = false;
                send = true;
            } else if eq_ic(argv[2], "off") {
                *reply_off = true;
                send = false;
            } else {
                *skip_next = !*reply_off;
                send = false;
            }
            shared.reply_off.store(*reply_off, Ordering::Relaxed);
        } else if name == "reset" && matches!(&reply, Reply::Status(s) if s == "RESET") {
            *reply_off = false;
            shared.reply_off.store(false, Ordering::Relaxed);
            send = true;
        } else if name == "quit" && reply == Reply::ok() {
            *close_after = true;
        }
        if is_client {
            if let Some(ci) = st.clients.get(session.id) {
                *close_after |= ci.close_after_reply;
            }
        }
        // Pushes this command caused for this very client go first, as
        // Redis writes them into the client's buffer before the reply.
        if shared.inbox_ready.load(Ordering::Relaxed) {
            merge_inbox(shared, wbuf);
        }
        let token = session.blocked.take();
        if token.is_none() && send {
            if is_confirmation_list(&reply) {
                // (P)SUBSCRIBE / (P)UNSUBSCRIBE: one frame per channel.
                for frame in crate::pubsub::confirmation_frames(argv[0], reply) {
                    encode(&frame, session.resp, wbuf);
                }
            } else {
                encode(&reply, session.resp, wbuf);
            }
        }
        if limits.auth_required {
            limits.auth_required = auth_required(st, session);
        }
        if let Some(token) = token {
            // The rest of the pipeline waits for this command's result,
            // which arrives through the sink (the inbox).
            *conn_blocked = Some(token);
            st.clients.touch(session, last_name, engine.clock.now_ms());
            if let Some(ci) = st.clients.get_mut(session.id) {
                ci.blocked = true;
            }
            break;
        }
        if *close_after {
            break;
        }
    }
    let Some(mut st) = held else {
        // Every command was answered without the lock (BUSY): the
        // registry entry and limits stay as they were.
        return;
    };
    limits.auth_required = auth_required(&st, session);
    limits.max_bulk = st.config.num("proto-max-bulk-len", 512 << 20) as i64;
    if conn_blocked.is_none() {
        st.clients.touch(session, last_name, engine.clock.now_ms());
    }
}

/// Appends the inbox's frames to `wbuf` (under the inbox lock, which
/// senders only hold to append). The served token, if any, stays for the
/// loop's `take_inbox`.
fn merge_inbox(shared: &super::conn_state::ConnShared, wbuf: &mut Vec<u8>) {
    let mut ib = shared.inbox.lock();
    wbuf.extend_from_slice(&ib.data);
    ib.data.clear();
    if ib.served.is_none() {
        shared.inbox_ready.store(false, Ordering::Relaxed);
    }
}

/// Refreshes the registry entry of a client whose blocked command was
/// served and which ran nothing since (CLIENT LIST's `b` flag goes).
pub(super) fn touch_unblocked(engine: &Engine, c: &Conn) {
    let mut st = engine.lock();
    let now = engine.clock.now_ms();
    let name = st
        .clients
        .get(c.session.id)
        .map(|ci| ci.last_cmd.clone())
        .unwrap_or_default();
    st.clients.touch(&c.session, &name, now);
}

/// True for a reply shaped like the confirmation list of a (P)SUBSCRIBE or
/// (P)UNSUBSCRIBE (an array of pushes): one cheap match for other replies.
fn is_confirmation_list(reply: &Reply) -> bool {
    matches!(reply, Reply::Array(items) if matches!(items.first(), Some(Reply::Push(_))))
}
