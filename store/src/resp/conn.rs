//! Connection commands: HELLO, AUTH, CLIENT, QUIT and RESET, as Redis 7.0
//! replies to them.
//!
//! They are ordinary table commands, so they work for any session. What
//! only a socket can do (closing after QUIT, dropping replies after
//! `CLIENT REPLY OFF`) is the listener's part: the handlers record the
//! request in the client registry ([`super::clients`]) and the listener
//! acts on it.

use super::clients::ClientInfo;
use crate::cmd;
use crate::command::{CommandSpec, Flags};
use crate::engine::Ctx;
use crate::reply::{errors, Reply};
use crate::util::{eq_ic, parse_i64_strict};

/// The server name HELLO reports (clients check it; we answer as the Redis
/// version whose behaviour we follow).
pub const SERVER_NAME: &str = "redis";
/// The server version HELLO reports.
pub const SERVER_VERSION: &str = "7.0.15";

const CONN: Flags = Flags(
    Flags::NOSCRIPT.0 | Flags::FAST.0 | Flags::NO_AUTH.0 | Flags::LOADING.0 | Flags::ALLOW_BUSY.0,
);

/// The connection family's table.
pub const COMMANDS: &[CommandSpec] = &[
    cmd!("hello", -1, CONN, 0, 0, 0, hello),
    cmd!("auth", -2, CONN, 0, 0, 0, auth),
    cmd!(
        "client",
        -2,
        Flags(Flags::NOSCRIPT.0 | Flags::LOADING.0 | Flags::SLOW.0),
        0,
        0,
        0,
        client
    ),
    cmd!(
        "quit",
        -1,
        Flags(CONN.0 | Flags::NO_MULTI.0 | Flags::PUBSUB.0),
        0,
        0,
        0,
        quit
    ),
    cmd!(
        "reset",
        1,
        Flags(CONN.0 | Flags::NO_MULTI.0 | Flags::PUBSUB.0),
        0,
        0,
        0,
        reset
    ),
];

/// `WRONGPASS` for a failed AUTH or HELLO AUTH.
pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// The configured `requirepass` (empty: none).
pub fn requirepass(ctx: &Ctx<'_>) -> String {
    ctx.st.config.get_str("requirepass").unwrap_or_default()
}

/// Checks a username and password against the default user, as Redis's
/// `ACLAuthenticateUser` does without ACL users: only `default` exists; it
/// takes any password when `requirepass` is empty.
fn check_password(ctx: &Ctx<'_>, user: &[u8], pass: &[u8]) -> bool {
    if user != b"default" {
        return false;
    }
    let required = requirepass(ctx);
    required.is_empty() || required.as_bytes() == pass
}

fn hello(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let mut ver = None;
    if argv.len() >= 2 {
        match parse_i64_strict(argv[1]) {
            None => return Reply::err("ERR Protocol version is not an integer or out of range"),
            Some(v) if !(2..=3).contains(&v) => {
                return Reply::err("NOPROTO unsupported protocol version")
            }
            Some(v) => ver = Some(v as u8),
        }
    }
    let mut auth = None;
    let mut setname = None;
    let mut j = 2;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        if eq_ic(argv[j], "auth") && more >= 2 {
            auth = Some((argv[j + 1], argv[j + 2]));
            j += 2;
        } else if eq_ic(argv[j], "setname") && more >= 1 {
            setname = Some(argv[j + 1]);
            j += 1;
        } else {
            return Reply::err(format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(argv[j])
            ));
        }
        j += 1;
    }
    if let Some((user, pass)) = auth {
        if !check_password(ctx, user, pass) {
            return Reply::err(WRONGPASS);
        }
        ctx.session.authenticated = true;
    }
    if !ctx.session.authenticated && !requirepass(ctx).is_empty() {
        return Reply::err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
    }
    if let Some(name) = setname {
        if let Err(e) = set_name(ctx, name) {
            return e;
        }
    }
    if let Some(v) = ver {
        ctx.session.resp = v;
    }
    hello_map(ctx.session.id, ctx.session.resp)
}

