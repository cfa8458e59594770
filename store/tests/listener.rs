//! The RESP listener, driven by raw sockets (exact bytes) and by redis-cli
//! (Debian's redis-tools), as a user would.

use ferrite_store::resp::listener::{ListenOptions, Listener};
use ferrite_store::Engine;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn start() -> (Arc<Engine>, Listener, u16) {
    let engine = Engine::new();
    let l = Listener::start(
        engine.clone(),
        &ListenOptions {
            bind: "127.0.0.1".into(),
            port: 0,
        },
    )
    .expect("listen");
    let port = l.local_addr().port();
    (engine, l, port)
}

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

/// Sends `req` and reads until `want` bytes came or the peer closed.
fn roundtrip(s: &mut TcpStream, req: &[u8], want: usize) -> Vec<u8> {
    s.write_all(req).unwrap();
    read_n(s, want)
}

fn read_n(s: &mut TcpStream, want: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    while out.len() < want {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => panic!("read failed after {:?}: {e}", String::from_utf8_lossy(&out)),
        }
    }
    out
}

/// Reads until the server closes the connection.
fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("server closes");
    out
}

/// Reads one line (through CRLF).
fn read_line(s: &mut TcpStream) -> String {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        assert_eq!(s.read(&mut b).unwrap(), 1, "closed mid-line");
        line.push(b[0]);
    }
    String::from_utf8(line).unwrap()
}

/// Reads one bulk string reply.
fn read_bulk(s: &mut TcpStream) -> String {
    let head = read_line(s);
    let n: usize = head[1..head.len() - 2]
        .parse()
        .unwrap_or_else(|_| panic!("not a bulk: {head:?}"));
    let mut body = vec![0u8; n + 2];
    s.read_exact(&mut body).unwrap();
    String::from_utf8(body[..n].to_vec()).unwrap()
}

fn exchange(s: &mut TcpStream, req: &str, expect: &str) {
    let got = roundtrip(s, req.as_bytes(), expect.len());
    let shown: String = req.chars().take(80).collect();
    assert_eq!(
        String::from_utf8_lossy(&got),
        expect,
        "for request {shown:?}"
    );
}

fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .output()
        .expect("redis-cli is installed (apt install redis-tools)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn redis_cli_talks_to_it() {
    let (_e, _l, port) = start();
    assert_eq!(cli(port, &["SET", "k", "hello world"]), "OK\n");
    assert_eq!(cli(port, &["GET", "k"]), "hello world\n");
    assert_eq!(cli(port, &["INCR", "n"]), "1\n");
    assert_eq!(cli(port, &["PING"]), "PONG\n");
    assert_eq!(cli(port, &["GET", "missing"]), "\n");
    assert_eq!(
        cli(port, &["-3", "HELLO", "3"]).lines().next(),
        Some("server redis")
    );
    // redis-cli prints errors on stdout with (error) only on a tty; plain here.
    assert!(cli(port, &["NOPE"]).starts_with("ERR unknown command 'NOPE'"));
}

#[test]
fn pipelined_and_inline_commands_answer_in_order() {
    let (_e, _l, port) = start();
    let mut s = connect(port);
    let mut req = Vec::new();
    let mut want = String::new();
    for i in 0..500 {
        req.extend(
            format!("*3\r\n$3\r\nSET\r\n$2\r\nk{}\r\n$3\r\n{:03}\r\n", i % 10, i).as_bytes(),
        );
        want.push_str("+OK\r\n");
        req.extend(format!("GET k{}\r\n", i % 10).as_bytes());
        want.push_str(&format!("$3\r\n{i:03}\r\n"));
    }
    // Written in awkward pieces to exercise partial frames.
    for chunk in req.chunks(7) {
        s.write_all(chunk).unwrap();
    }
    let got = read_n(&mut s, want.len());
    assert_eq!(String::from_utf8_lossy(&got), want);
    exchange(&mut s, "\r\n\r\nECHO \"a b\\x41\"\r\n", "$4\r\na bA\r\n");
}

