//! Stream commands: golden replies recorded from redis-server 7.0, id and
//! time dependent behaviour with the engine clock, blocking reads, and
//! property tests of id ordering.

mod golden;

use ferrite_store::types::stream::{Stream, StreamId};
use ferrite_store::types::Sso;
use ferrite_store::{Engine, Reply};
use golden::{blocking_session, exec, fresh, render, served};
use proptest::prelude::*;

#[test]
fn golden_replies() {
    golden::run(include_str!("golden/streams.golden"));
}

fn q(e: &Engine, s: &mut ferrite_store::Session, line: &str) -> String {
    render(&exec(e, s, line), s.resp == 3)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A new, empty directory path under the temp dir, unique to this run.
fn fresh_dir(tag: &str) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    std::env::temp_dir().join(format!("{tag}-{}-{nanos}", std::process::id()))
}

/// An engine persisted in `dir` with `appendfsync always`.
fn open_durable(dir: &std::path::Path) -> std::sync::Arc<Engine> {
    use ferrite_store::persist::{AppendFsync, PersistOptions};
    Engine::open(
        dir,
        PersistOptions {
            appendfsync: AppendFsync::Always,
            ..Default::default()
        },
    )
    .expect("open")
}

fn id_of(r: &Reply) -> StreamId {
    let s = std::str::from_utf8(r.as_bytes().expect("bulk id")).unwrap();
    let (ms, seq) = s.split_once('-').unwrap();
    StreamId::new(ms.parse().unwrap(), seq.parse().unwrap())
}

#[test]
fn auto_ids_follow_the_clock_and_never_go_back() {
    let (e, mut s) = fresh();
    let before = now_ms();
    let a = id_of(&exec(&e, &mut s, "XADD s * f v"));
    let after = now_ms();
    assert!(
        a.ms >= before && a.ms <= after,
        "{a} not in [{before}, {after}]"
    );
    let mut last = a;
    for _ in 0..100 {
        let id = id_of(&exec(&e, &mut s, "XADD s * f v"));
        assert!(id > last);
        last = id;
    }
    // The clock moved forward: new ids use it, with sequence 0.
    e.fast_forward(60_000);
    let b = id_of(&exec(&e, &mut s, "XADD s * f v"));
    assert!(b.ms >= before + 60_000);
    assert_eq!(b.seq, 0);
    // A top id in the future: `*` continues its sequence.
    let far = b.ms + 10_000_000;
    exec(&e, &mut s, &format!("XADD s {far}-5 f v"));
    assert_eq!(q(&e, &mut s, "XADD s * f v"), format!("\"{far}-6\""));
    assert_eq!(
        q(&e, &mut s, &format!("XADD s {far}-* f v")),
        format!("\"{far}-7\"")
    );
}