/// HELLO's reply map (Redis 7.0's seven fields).
pub fn hello_map(id: u64, proto: u8) -> Reply {
    Reply::Map(vec![
        (Reply::text("server"), Reply::text(SERVER_NAME)),
        (Reply::text("version"), Reply::text(SERVER_VERSION)),
        (Reply::text("proto"), Reply::Int(proto as i64)),
        (Reply::text("id"), Reply::Int(id as i64)),
        (Reply::text("mode"), Reply::text("standalone")),
        (Reply::text("role"), Reply::text("master")),
        (Reply::text("modules"), Reply::Array(vec![])),
    ])
}

fn auth(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    if argv.len() > 3 {
        return Reply::err(errors::SYNTAX);
    }
    let (user, pass): (&[u8], &[u8]) = if argv.len() == 2 {
        if requirepass(ctx).is_empty() {
            return Reply::err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
        }
        (b"default", argv[1])
    } else {
        (argv[1], argv[2])
    };
    if check_password(ctx, user, pass) {
        ctx.session.authenticated = true;
        Reply::ok()
    } else {
        Reply::err(WRONGPASS)
    }
}

fn quit(_ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> Reply {
    Reply::ok()
}

fn reset(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> Reply {
    reset_session(ctx);
    Reply::status("RESET")
}

/// Brings the calling session back to a fresh connection's state, as RESET
/// does: no transaction, watches or subscriptions, database 0, RESP2, no
/// name, replies on, no-evict off, and authenticated only when no password
/// is required.
pub fn reset_session(ctx: &mut Ctx<'_>) {
    crate::tx::release_session(ctx.st, ctx.session);
    ctx.session.db = 0;
    ctx.session.resp = 2;
    ctx.session.name = None;
    ctx.session.authenticated = requirepass(ctx).is_empty();
    if let Some(c) = ctx.st.clients.get_mut(ctx.session.id) {
        c.no_evict = false;
    }
}

/// Validates and sets the client name (an empty name clears it).
fn set_name(ctx: &mut Ctx<'_>, name: &[u8]) -> Result<(), Reply> {
    if name.is_empty() {
        ctx.session.name = None;
        return Ok(());
    }
    if name.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return Err(Reply::err(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    ctx.session.name = Some(name.to_vec());
    Ok(())
}

fn sub_arity(argv: &[&[u8]], name: &str, arity: i32) -> Result<(), Reply> {
    let n = argv.len() as i32;
    let ok = if arity >= 0 { n == arity } else { n >= -arity };
    if ok {
        Ok(())
    } else {
        Err(Reply::err(format!(
            "ERR wrong number of arguments for 'client|{name}' command"
        )))
    }
}

fn client(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    match client_inner(ctx, argv) {
        Ok(r) | Err(r) => r,
    }
}

/// The subcommands: (name, arity).
const SUBCOMMANDS: &[(&str, i32)] = &[
    ("id", 2),
    ("setname", 3),
    ("getname", 2),
    ("info", 2),
    ("list", -2),
    ("kill", -3),
    ("unblock", -3),
    ("reply", 3),
    ("no-evict", 3),
    ("help", 2),
];

fn client_inner(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Result<Reply, Reply> {
    let Some(&(sub, arity)) = SUBCOMMANDS.iter().find(|(n, _)| eq_ic(argv[1], n)) else {
        return Err(Reply::err(format!(
            "ERR unknown subcommand '{}'. Try CLIENT HELP.",
            String::from_utf8_lossy(argv[1])
        )));
    };
    sub_arity(argv, sub, arity)?;
    let id = ctx.session.id;
    Ok(match sub {
        "id" => Reply::Int(id as i64),
        "setname" => {
            set_name(ctx, argv[2])?;
            Reply::ok()
        }
        "getname" => Reply::opt_bulk(ctx.session.name.as_deref()),
        "info" => {
            let line = own_line(ctx, "client|info");
            text_reply(ctx, line)
        }
        "list" => client_list(ctx, argv)?,
        "kill" => client_kill(ctx, argv)?,
        "unblock" => client_unblock(ctx, argv)?,
        "reply" => {
            // The listener reads the mode from the command itself once it
            // succeeded (OFF and SKIP suppress their own +OK there).
            if !["on", "off", "skip"].iter().any(|m| eq_ic(argv[2], m)) {
                return Err(Reply::err(errors::SYNTAX));
            }
            Reply::ok()
        }
        "no-evict" => {
            let on = if eq_ic(argv[2], "on") {
                true
            } else if eq_ic(argv[2], "off") {
                false
            } else {
                return Err(Reply::err(errors::SYNTAX));
            };
            if let Some(c) = ctx.st.clients.get_mut(id) {
                c.no_evict = on;
            }
            Reply::ok()
        }
        _ => help(),
    })
}

fn help() -> Reply {
    let lines = [
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "    * ID <client-id>",
        "      Kill connections by client id.",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "    Unblock the specified blocked client.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
        "HELP",
        "    Print this help.",
    ];
    Reply::status_lines(&lines)
}

/// CLIENT INFO and LIST reply: a verbatim string in RESP3, bulk in RESP2.
fn text_reply(ctx: &Ctx<'_>, s: String) -> Reply {
    if ctx.session.is_resp3() {
        Reply::Verbatim(s)
    } else {
        Reply::text(s)
    }
}

/// The calling client's line: its registry entry refreshed from the live
/// session (the mirror is only refreshed after a command), or a synthesized
/// entry for an unregistered session.
fn own_line(ctx: &Ctx<'_>, cmd: &str) -> String {
    let now = ctx.now;
    let s = &*ctx.session;
    let mut c = match ctx.st.clients.get(s.id) {
        Some(reg) => reg.clone(),
        None => ClientInfo::new(s, String::new(), String::new(), now),
    };
    c.name = s.name.clone();
    c.db = s.db;
    c.resp = s.resp;
    c.last_cmd = cmd.to_string();
    c.last_ms = now;
    c.mirror_subs_and_multi(s);
    c.line(now)
}

fn client_type_ok(t: &[u8]) -> Option<&'static str> {
    ["normal", "master", "replica", "slave", "pubsub"]
        .into_iter()
        .find(|n| eq_ic(t, n))
        .map(|n| if n == "slave" { "replica" } else { n })
}

fn client_list(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Result<Reply, Reply> {
    let mut want_type = None;
    let mut want_ids: Option<Vec<u64>> = None;
    if argv.len() == 4 && eq_ic(argv[2], "type") {
        want_type = Some(client_type_ok(argv[3]).ok_or_else(|| {
            Reply::err(format!(
                "ERR Unknown client type '{}'",
                String::from_utf8_lossy(argv[3])
            ))
        })?);
    } else if argv.len() > 3 && eq_ic(argv[2], "id") {
        let mut ids = Vec::new();
        for a in &argv[3..] {
            match parse_i64_strict(a) {
                Some(v) => ids.push(v as u64),
                None => return Err(Reply::err("ERR Invalid client ID")),
            }
        }
        want_ids = Some(ids);
    } else if argv.len() != 2 {
        return Err(Reply::err(errors::SYNTAX));
    }
    let me = ctx.session.id;
    let now = ctx.now;
    let mut out = String::new();
    let mut seen_me = false;
    let own = own_line(ctx, "client|list");
    let keep = |id: u64, kind: &str| {
        want_type.is_none_or(|t| t == kind) && want_ids.as_ref().is_none_or(|ids| ids.contains(&id))
    };
    for c in ctx.st.clients.iter() {
        if c.id == me {
            seen_me = true;
            if keep(me, c.kind()) {
                out.push_str(&own);
            }
        } else if keep(c.id, c.kind()) {
            out.push_str(&c.line(now));
        }
    }
    if !seen_me && keep(me, "normal") {
        out.insert_str(0, &own);
    }
    Ok(text_reply(ctx, out))
}

fn client_kill(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Result<Reply, Reply> {
    let me = ctx.session.id;
    if argv.len() == 3 {
        // Old form: CLIENT KILL ip:port.
        let addr = String::from_utf8_lossy(argv[2]).into_owned();
        let Some(id) = ctx.st.clients.iter().find(|c| c.addr == addr).map(|c| c.id) else {
            return Err(Reply::err("ERR No such client"));
        };
        kill(ctx, id, me);
        return Ok(Reply::ok());
    }
    let mut id_f = None;
    let mut type_f = None;
    let mut addr_f = None;
    let mut laddr_f = None;
    let mut skipme = true;
    let mut i = 2;
    while i < argv.len() {
        if i + 1 >= argv.len() {
            return Err(Reply::err(errors::SYNTAX));
        }
        let (opt, val) = (argv[i], argv[i + 1]);
        if eq_ic(opt, "id") {
            match parse_i64_strict(val) {
                Some(v) if v > 0 => id_f = Some(v as u64),
                _ => return Err(Reply::err("ERR client-id should be greater than 0")),
            }
        } else if eq_ic(opt, "type") {
            type_f = Some(client_type_ok(val).ok_or_else(|| {
                Reply::err(format!(
                    "ERR Unknown client type '{}'",
                    String::from_utf8_lossy(val)
                ))
            })?);
        } else if eq_ic(opt, "addr") {
            addr_f = Some(String::from_utf8_lossy(val).into_owned());
        } else if eq_ic(opt, "laddr") {
            laddr_f = Some(String::from_utf8_lossy(val).into_owned());
        } else if eq_ic(opt, "user") {
            if val != b"default" {
                return Err(Reply::err(format!(
                    "ERR No such user '{}'",
                    String::from_utf8_lossy(val)
                )));
            }
        } else if eq_ic(opt, "skipme") {
            if eq_ic(val, "yes") {
                skipme = true;
            } else if eq_ic(val, "no") {
                skipme = false;
            } else {
                return Err(Reply::err(errors::SYNTAX));
            }
        } else {
            return Err(Reply::err(errors::SYNTAX));
        }
        i += 2;
    }
    let victims: Vec<u64> = ctx
        .st
        .clients
        .iter()
        .filter(|c| id_f.is_none_or(|id| c.id == id))
        .filter(|c| type_f.is_none_or(|t| t == c.kind()))
        .filter(|c| addr_f.as_ref().is_none_or(|a| *a == c.addr))
        .filter(|c| laddr_f.as_ref().is_none_or(|a| *a == c.laddr))
        .filter(|c| !(skipme && c.id == me))
        .map(|c| c.id)
        .collect();
    for &id in &victims {
        kill(ctx, id, me);
    }
    Ok(Reply::Int(victims.len() as i64))
}

/// Kills client `id`: at once for another client, after the reply for the
/// caller itself.
fn kill(ctx: &mut Ctx<'_>, id: u64, me: u64) {
    if let Some(c) = ctx.st.clients.get_mut(id) {
        if id == me {
            c.close_after_reply = true;
        } else if let Some(ctl) = &c.control {
            ctl.kill();
        }
    }
}

fn client_unblock(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Result<Reply, Reply> {
    if argv.len() > 4 {
        return Err(Reply::err(errors::SYNTAX));
    }
    let id = crate::util::arg_i64(argv[2])?;
    let error = if argv.len() == 4 {
        if eq_ic(argv[3], "timeout") {
            false
        } else if eq_ic(argv[3], "error") {
            true
        } else {
            return Err(Reply::err(
                "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
            ));
        }
    } else {
        false
    };
    if id <= 0 {
        return Ok(Reply::Int(0));
    }
    Ok(Reply::Int(unblock(ctx, id as u64, error) as i64))
}

/// Ends client `id`'s blocking command with its timeout reply (or the
/// `UNBLOCKED` error). True when it was blocked.
fn unblock(ctx: &mut Ctx<'_>, id: u64, error: bool) -> bool {
    crate::blocking::unblock_client_with(ctx.st, id, error)
}