#[test]
fn garbage_gets_a_protocol_error_and_is_closed() {
    let (_e, _l, port) = start();
    for (req, err) in [
        (
            "*x\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            "*1\r\n$-1\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            "*1\r\nfoo\r\n",
            "-ERR Protocol error: expected '$', got 'f'\r\n",
        ),
        (
            "SET \"a\r\n",
            "-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
        (
            "PING\r\n*1\r\n+x\r\n",
            "+PONG\r\n-ERR Protocol error: expected '$', got '+'\r\n",
        ),
    ] {
        let mut s = connect(port);
        s.write_all(req.as_bytes()).unwrap();
        assert_eq!(String::from_utf8_lossy(&read_to_close(&mut s)), err);
    }
    let mut s = connect(port);
    s.write_all(&vec![b'x'; 70_000]).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&read_to_close(&mut s)),
        "-ERR Protocol error: too big inline request\r\n"
    );
}

#[test]
fn hello_switches_protocol() {
    let (_e, _l, port) = start();
    let mut s = connect(port);
    s.write_all(b"CLIENT ID\r\n").unwrap();
    let id: u64 = read_line(&mut s)[1..].trim_end().parse().unwrap();
    let map3 = format!(
        "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:{id}\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"
    );
    exchange(&mut s, "HELLO 3\r\n", &map3);
    exchange(&mut s, "GET nope\r\n", "_\r\n");
    exchange(
        &mut s,
        "HELLO 4\r\n",
        "-NOPROTO unsupported protocol version\r\n",
    );
    exchange(
        &mut s,
        "HELLO x\r\n",
        "-ERR Protocol version is not an integer or out of range\r\n",
    );
    exchange(
        &mut s,
        "HELLO 3 FOO\r\n",
        "-ERR Syntax error in HELLO option 'FOO'\r\n",
    );
    let map2 = map3.replace("%7", "*14").replace(":3\r\n$2", ":2\r\n$2");
    exchange(&mut s, "HELLO 2 SETNAME conn1\r\n", &map2);
    exchange(&mut s, "CLIENT GETNAME\r\n", "$5\r\nconn1\r\n");
    exchange(&mut s, "GET nope\r\n", "$-1\r\n");
    exchange(&mut s, "HELLO 3\r\n", &map3);
    exchange(&mut s, "RESET\r\n", "+RESET\r\n");
    exchange(&mut s, "GET nope\r\n", "$-1\r\n");
    exchange(&mut s, "CLIENT GETNAME\r\n", "$-1\r\n");
}

#[test]
fn requirepass_and_auth() {
    let (_e, _l, port) = start();
    let mut admin = connect(port);
    exchange(
        &mut admin,
        "AUTH x\r\n",
        "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n",
    );
    exchange(&mut admin, "AUTH default anything\r\n", "+OK\r\n");
    exchange(&mut admin, "CONFIG SET requirepass s3cret\r\n", "+OK\r\n");
    // Already-connected clients stay authenticated, as in Redis.
    exchange(&mut admin, "SET k v\r\n", "+OK\r\n");

    let mut s = connect(port);
    exchange(&mut s, "GET k\r\n", "-NOAUTH Authentication required.\r\n");
    exchange(
        &mut s,
        "HELLO 3\r\n",
        "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n",
    );
    let wrongpass = "-WRONGPASS invalid username-password pair or user is disabled.\r\n";
    exchange(&mut s, "AUTH nope\r\n", wrongpass);
    exchange(&mut s, "AUTH bob s3cret\r\n", wrongpass);
    exchange(&mut s, "HELLO 2 AUTH default nope\r\n", wrongpass);
    exchange(&mut s, "AUTH a b c\r\n", "-ERR syntax error\r\n");
    // AUTH then a big multibulk in the same write: the limit lifts at once.
    let mut req = b"AUTH s3cret\r\n*11\r\n$3\r\nDEL\r\n".to_vec();
    for _ in 0..10 {
        req.extend(b"$1\r\nx\r\n");
    }
    exchange(&mut s, std::str::from_utf8(&req).unwrap(), "+OK\r\n:0\r\n");
    exchange(&mut s, "RESET\r\n", "+RESET\r\n");
    exchange(&mut s, "GET k\r\n", "-NOAUTH Authentication required.\r\n");
    s.write_all(b"HELLO 2 AUTH default s3cret\r\n").unwrap();
    assert_eq!(read_line(&mut s), "*14\r\n");

    let mut s = connect(port);
    s.write_all(b"*11\r\n").unwrap();
    assert_eq!(
        String::from_utf8_lossy(&read_to_close(&mut s)),
        "-ERR Protocol error: unauthenticated multibulk length\r\n"
    );
    let mut s = connect(port);
    s.write_all(b"*1\r\n$16385\r\n").unwrap();
    assert_eq!(
        String::from_utf8_lossy(&read_to_close(&mut s)),
        "-ERR Protocol error: unauthenticated bulk length\r\n"
    );
    assert_eq!(
        cli(port, &["-a", "s3cret", "--no-auth-warning", "GET", "k"]),
        "v\n"
    );
}