#[test]
fn pending_idle_times_follow_the_clock() {
    let (e, mut s) = fresh();
    // Exact idle times: only fast_forward may move the clock.
    e.clock.freeze(true);
    exec(&e, &mut s, "XADD s 1-0 f v");
    exec(&e, &mut s, "XADD s 2-0 f v");
    exec(&e, &mut s, "XGROUP CREATE s g 0");
    exec(&e, &mut s, "XREADGROUP GROUP g alice COUNT 1 STREAMS s >");
    e.fast_forward(5000);
    exec(&e, &mut s, "XREADGROUP GROUP g bob STREAMS s >");
    let r = q(&e, &mut s, "XPENDING s g - + 10");
    assert_eq!(r, r#"[["1-0","alice",:5000,:1],["2-0","bob",:0,:1]]"#);
    assert_eq!(
        q(&e, &mut s, "XPENDING s g IDLE 4000 - + 10"),
        r#"[["1-0","alice",:5000,:1]]"#
    );
    assert_eq!(
        q(&e, &mut s, "XPENDING s g - + 10 bob"),
        r#"[["2-0","bob",:0,:1]]"#
    );
    assert_eq!(
        q(&e, &mut s, "XINFO CONSUMERS s g"),
        r#"[["name","alice","pending",:1,"idle",:5000],["name","bob","pending",:1,"idle",:0]]"#
    );
    // XCLAIM with min-idle: only alice's entry qualifies.
    assert_eq!(
        q(&e, &mut s, "XCLAIM s g carol 4000 1-0 2-0 JUSTID"),
        r#"["1-0"]"#
    );
    e.fast_forward(100);
    assert_eq!(
        q(&e, &mut s, "XPENDING s g - + 10"),
        r#"[["1-0","carol",:100,:1],["2-0","bob",:100,:1]]"#
    );
    // IDLE sets the delivery time back; RETRYCOUNT sets the counter.
    exec(&e, &mut s, "XCLAIM s g carol 0 2-0 IDLE 7000 RETRYCOUNT 9");
    assert_eq!(
        q(&e, &mut s, "XPENDING s g - + 10 carol"),
        r#"[["1-0","carol",:100,:1],["2-0","carol",:7000,:9]]"#
    );
    // XAUTOCLAIM takes what is idle long enough and bumps the counter.
    assert_eq!(
        q(&e, &mut s, "XAUTOCLAIM s g dave 1000 0"),
        r#"["0-0",[["2-0",["f","v"]]],[]]"#
    );
    assert_eq!(
        q(&e, &mut s, "XPENDING s g"),
        r#"[:2,"1-0","2-0",[["carol","1"],["dave","1"]]]"#
    );
    // History reads bump delivery counts and reset idle.
    e.fast_forward(50);
    assert_eq!(
        q(&e, &mut s, "XREADGROUP GROUP g dave STREAMS s 0"),
        r#"[["s",[["2-0",["f","v"]]]]]"#
    );
    assert_eq!(
        q(&e, &mut s, "XPENDING s g - + 10 dave"),
        r#"[["2-0","dave",:0,:11]]"#
    );
}

#[test]
fn xinfo_stream_full_shape() {
    let (e, mut s) = fresh();
    exec(&e, &mut s, "XADD s 1-0 f v");
    exec(&e, &mut s, "XADD s 2-0 f v");
    exec(&e, &mut s, "XGROUP CREATE s g 0");
    exec(&e, &mut s, "XREADGROUP GROUP g c COUNT 1 STREAMS s >");
    exec(&e, &mut s, "XGROUP CREATECONSUMER s g c2");
    let t = e.clock.now_ms();
    let full = q(&e, &mut s, "XINFO STREAM s FULL");
    let norm = |x: &str| {
        // Replace the (engine-clock) times with T.
        let mut out = x.to_string();
        for d in 0..50 {
            out = out.replace(&format!(":{}", t - d), ":T");
        }
        out
    };
    assert_eq!(
        norm(&full),
        r#"["length",:2,"radix-tree-keys",:1,"radix-tree-nodes",:2,"last-generated-id","2-0","max-deleted-entry-id","0-0","entries-added",:2,"recorded-first-entry-id","1-0","entries",[["1-0",["f","v"]],["2-0",["f","v"]]],"groups",[["name","g","last-delivered-id","1-0","entries-read",:1,"lag",:1,"pel-count",:1,"pending",[["1-0","c",:T,:1]],"consumers",[["name","c","seen-time",:T,"pel-count",:1,"pending",[["1-0",:T,:1]]],["name","c2","seen-time",:T,"pel-count",:0,"pending",[]]]]]]"#
    );
    let one = q(&e, &mut s, "XINFO STREAM s FULL COUNT 1");
    assert!(norm(&one).contains(r#""entries",[["1-0",["f","v"]]],"groups""#));
}

#[test]
fn xread_block_serves_new_entries_only() {
    let e = Engine::new();
    let mut p = e.session();
    exec(&e, &mut p, "XADD s 1-0 old v");
    let (mut s1, _k1, rx1) = blocking_session(&e);
    let (mut s2, _k2, rx2) = blocking_session(&e);
    let (mut s3, _k3, rx3) = blocking_session(&e);
    s2.resp = 3;
    // `$` means after the current top.
    assert_eq!(
        exec(&e, &mut s1, "XREAD BLOCK 0 STREAMS s $"),
        Reply::NilArray
    );
    assert!(s1.blocked.is_some());
    exec(&e, &mut s2, "XREAD COUNT 1 BLOCK 0 STREAMS other s $ 1-0");
    // Waits for an id past 5-0: an add of 2-0 does not serve it.
    exec(&e, &mut s3, "XREAD BLOCK 0 STREAMS s 5-0");
    exec(&e, &mut p, "XADD s 2-0 new v");
    assert_eq!(served(&rx1, false), r#"[["s",[["2-0",["new","v"]]]]]"#);
    assert_eq!(served(&rx2, true), r#"{"s":[["2-0",["new","v"]]]}"#);
    assert!(rx3.try_recv().is_err());
    assert_eq!(e.lock().blocking.blocked_clients(), 1);
    exec(&e, &mut p, "XADD s 6-0 last v");
    assert_eq!(served(&rx3, false), r#"[["s",[["6-0",["last","v"]]]]]"#);
    // Timeouts reply with a null array.
    let (mut s4, _k4, rx4) = blocking_session(&e);
    exec(&e, &mut s4, "XREAD BLOCK 100 STREAMS s $");
    e.fast_forward(200);
    ferrite_store::blocking::tick(&e);
    assert_eq!(served(&rx4, false), "(nil*)");
    // Without a sink (or inside MULTI) XREAD BLOCK answers at once.
    assert_eq!(
        exec(&e, &mut p, "XREAD BLOCK 0 STREAMS s $"),
        Reply::NilArray
    );
}

#[test]
fn xreadgroup_block_delivers_each_entry_once() {
    let e = Engine::new();
    let mut p = e.session();
    exec(&e, &mut p, "XGROUP CREATE s g $ MKSTREAM");
    let mut waiters = Vec::new();
    for name in ["a", "b", "c"] {
        let (mut s, k, rx) = blocking_session(&e);
        let r = exec(
            &e,
            &mut s,
            &format!("XREADGROUP GROUP g {name} COUNT 1 BLOCK 0 STREAMS s >"),
        );
        assert_eq!(r, Reply::NilArray);
        waiters.push((k, rx));
    }
    // Blocked consumers are not created before they are served (7.0).
    assert_eq!(q(&e, &mut p, "XINFO CONSUMERS s g"), "[]");
    exec(&e, &mut p, "XADD s 1-0 n 1");
    exec(&e, &mut p, "XADD s 2-0 n 2");
    assert_eq!(
        served(&waiters[0].1, false),
        r#"[["s",[["1-0",["n","1"]]]]]"#
    );
    assert_eq!(
        served(&waiters[1].1, false),
        r#"[["s",[["2-0",["n","2"]]]]]"#
    );
    assert!(waiters[2].1.try_recv().is_err());
    assert_eq!(
        q(&e, &mut p, "XPENDING s g"),
        r#"[:2,"1-0","2-0",[["a","1"],["b","1"]]]"#
    );
    // Destroying the group answers the remaining waiter with NOGROUP.
    exec(&e, &mut p, "XGROUP DESTROY s g");
    assert_eq!(
        served(&waiters[2].1, false),
        "-NOGROUP the consumer group this client was blocked on no longer exists"
    );
}

#[test]
fn xreadgroup_block_noack_and_history_do_not_block() {
    let e = Engine::new();
    let mut p = e.session();
    exec(&e, &mut p, "XGROUP CREATE s g $ MKSTREAM");
    let (mut s1, _k, rx) = blocking_session(&e);
    // A history read (id instead of `>`) is answered at once.
    assert_eq!(
        q(&e, &mut s1, "XREADGROUP GROUP g a BLOCK 0 STREAMS s 0"),
        r#"[["s",[]]]"#
    );
    assert!(s1.blocked.is_none());
    exec(
        &e,
        &mut s1,
        "XREADGROUP GROUP g a NOACK BLOCK 0 STREAMS s >",
    );
    exec(&e, &mut p, "XADD s 1-0 n 1");
    assert_eq!(served(&rx, false), r#"[["s",[["1-0",["n","1"]]]]]"#);
    assert_eq!(q(&e, &mut p, "XPENDING s g"), "[:0,(nil),(nil),(nil*)]");
}

#[test]
fn dirty_counts_stream_changes() {
    let (e, mut s) = fresh();
    let d0 = e.lock().dirty;
    exec(&e, &mut s, "XADD s 1-0 f v");
    exec(&e, &mut s, "XADD s 2-0 f v");
    exec(&e, &mut s, "XADD s 2-0 f v"); // refused
    exec(&e, &mut s, "XDEL s 1-0 9-0");
    exec(&e, &mut s, "XGROUP CREATE s g 0");
    assert_eq!(e.lock().dirty - d0, 4);
}

fn arb_ids() -> impl Strategy<Value = Vec<(u64, Option<u64>)>> {
    proptest::collection::vec((0u64..5, proptest::option::of(0u64..5)), 1..60)
}

proptest! {
    /// XADD accepts exactly the ids above the top, ids only grow, and the
    /// stream's bookkeeping (first id, length, entries-added, nodes) stays
    /// consistent under deletes and trims.
    #[test]
    fn stream_ids_stay_ordered(ids in arb_ids(), dels in proptest::collection::vec(0u64..5, 0..20), maxlen in 0usize..30) {
        let (e, mut sess) = fresh();
        let mut model: Vec<StreamId> = Vec::new();
        let mut top = StreamId::MIN;
        let mut added = 0u64;
        #[allow(clippy::explicit_counter_loop)]
        for (ms, seq) in ids {
            let arg = match seq { Some(q) => format!("{ms}-{q}"), None => format!("{ms}-*") };
            let r = exec(&e, &mut sess, &format!("XADD s {arg} f v"));
            let want = match seq {
                Some(q) => StreamId::new(ms, q),
                None if ms == top.ms => StreamId::new(ms, top.seq + 1),
                None => StreamId::new(ms, 0),
            };
            if want > top && !want.is_zero() {
                prop_assert_eq!(id_of(&r), want);
                model.push(want);
                top = want;
                added += 1;
            } else {
                prop_assert!(r.is_error(), "{arg} accepted over {top}: {r:?}");
            }
        }
        for d in dels {
            if let Some(&id) = model.get(d as usize) {
                exec(&e, &mut sess, &format!("XDEL s {id}"));
                model.retain(|x| *x != id);
            }
        }
        exec(&e, &mut sess, &format!("XTRIM s MAXLEN {maxlen}"));
        while model.len() > maxlen {
            model.remove(0);
        }
        let st = e.lock();
        if let Some(pos) = st.dbs[0].find(b"s") {
            let ferrite_store::types::Value::Stream(s) = &st.dbs[0].at(pos).value else { panic!() };
            let s: &Stream = s;
            let got: Vec<StreamId> = s.entries.keys().copied().collect();
            prop_assert_eq!(&got, &model);
            prop_assert!(got.windows(2).all(|w| w[0] < w[1]));
            prop_assert_eq!(s.first_id, model.first().copied().unwrap_or(StreamId::MIN));
            prop_assert_eq!(s.entries_added, added);
            prop_assert_eq!(s.last_id, top);
            let live: u32 = s.nodes.iter().map(|n| n.live).sum();
            prop_assert_eq!(live as usize, model.len());
            prop_assert!(s.nodes.iter().all(|n| n.live > 0));
        }
    }
}

#[test]
fn fields_are_binary_safe() {
    let mut s = Stream::new();
    s.append(
        StreamId::new(1, 0),
        vec![Sso::new(b"\x00k"), Sso::new(&[0xff; 40])],
        (100, 4096),
    );
    assert_eq!(s.entries[&StreamId::new(1, 0)][1].as_bytes(), &[0xff; 40]);
}

/// Sorted sets and streams survive the snapshot format (rmp-serde): the
/// skiplist is rebuilt and the stream's groups and bookkeeping come back
/// equal.
#[test]
fn snapshot_round_trip() {
    use ferrite_store::types::Value;
    let (e, mut s) = fresh();
    for c in [
        "ZADD z 1.5 a -inf b 3 c 0 d",
        "XADD s 1-0 f v",
        "XADD s 2-0 g w",
        "XGROUP CREATE s g 0",
        "XREADGROUP GROUP g c STREAMS s >",
        "XDEL s 1-0",
    ] {
        exec(&e, &mut s, c);
    }
    let st = e.lock();
    for k in ["z", "s"] {
        let v = &st.dbs[0].at(st.dbs[0].find(k.as_bytes()).unwrap()).value;
        for bytes in [
            rmp_serde::to_vec(v).unwrap(),
            rmp_serde::to_vec_named(v).unwrap(),
        ] {
            let back: Value = rmp_serde::from_slice(&bytes).unwrap();
            match (v, &back) {
                (Value::ZSet(a), Value::ZSet(b)) => {
                    let x: Vec<_> = a.iter().map(|(m, s)| (m.clone(), s)).collect();
                    let y: Vec<_> = b.iter().map(|(m, s)| (m.clone(), s)).collect();
                    assert_eq!(x, y);
                    assert_eq!(b.rank(b"c"), Some(3));
                    b.check();
                }
                (Value::Stream(a), Value::Stream(b)) => assert_eq!(a, b),
                _ => panic!("type changed"),
            }
        }
    }
}

/// Everything time- or layout-dependent is logged deterministically: a log
/// replay rebuilds the same streams, groups and pending entries (XADD `*`
/// with its id, `~` trims as exact ones, claims with their times).
#[test]
fn replay_of_the_log_rebuilds_the_same_state() {
    let dir = fresh_dir("ferrite-zsets-replay");
    let open = || open_durable(&dir);
    let dump = |e: &Engine| {
        let mut s = e.session();
        let mut out = Vec::new();
        for c in [
            "XRANGE s - +",
            "XLEN s",
            "XINFO GROUPS s",
            "XPENDING s g",
            "ZRANGE z 0 -1 WITHSCORES",
            "XRANGE t - +",
        ] {
            out.push(format!("{c} => {}", render(&exec(e, &mut s, c), false)));
        }
        // Pending entries: id, owner and count (delivery times of plain
        // reads are the replay's).
        if let Reply::Array(v) = exec(e, &mut s, "XPENDING s g - + 1000") {
            for p in v {
                let Reply::Array(p) = p else { panic!() };
                out.push(format!(
                    "{} {} {}",
                    render(&p[0], false),
                    render(&p[1], false),
                    render(&p[3], false)
                ));
            }
        }
        out
    };
    let e = open();
    let mut s = e.session();
    for i in 0..250 {
        exec(&e, &mut s, &format!("XADD s * n {i}"));
    }
    exec(&e, &mut s, "XADD s MAXLEN ~ 120 * n last");
    exec(&e, &mut s, "XTRIM s MINID ~ 0");
    exec(&e, &mut s, "XGROUP CREATE s g 0");
    exec(&e, &mut s, "XREADGROUP GROUP g a COUNT 5 STREAMS s >");
    exec(&e, &mut s, "XREADGROUP GROUP g b COUNT 5 STREAMS s >");
    e.fast_forward(10_000);
    exec(&e, &mut s, "XAUTOCLAIM s g c 5000 0 COUNT 3");
    exec(&e, &mut s, "XCLAIM s g d 0 0-1 LASTID 0-1");
    exec(&e, &mut s, "ZADD z 1 a 2 b 3 c");
    exec(&e, &mut s, "BZPOPMIN z 0");
    exec(&e, &mut s, "BZMPOP 0 1 z MAX COUNT 1");
    exec(&e, &mut s, "XADD t 5-* f v");
    exec(&e, &mut s, "XADD t 5-* f v");
    let before = dump(&e);
    assert!(before[1].ends_with(":151"), "{}", before[1]);
    e.close();
    drop(e);
    let e = open();
    assert_eq!(dump(&e), before);
    e.close();
    drop(e);
    let _ = std::fs::remove_dir_all(&dir);
}

/// XSETID is a write like any other: it reaches the log, and a replay
/// restores the last id, entries-added and max-deleted id it set.
#[test]
fn xsetid_is_logged_and_replayed() {
    let dir = fresh_dir("ferrite-xsetid-replay");
    let open = || open_durable(&dir);
    let e = open();
    let mut s = e.session();
    exec(&e, &mut s, "XADD s 5-0 a 1");
    assert_eq!(
        q(&e, &mut s, "XSETID s 9-3 ENTRIESADDED 40 MAXDELETEDID 7-0"),
        "+OK"
    );
    // A refused XSETID changes nothing and is not logged.
    assert_eq!(
        q(&e, &mut s, "XSETID s 4-0"),
        "-ERR The ID specified in XSETID is smaller than the target stream top item"
    );
    let info = q(&e, &mut s, "XINFO STREAM s");
    assert!(info.contains(r#""last-generated-id","9-3""#), "{info}");
    assert!(info.contains(r#""entries-added",:40"#), "{info}");
    assert!(info.contains(r#""max-deleted-entry-id","7-0""#), "{info}");
    assert_eq!(q(&e, &mut s, "XADD s 9-* a 2"), r#""9-4""#);
    let before = q(&e, &mut s, "XINFO STREAM s");
    e.close();
    drop(e);
    let e = open();
    let mut s = e.session();
    assert_eq!(q(&e, &mut s, "XINFO STREAM s"), before);
    e.close();
    drop(e);
    let _ = std::fs::remove_dir_all(&dir);
}