#[test]
fn client_commands() {
    let (e, _l, port) = start();
    let mut a = connect(port);
    let mut b = connect(port);
    exchange(&mut a, "CLIENT SETNAME alpha\r\n", "+OK\r\n");
    exchange(
        &mut a,
        "CLIENT SETNAME \"a b\"\r\n",
        "-ERR Client names cannot contain spaces, newlines or special characters.\r\n",
    );
    exchange(&mut b, "SELECT 3\r\n", "+OK\r\n");
    a.write_all(b"CLIENT LIST\r\n").unwrap();
    let list = read_bulk(&mut a);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert!(lines[0].contains(" name=alpha ") && lines[0].contains(" cmd=client|list "));
    assert!(lines[1].contains(" name= ") && lines[1].contains(" db=3 "));
    assert!(lines[1].contains(" cmd=select "), "{}", lines[1]);
    let b_id: u64 = lines[1]
        .split(' ')
        .next()
        .unwrap()
        .trim_start_matches("id=")
        .parse()
        .unwrap();

    let info = cli(port, &["INFO", "clients"]);
    assert!(info.contains("connected_clients:3"), "{info}");

    exchange(&mut a, "CLIENT REPLY OFF\r\n", "");
    exchange(&mut a, "CLIENT REPLY ON\r\n", "+OK\r\n");
    exchange(
        &mut a,
        "CLIENT REPLY SKIP\r\nPING\r\nECHO x\r\n",
        "$1\r\nx\r\n",
    );
    exchange(&mut a, "CLIENT NO-EVICT on\r\n", "+OK\r\n");
    exchange(&mut a, "CLIENT NO-EVICT x\r\n", "-ERR syntax error\r\n");
    exchange(
        &mut a,
        "CLIENT FOO\r\n",
        "-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n",
    );
    exchange(
        &mut a,
        "CLIENT ID x\r\n",
        "-ERR wrong number of arguments for 'client|id' command\r\n",
    );
    exchange(
        &mut a,
        "CLIENT KILL ID 0\r\n",
        "-ERR client-id should be greater than 0\r\n",
    );
    exchange(
        &mut a,
        "CLIENT KILL 1.2.3.4:5\r\n",
        "-ERR No such client\r\n",
    );
    exchange(&mut a, "CLIENT UNBLOCK 99999\r\n", ":0\r\n");
    exchange(
        &mut a,
        "CLIENT UNBLOCK 1 FOO\r\n",
        "-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n",
    );
    exchange(&mut a, &format!("CLIENT KILL ID {b_id}\r\n"), ":1\r\n");
    assert_eq!(read_to_close(&mut b), b"");
    // Wait for the server to forget b and redis-cli's connection.
    let t0 = Instant::now();
    while e.lock().clients.len() > 1 {
        assert!(t0.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(10));
    }
    // SKIPME defaults to yes: killing by type spares the caller.
    exchange(&mut a, "CLIENT KILL TYPE normal\r\n", ":0\r\n");
    exchange(&mut a, "CLIENT KILL TYPE normal SKIPME no\r\n", ":1\r\n");
    assert_eq!(read_to_close(&mut a), b"");
}

#[test]
fn quit_closes_after_its_reply() {
    let (_e, _l, port) = start();
    let mut s = connect(port);
    s.write_all(b"PING\r\nQUIT\r\nPING\r\n").unwrap();
    assert_eq!(read_to_close(&mut s), b"+PONG\r\n+OK\r\n");
}

#[test]
fn maxclients_caps_connections() {
    let (e, l, port) = start();
    let mut a = connect(port);
    exchange(&mut a, "CONFIG SET maxclients 2\r\n", "+OK\r\n");
    let mut b = connect(port);
    exchange(&mut b, "PING\r\n", "+PONG\r\n");
    let mut c = connect(port);
    assert_eq!(
        String::from_utf8_lossy(&read_to_close(&mut c)),
        "-ERR max number of clients reached\r\n"
    );
    drop(b);
    // The slot frees once the server notices the hang-up.
    let t0 = Instant::now();
    loop {
        let mut d = connect(port);
        d.write_all(b"PING\r\n").unwrap();
        if read_n(&mut d, 7) == b"+PONG\r\n" {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(l);
    let t0 = Instant::now();
    while !e.lock().clients.is_empty() {
        assert!(t0.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_stalled_client_blocks_nobody() {
    let (_e, _l, port) = start();
    let mut setup = connect(port);
    let big = "x".repeat(1 << 20);
    exchange(
        &mut setup,
        &format!(
            "*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n${}\r\n{big}\r\n",
            big.len()
        ),
        "+OK\r\n",
    );
    // The stalled client asks for ~200 MiB of replies and reads none.
    let mut stalled = connect(port);
    let req = "GET big\r\n".repeat(200);
    stalled.write_all(req.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // Everybody else is served promptly.
    let t0 = Instant::now();
    for i in 0..50 {
        let mut s = connect(port);
        exchange(
            &mut s,
            &format!("SET k{i} v\r\nGET k{i}\r\n"),
            "+OK\r\n$1\r\nv\r\n",
        );
    }
    assert!(t0.elapsed() < Duration::from_secs(5));
    // The stalled client still gets its replies, in full, when it reads.
    let got = read_n(&mut stalled, 10 * ((1 << 20) + 11));
    assert!(got.starts_with(b"$1048576\r\nxxx"));
}

#[test]
fn stop_closes_connections() {
    let (e, mut l, port) = start();
    let mut s = connect(port);
    exchange(&mut s, "PING\r\n", "+PONG\r\n");
    l.stop();
    assert_eq!(read_to_close(&mut s), b"");
    // (The port itself may be taken at once by a parallel test's listener.)
    let t0 = Instant::now();
    while !e.lock().clients.is_empty() || l.connections() > 0 {
        assert!(t0.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until `cond` holds on the engine state.
fn wait_for(e: &Engine, cond: impl Fn(&ferrite_store::engine::State) -> bool) {
    let t0 = Instant::now();
    while !cond(&e.lock()) {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "condition never held"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn blocking_commands_over_the_wire() {
    let (e, _l, port) = start();
    let mut waiter = connect(port);
    let mut other = connect(port);
    // Served by another client's push; the pipelined PING waits its turn.
    waiter.write_all(b"BLPOP q 0\r\nPING\r\n").unwrap();
    wait_for(&e, |st| st.blocking.blocked_clients() == 1);
    let info = cli(port, &["INFO", "clients"]);
    assert!(info.contains("blocked_clients:1"), "{info}");
    let list = cli(port, &["CLIENT", "LIST"]);
    assert!(
        list.contains("flags=b") && list.contains("cmd=blpop"),
        "{list}"
    );
    exchange(&mut other, "RPUSH q a b\r\n", ":2\r\n");
    assert_eq!(
        String::from_utf8_lossy(&read_n(&mut waiter, 25)),
        "*2\r\n$1\r\nq\r\n$1\r\na\r\n+PONG\r\n"
    );
    // Timeouts: a null array in RESP2, a null in RESP3.
    exchange(&mut waiter, "BLPOP empty 0.05\r\n", "*-1\r\n");
    waiter.write_all(b"HELLO 3\r\n").unwrap();
    while read_line(&mut waiter) != "*0\r\n" {} // the map ends with modules
    exchange(&mut waiter, "BLPOP empty 0.05\r\n", "_\r\n");
}

#[test]
fn client_unblock_and_hang_ups() {
    let (e, _l, port) = start();
    let mut waiter = connect(port);
    let mut admin = connect(port);
    waiter.write_all(b"CLIENT ID\r\n").unwrap();
    let id: u64 = read_line(&mut waiter)[1..].trim_end().parse().unwrap();
    waiter.write_all(b"BLPOP q 0\r\n").unwrap();
    wait_for(&e, |st| st.blocking.blocked_clients() == 1);
    exchange(&mut admin, &format!("CLIENT UNBLOCK {id}\r\n"), ":1\r\n");
    exchange(&mut waiter, "", "*-1\r\n");
    waiter.write_all(b"BLPOP q 0\r\n").unwrap();
    wait_for(&e, |st| st.blocking.blocked_clients() == 1);
    exchange(
        &mut admin,
        &format!("CLIENT UNBLOCK {id} ERROR\r\n"),
        ":1\r\n",
    );
    exchange(
        &mut waiter,
        "",
        "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n",
    );
    exchange(&mut admin, &format!("CLIENT UNBLOCK {id}\r\n"), ":0\r\n");
    // A waiter that hangs up is forgotten: the next push stays in the list.
    waiter.write_all(b"BLPOP q 0\r\n").unwrap();
    wait_for(&e, |st| st.blocking.blocked_clients() == 1);
    drop(waiter);
    wait_for(&e, |st| st.blocking.blocked_clients() == 0);
    exchange(&mut admin, "RPUSH q x\r\n", ":1\r\n");
    exchange(&mut admin, "LLEN q\r\n", ":1\r\n");
}

/// Reads until `expect.len()` bytes came and compares (exact framing).
fn expect_bytes(s: &mut TcpStream, expect: &str) {
    let got = read_n(s, expect.len());
    assert_eq!(String::from_utf8_lossy(&got), expect);
}

#[test]
fn pubsub_over_the_wire_resp2() {
    // Every expected byte string is what redis-server 7.0.15 sends.
    let (e, _l, port) = start();
    let mut sub = connect(port);
    let mut publ = connect(port);
    exchange(
        &mut sub,
        "SUBSCRIBE a b\r\n",
        "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n",
    );
    exchange(&mut publ, "PUBLISH a hello\r\n", ":1\r\n");
    expect_bytes(
        &mut sub,
        "*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$5\r\nhello\r\n",
    );
    exchange(
        &mut sub,
        "PSUBSCRIBE p*\r\n",
        "*3\r\n$10\r\npsubscribe\r\n$2\r\np*\r\n:3\r\n",
    );
    exchange(&mut publ, "PUBLISH pa m\r\n", ":1\r\n");
    expect_bytes(
        &mut sub,
        "*4\r\n$8\r\npmessage\r\n$2\r\np*\r\n$2\r\npa\r\n$1\r\nm\r\n",
    );
    // CLIENT LIST mirrors the subscriber's counts and pub/sub type.
    publ.write_all(b"CLIENT LIST TYPE pubsub\r\n").unwrap();
    let listed = read_bulk(&mut publ);
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert!(
        listed.contains(" flags=P ") && listed.contains(" sub=2 psub=1 ssub=0 multi=-1 "),
        "{listed}"
    );
    let mut tx = connect(port);
    exchange(
        &mut tx,
        "MULTI\r\nPING\r\nPING\r\n",
        "+OK\r\n+QUEUED\r\n+QUEUED\r\n",
    );
    publ.write_all(b"CLIENT LIST TYPE normal\r\n").unwrap();
    let listed = read_bulk(&mut publ);
    assert_eq!(listed.lines().count(), 2, "{listed}");
    assert!(
        listed.contains(" flags=x ") && listed.contains(" multi=2 "),
        "{listed}"
    );
    exchange(&mut tx, "DISCARD\r\n", "+OK\r\n");
    // PING in subscribe mode.
    exchange(&mut sub, "PING\r\n", "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    exchange(&mut sub, "PING x\r\n", "*2\r\n$4\r\npong\r\n$1\r\nx\r\n");
    exchange(
        &mut sub,
        "GET k\r\n",
        "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n",
    );
    exchange(
        &mut sub,
        "UNSUBSCRIBE\r\n",
        "*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:2\r\n*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:1\r\n",
    );
    exchange(
        &mut sub,
        "PUNSUBSCRIBE\r\n",
        "*3\r\n$12\r\npunsubscribe\r\n$2\r\np*\r\n:0\r\n",
    );
    exchange(
        &mut sub,
        "UNSUBSCRIBE\r\nPUNSUBSCRIBE\r\n",
        "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n*3\r\n$12\r\npunsubscribe\r\n$-1\r\n:0\r\n",
    );
    // Out of subscribe mode.
    exchange(&mut sub, "PING\r\n", "+PONG\r\n");
    exchange(
        &mut sub,
        "UNSUBSCRIBE q\r\n",
        "*3\r\n$11\r\nunsubscribe\r\n$1\r\nq\r\n:0\r\n",
    );

    // RESET leaves subscribe mode, a transaction and the watches.
    exchange(
        &mut sub,
        "SUBSCRIBE a\r\n",
        "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n",
    );
    exchange(&mut sub, "RESET\r\n", "+RESET\r\n");
    exchange(&mut sub, "PING\r\n", "+PONG\r\n");
    exchange(&mut publ, "PUBLISH a hi\r\n", ":0\r\n");
    exchange(
        &mut sub,
        "MULTI\r\nSET k 1\r\nRESET\r\nEXEC\r\n",
        "+OK\r\n+QUEUED\r\n+RESET\r\n-ERR EXEC without MULTI\r\n",
    );
    exchange(&mut sub, "WATCH k\r\nRESET\r\n", "+OK\r\n+RESET\r\n");
    exchange(&mut publ, "SET k 2\r\n", "+OK\r\n");
    // The watch went with RESET: this transaction runs.
    exchange(&mut sub, "MULTI\r\nEXEC\r\n", "+OK\r\n*0\r\n");
    assert_eq!(e.lock().watches.watched_keys(), 0);

    // A client that goes away leaves no subscription behind, at once.
    let mut gone = connect(port);
    exchange(
        &mut gone,
        "SUBSCRIBE gone\r\nPSUBSCRIBE gone*\r\n",
        "*3\r\n$9\r\nsubscribe\r\n$4\r\ngone\r\n:1\r\n*3\r\n$10\r\npsubscribe\r\n$5\r\ngone*\r\n:2\r\n",
    );
    let mut watcher = connect(port);
    exchange(&mut watcher, "WATCH w\r\n", "+OK\r\n");
    drop(gone);
    drop(watcher);
    wait_for(&e, |st| {
        st.pubsub.subscribers() == 0 && st.watches.watched_keys() == 0
    });
    assert_eq!(e.lock().pubsub.pattern_count(), 0);
    exchange(
        &mut publ,
        "PUBSUB NUMSUB gone\r\nPUBSUB NUMPAT\r\n",
        "*2\r\n$4\r\ngone\r\n:0\r\n:0\r\n",
    );
}

#[test]
fn pubsub_over_the_wire_resp3() {
    let (_e, _l, port) = start();
    let mut sub = connect(port);
    let mut publ = connect(port);
    sub.write_all(b"HELLO 3\r\n").unwrap();
    while read_line(&mut sub) != "*0\r\n" {} // the map ends with modules
    exchange(
        &mut sub,
        "SUBSCRIBE a\r\n",
        ">3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n",
    );
    exchange(&mut publ, "PUBLISH a hi\r\n", ":1\r\n");
    expect_bytes(&mut sub, ">3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nhi\r\n");
    // RESP3 has no subscribe mode: any command runs, PING is plain.
    exchange(&mut sub, "PING\r\n", "+PONG\r\n");
    exchange(&mut sub, "SET k v\r\n", "+OK\r\n");
    exchange(
        &mut sub,
        "UNSUBSCRIBE a b\r\n",
        ">3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:0\r\n>3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:0\r\n",
    );
    exchange(
        &mut sub,
        "UNSUBSCRIBE\r\n",
        ">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n",
    );
    exchange(
        &mut sub,
        "PSUBSCRIBE x*\r\n",
        ">3\r\n$10\r\npsubscribe\r\n$2\r\nx*\r\n:1\r\n",
    );
    exchange(&mut sub, "RESET\r\n", "+RESET\r\n");
    exchange(&mut publ, "PUBLISH xa hi\r\n", ":0\r\n");
}

#[test]
fn redis_cli_subscribes() {
    let (e, _l, port) = start();
    let child = Command::new("redis-cli")
        .args(["-p", &port.to_string(), "SUBSCRIBE", "news"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("redis-cli is installed");
    wait_for(&e, |st| st.pubsub.subscribers() == 1);
    assert_eq!(cli(port, &["PUBLISH", "news", "flash"]), "1\n");
    // redis-cli prints each push as it arrives; stop it once it had time.
    let mut child = child;
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        let mut buf = [0u8; 256];
        while !String::from_utf8_lossy(&text).contains("flash") {
            match out.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => text.extend_from_slice(&buf[..n]),
            }
        }
        String::from_utf8_lossy(&text).into_owned()
    });
    let text = reader.join().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(text, "subscribe\nnews\n1\nmessage\nnews\nflash\n");
    wait_for(&e, |st| st.pubsub.subscribers() == 0);
}

#[test]
fn a_push_to_oneself_precedes_the_reply_that_caused_it() {
    // As redis-server 7.0.15: the message is queued during PUBLISH, before
    // PUBLISH's own reply.
    let (_e, _l, port) = start();
    let mut s = connect(port);
    s.write_all(b"HELLO 3\r\n").unwrap();
    while read_line(&mut s) != "*0\r\n" {}
    exchange(
        &mut s,
        "SUBSCRIBE c\r\nPUBLISH c m\r\nPING\r\n",
        ">3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n>3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n:1\r\n+PONG\r\n",
    );
}

#[test]
fn pushes_from_other_threads_interleave_whole_frames_with_pipelined_replies() {
    let (e, _l, port) = start();
    let mut sub = connect(port);
    sub.write_all(b"HELLO 3\r\n").unwrap();
    while read_line(&mut sub) != "*0\r\n" {}
    exchange(
        &mut sub,
        "SUBSCRIBE c\r\n",
        ">3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n",
    );
    // An embedded session (as the NIF's) publishes from its own thread
    // while the subscriber's pipelines run on the listener's.
    const MSGS: usize = 2000;
    const PINGS: usize = 2000;
    let publisher = {
        let e = e.clone();
        std::thread::spawn(move || {
            let mut s = e.session();
            for i in 0..MSGS {
                let payload = format!("m{i}");
                let r = e.execute(&mut s, &[b"PUBLISH", b"c", payload.as_bytes()]);
                assert_eq!(r, ferrite_store::reply::Reply::Int(1));
            }
        })
    };
    let writer = {
        let mut w = sub.try_clone().unwrap();
        std::thread::spawn(move || {
            for _ in 0..PINGS / 100 {
                w.write_all("PING\r\n".repeat(100).as_bytes()).unwrap();
            }
        })
    };
    let (mut pongs, mut msgs) = (0, 0);
    while pongs < PINGS || msgs < MSGS {
        let line = read_line(&mut sub);
        if line == "+PONG\r\n" {
            pongs += 1;
        } else {
            assert_eq!(line, ">3\r\n");
            assert_eq!(read_bulk(&mut sub), "message");
            assert_eq!(read_bulk(&mut sub), "c");
            // Messages arrive in publishing order.
            assert_eq!(read_bulk(&mut sub), format!("m{msgs}"));
            msgs += 1;
        }
    }
    publisher.join().unwrap();
    writer.join().unwrap();
}

#[test]
fn many_connections_pipeline_at_once() {
    let (e, l, port) = start();
    const CONNS: usize = 120;
    const ROUNDS: usize = 20;
    let mut socks: Vec<TcpStream> = (0..CONNS).map(|_| connect(port)).collect();
    for _ in 0..ROUNDS {
        // Every connection sends its pipeline before any reply is read.
        for (i, s) in socks.iter_mut().enumerate() {
            let req = format!("INCR total\r\nRPUSH l{i} x\r\nLLEN l{i}\r\n").repeat(8);
            s.write_all(req.as_bytes()).unwrap();
        }
        for s in socks.iter_mut() {
            for _ in 0..8 {
                let total = read_line(s);
                assert!(total.starts_with(':'), "{total:?}");
                let pushed = read_line(s);
                assert_eq!(read_line(s), pushed, "RPUSH and LLEN agree, in order");
            }
        }
    }
    assert_eq!(l.connections(), CONNS);
    let mut s = e.session();
    let n = (CONNS * ROUNDS * 8) as i64;
    assert_eq!(
        e.execute(&mut s, &[b"GET", b"total"]),
        ferrite_store::reply::Reply::bulk(n.to_string().as_bytes())
    );
    drop(socks);
    wait_for(&e, |st| st.clients.is_empty());
}

#[test]
fn a_blocked_pipeline_resumes_after_a_timeout_and_a_kill_from_another_thread() {
    let (e, _l, port) = start();
    let mut s = connect(port);
    // The timer thread times the BLPOP out; the PING behind it follows.
    exchange(&mut s, "BLPOP q 0.05\r\nPING\r\n", "*-1\r\n+PONG\r\n");
    // CLIENT KILL from an embedded session (another thread) closes a
    // blocked connection.
    s.write_all(b"CLIENT ID\r\n").unwrap();
    let id = read_line(&mut s)[1..].trim_end().to_string();
    s.write_all(b"BLPOP q 0\r\nPING\r\n").unwrap();
    wait_for(&e, |st| st.blocking.blocked_clients() == 1);
    let mut other = e.session();
    let r = e.execute(&mut other, &[b"CLIENT", b"KILL", b"ID", id.as_bytes()]);
    assert_eq!(r, ferrite_store::reply::Reply::Int(1));
    assert_eq!(read_to_close(&mut s), b"");
    wait_for(&e, |st| {
        st.blocking.blocked_clients() == 0 && st.clients.is_empty()
    });
}

#[test]
fn a_subscriber_that_never_reads_is_closed_at_the_hard_limit() {
    let (e, _l, port) = start();
    let mut sub = connect(port);
    exchange(
        &mut sub,
        "SUBSCRIBE c\r\n",
        "*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n",
    );
    let mut publ = connect(port);
    let big = "x".repeat(1 << 20);
    let publish = format!(
        "*3\r\n$7\r\nPUBLISH\r\n$1\r\nc\r\n${}\r\n{big}\r\n",
        big.len()
    );
    // 64 MiB of messages: more than the socket buffers plus the 32 MiB
    // limit. The publisher is never held up.
    let t0 = Instant::now();
    let mut receivers = Vec::new();
    for _ in 0..64 {
        publ.write_all(publish.as_bytes()).unwrap();
        receivers.push(read_line(&mut publ));
    }
    assert!(t0.elapsed() < Duration::from_secs(20));
    assert_eq!(receivers[0], ":1\r\n");
    assert_eq!(receivers.last().unwrap(), ":0\r\n", "dropped at the limit");
    wait_for(&e, |st| {
        st.pubsub.subscribers() == 0 && st.clients.len() == 1
    });
    exchange(&mut publ, "PING\r\n", "+PONG\r\n");
}

#[test]
fn a_slow_reader_past_the_high_water_mark_still_gets_everything() {
    // More output than the listener queues before it stops running a
    // client's commands (64 MiB): it must resume once the client reads.
    let (_e, _l, port) = start();
    let mut s = connect(port);
    let big = "y".repeat(1 << 20);
    exchange(
        &mut s,
        &format!("*3\r\n$3\r\nSET\r\n$1\r\nb\r\n${}\r\n{big}\r\n", big.len()),
        "+OK\r\n",
    );
    s.write_all("GET b\r\n".repeat(100).as_bytes()).unwrap();
    s.write_all(b"PING\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let one = (1 << 20) + "$1048576\r\n\r\n".len();
    let got = read_n(&mut s, 100 * one + 7);
    assert_eq!(got.len(), 100 * one + 7);
    assert!(got.ends_with(b"y\r\n+PONG\r\n"));
}

#[test]
fn a_busy_script_answers_busy_over_the_wire_and_script_kill_stops_it() {
    let (e, _l, port) = start();
    let mut c = connect(port);
    exchange(&mut c, "CONFIG SET busy-reply-threshold 50\r\n", "+OK\r\n");
    // The script runs from an engine session (as from the BEAM) and holds
    // the engine lock while it spins.
    let e2 = e.clone();
    let runner = std::thread::spawn(move || {
        let mut s = e2.session();
        let mut st = e2.lock();
        e2.execute_locked(
            &mut st,
            &mut s,
            &[b"EVAL", b"local i = 0 while true do i = i + 1 end", b"0"],
        )
    });
    let busy = "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";
    let t0 = Instant::now();
    loop {
        let got = roundtrip(&mut c, b"GET x\r\n", 5);
        if got == b"$-1\r\n" {
            assert!(t0.elapsed() < Duration::from_secs(10), "never BUSY");
            std::thread::sleep(Duration::from_millis(10));
            continue;
        }
        let rest = read_n(&mut c, busy.len() - got.len());
        assert_eq!(String::from_utf8_lossy(&[got, rest].concat()), busy);
        break;
    }
    // Pipelined: each command is offered to the busy check in turn.
    exchange(&mut c, "PING\r\nSCRIPT KILL\r\n", &format!("{busy}+OK\r\n"));
    let killed = runner.join().unwrap();
    assert!(
        matches!(&killed, ferrite_store::Reply::Error(m) if m.starts_with("ERR Script killed by user with SCRIPT KILL")),
        "{killed:?}"
    );
    exchange(&mut c, "GET x\r\n", "$-1\r\n");
}
