//! MULTI / EXEC / DISCARD / WATCH / UNWATCH, with Redis 7.0's exact replies
//! (checked against redis-server 7.0.15), and the command gate (AUTH,
//! queue-time errors).

use ferrite_store::{Engine, Reply, Session};
use std::sync::Arc;

fn run(e: &Engine, s: &mut Session, args: &[&str]) -> Reply {
    let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    e.execute(s, &argv)
}

fn ok() -> Reply {
    Reply::ok()
}

fn queued() -> Reply {
    Reply::status("QUEUED")
}

fn err(s: &str) -> Reply {
    Reply::err(s)
}

fn bulk(s: &str) -> Reply {
    Reply::bulk(s.as_bytes())
}

const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";

fn setup() -> (Arc<Engine>, Session, Session) {
    let e = Engine::new();
    let a = e.session();
    let b = e.session();
    (e, a, b)
}

#[test]
fn multi_exec_runs_the_queue_in_order() {
    let (e, mut a, _) = setup();
    assert_eq!(run(&e, &mut a, &["MULTI"]), ok());
    assert_eq!(run(&e, &mut a, &["SET", "k", "1"]), queued());
    assert_eq!(run(&e, &mut a, &["INCR", "k"]), queued());
    assert_eq!(run(&e, &mut a, &["GET", "k"]), queued());
    // Nothing ran yet.
    let mut other = e.session();
    assert_eq!(run(&e, &mut other, &["GET", "k"]), Reply::Nil);
    assert_eq!(
        run(&e, &mut a, &["EXEC"]),
        Reply::Array(vec![ok(), Reply::Int(2), bulk("2")])
    );
    assert_eq!(run(&e, &mut other, &["GET", "k"]), bulk("2"));
    // Out of MULTI again.
    assert_eq!(run(&e, &mut a, &["GET", "k"]), bulk("2"));
}

#[test]
fn empty_transaction_returns_empty_array() {
    let (e, mut a, _) = setup();
    assert_eq!(run(&e, &mut a, &["MULTI"]), ok());
    assert_eq!(run(&e, &mut a, &["EXEC"]), Reply::Array(vec![]));
}

#[test]
fn exec_and_discard_without_multi() {
    let (e, mut a, _) = setup();
    assert_eq!(run(&e, &mut a, &["EXEC"]), err("ERR EXEC without MULTI"));
    assert_eq!(
        run(&e, &mut a, &["DISCARD"]),
        err("ERR DISCARD without MULTI")
    );
    // UNWATCH outside MULTI is fine.
    assert_eq!(run(&e, &mut a, &["UNWATCH"]), ok());
}

#[test]
fn nested_multi_is_an_error_that_does_not_abort() {
    let (e, mut a, _) = setup();
    assert_eq!(run(&e, &mut a, &["MULTI"]), ok());
    assert_eq!(
        run(&e, &mut a, &["MULTI"]),
        err("ERR MULTI calls can not be nested")
    );
    assert_eq!(run(&e, &mut a, &["SET", "a", "1"]), queued());
    assert_eq!(run(&e, &mut a, &["EXEC"]), Reply::Array(vec![ok()]));
}

#[test]
fn watch_inside_multi_is_an_error_that_does_not_abort() {
    let (e, mut a, _) = setup();
    run(&e, &mut a, &["MULTI"]);
    assert_eq!(
        run(&e, &mut a, &["WATCH", "x"]),
        err("ERR WATCH inside MULTI is not allowed")
    );
    assert_eq!(run(&e, &mut a, &["SET", "a", "1"]), queued());
    assert_eq!(run(&e, &mut a, &["EXEC"]), Reply::Array(vec![ok()]));
}

#[test]
fn unknown_command_while_queueing_aborts_exec() {
    let (e, mut a, _) = setup();
    run(&e, &mut a, &["MULTI"]);
    assert_eq!(
        run(&e, &mut a, &["FOO"]),
        err("ERR unknown command 'FOO', with args beginning with: ")
    );
    assert_eq!(run(&e, &mut a, &["SET", "a", "1"]), queued());
    assert_eq!(run(&e, &mut a, &["EXEC"]), err(EXECABORT));
    // The transaction is gone and nothing ran.
    assert_eq!(run(&e, &mut a, &["EXEC"]), err("ERR EXEC without MULTI"));
    assert_eq!(run(&e, &mut a, &["GET", "a"]), Reply::Nil);
}

#[test]
fn arity_error_while_queueing_aborts_exec() {
    let (e, mut a, _) = setup();
    run(&e, &mut a, &["MULTI"]);
    assert_eq!(
        run(&e, &mut a, &["GET"]),
        err("ERR wrong number of arguments for 'get' command")
    );
    assert_eq!(run(&e, &mut a, &["EXEC"]), err(EXECABORT));
}

#[test]
fn arity_errors_of_transaction_commands() {
    let (e, mut a, _) = setup();
    // DISCARD / MULTI / WATCH with bad arity flag the transaction.
    for bad in [&["DISCARD", "x"][..], &["MULTI", "x"], &["WATCH"]] {
        run(&e, &mut a, &["MULTI"]);
        let name = bad[0].to_ascii_lowercase();
        assert_eq!(
            run(&e, &mut a, bad),
            err(&format!(
                "ERR wrong number of arguments for '{name}' command"
            ))
        );
        assert_eq!(run(&e, &mut a, &["EXEC"]), err(EXECABORT));
    }
    // EXEC with bad arity aborts at once, without the ERR prefix.
    run(&e, &mut a, &["MULTI"]);
    run(&e, &mut a, &["SET", "a", "1"]);
    assert_eq!(
        run(&e, &mut a, &["EXEC", "x"]),
        err("EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command")
    );
    assert_eq!(run(&e, &mut a, &["EXEC"]), err("ERR EXEC without MULTI"));
    assert_eq!(run(&e, &mut a, &["GET", "a"]), Reply::Nil);
    // Outside MULTI an arity error is just an error.
    assert_eq!(
        run(&e, &mut a, &["EXEC", "x"]),
        err("ERR wrong number of arguments for 'exec' command")
    );
}

#[test]
fn runtime_error_fails_only_that_command() {
    let (e, mut a, _) = setup();
    run(&e, &mut a, &["SET", "s", "notanumber"]);
    run(&e, &mut a, &["MULTI"]);
    assert_eq!(run(&e, &mut a, &["INCR", "s"]), queued());
    assert_eq!(run(&e, &mut a, &["SET", "t", "1"]), queued());
    assert_eq!(run(&e, &mut a, &["SET", "u", "1", "EX", "0"]), queued());
    assert_eq!(
        run(&e, &mut a, &["EXEC"]),
        Reply::Array(vec![
            err("ERR value is not an integer or out of range"),
            ok(),
            err("ERR invalid expire time in 'set' command"),
        ])
    );
    assert_eq!(run(&e, &mut a, &["GET", "t"]), bulk("1"));
}

#[test]
fn discard_drops_the_queue() {
    let (e, mut a, _) = setup();
    run(&e, &mut a, &["MULTI"]);
    run(&e, &mut a, &["SET", "a", "1"]);
    assert_eq!(run(&e, &mut a, &["DISCARD"]), ok());
    assert_eq!(run(&e, &mut a, &["GET", "a"]), Reply::Nil);
    assert_eq!(run(&e, &mut a, &["EXEC"]), err("ERR EXEC without MULTI"));
}

#[test]
fn discard_clears_a_queueing_error() {
    let (e, mut a, _) = setup();
    run(&e, &mut a, &["MULTI"]);
    run(&e, &mut a, &["NOPE"]);
    assert_eq!(run(&e, &mut a, &["DISCARD"]), ok());
    run(&e, &mut a, &["MULTI"]);
    run(&e, &mut a, &["SET", "a", "1"]);
    assert_eq!(run(&e, &mut a, &["EXEC"]), Reply::Array(vec![ok()]));
}

#[test]
fn unwatch_inside_multi_is_queued() {
    let (e, mut a, _) = setup();
    run(&e, &mut a, &["MULTI"]);
    assert_eq!(run(&e, &mut a, &["UNWATCH"]), queued());
    assert_eq!(run(&e, &mut a, &["EXEC"]), Reply::Array(vec![ok()]));
}

#[test]
fn watch_untouched_key_lets_exec_run() {
    let (e, mut a, _) = setup();
    run(&e, &mut a, &["SET", "x", "1"]);
    assert_eq!(run(&e, &mut a, &["WATCH", "x", "y", "z"]), ok());
    assert_eq!(run(&e, &mut a, &["WATCH", "k"]), ok());
    run(&e, &mut a, &["MULTI"]);
    run(&e, &mut a, &["SET", "x", "2"]);
    assert_eq!(run(&e, &mut a, &["EXEC"]), Reply::Array(vec![ok()]));
    assert_eq!(run(&e, &mut a, &["GET", "x"]), bulk("2"));
    // After EXEC nothing is watched any more.
    assert_eq!(e.lock().watches.watched_keys(), 0);
}

#[test]
fn watch_fails_exec_when_another_session_writes() {
    let (e, mut a, mut b) = setup();
    run(&e, &mut a, &["SET", "x", "30"]);
    run(&e, &mut a, &["WATCH", "a", "b", "x", "k", "z"]);
    run(&e, &mut b, &["SET", "x", "40"]);
    run(&e, &mut a, &["MULTI"]);
    assert_eq!(run(&e, &mut a, &["SET", "x", "50"]), queued());
    assert_eq!(run(&e, &mut a, &["EXEC"]), Reply::NilArray);
    assert_eq!(run(&e, &mut a, &["GET", "x"]), bulk("40"));
    // The dirty client dropped all its watches at once.
    assert_eq!(e.lock().watches.watched_keys(), 0);
    // After a failed EXEC the client is clean again.
    run(&e, &mut a, &["MULTI"]);
    run(&e, &mut a, &["SET", "x", "60"]);
    assert_eq!(run(&e, &mut a, &["EXEC"]), Reply::Array(vec![ok()]));
}

#[test]
fn watch_fails_when_the_same_client_writes() {
    let (e, mut a, _) = setup();
    run(&e, &mut a, &["WATCH", "own"]);
    run(&e, &mut a, &["SET", "own", "1"]);
    run(&e, &mut a, &["MULTI"]);
    run(&e, &mut a, &["GET", "own"]);
    assert_eq!(run(&e, &mut a, &["EXEC"]), Reply::NilArray);
}

#[test]
fn watch_on_missing_key_fails_when_created() {
    let (e, mut a, mut b) = setup();
    run(&e, &mut a, &["WATCH", "new"]);
    run(&e, &mut b, &["SETNX", "new", "v"]);
    run(&e, &mut a, &["MULTI"]);
    run(&e, &mut a, &["GET", "new"]);
    assert_eq!(run(&e, &mut a, &["EXEC"]), Reply::NilArray);
}

#[test]
fn failed_write_does_not_touch() {
    let (e, mut a, mut b) = setup();
    run(&e, &mut a, &["SET", "x", "1"]);
    run(&e, &mut a, &["WATCH", "x"]);
    // SETNX on an existing key changes nothing.
    assert_eq!(run(&e, &mut b, &["SETNX", "x", "2"]), Reply::Int(0));
    run(&e, &mut b, &["GET", "x"]);
    run(&e, &mut a, &["MULTI"]);
    run(&e, &mut a, &["GET", "x"]);
    assert_eq!(run(&e, &mut a, &["EXEC"]), Reply::Array(vec![bulk("1")]));
}

#[test]
fn watch_fails_when_another_session_deletes() {
    let (e, mut a, mut b) = setup();
    run(&e, &mut a, &["SET", "x", "1"]);
    run(&e, &mut a, &["WATCH", "x"]);
    assert_eq!(run(&e, &mut b, &["GETDEL", "x"]), bulk("1"));
    run(&e, &mut a, &["MULTI"]);
    run(&e, &mut a, &["SET", "x", "2"]);
    assert_eq!(run(&e, &mut a, &["EXEC"]), Reply::NilArray);
    assert_eq!(run(&e, &mut a, &["GET", "x"]), Reply::Nil);
}

#[test]
fn unwatch_clears_the_dirty_mark() {
    let (e, mut a, mut b) = setup();
    run(&e, &mut a, &["WATCH", "own"]);
    run(&e, &mut b, &["SET", "own", "2"]);
    assert_eq!(run(&e, &mut a, &["UNWATCH"]), ok());
    run(&e, &mut a, &["MULTI"]);
    run(&e, &mut a, &["GET", "own"]);
    assert_eq!(run(&e, &mut a, &["EXEC"]), Reply::Array(vec![bulk("2")]));
}

#[test]
fn discard_unwatches() {
    let (e, mut a, mut b) = setup();
    run(&e, &mut a, &["WATCH", "x"]);
    run(&e, &mut a, &["MULTI"]);
    run(&e, &mut a, &["DISCARD"]);
    run(&e, &mut b, &["SET", "x", "1"]);
    run(&e, &mut a, &["MULTI"]);
    run(&e, &mut a, &["GET", "x"]);
    assert_eq!(run(&e, &mut a, &["EXEC"]), Reply::Array(vec![bulk("1")]));
}

#[test]
fn watch_after_dirty_is_a_no_op() {
    let (e, mut a, mut b) = setup();
    run(&e, &mut a, &["WATCH", "x"]);
    run(&e, &mut b, &["SET", "x", "1"]);
    assert_eq!(run(&e, &mut a, &["WATCH", "y"]), ok());
    assert_eq!(e.lock().watches.keys_of(a.id), 0);
    run(&e, &mut a, &["MULTI"]);
    assert_eq!(run(&e, &mut a, &["EXEC"]), Reply::NilArray);
}

#[test]
fn watching_a_key_twice_counts_once() {
    let (e, mut a, mut b) = setup();
    run(&e, &mut a, &["WATCH", "x", "x"]);
    run(&e, &mut a, &["WATCH", "x"]);
    run(&e, &mut b, &["WATCH", "x"]);
    {
        let st = e.lock();
        assert_eq!(st.watches.keys_of(a.id), 1);
        assert_eq!(st.watches.watched_keys(), 1);
    }
    run(&e, &mut a, &["UNWATCH"]);
    assert_eq!(e.lock().watches.watched_keys(), 1);
    run(&e, &mut b, &["UNWATCH"]);
    assert_eq!(e.lock().watches.watched_keys(), 0);
}

#[test]
fn watched_key_that_expires_fails_exec() {
    let (e, mut a, _) = setup();
    run(&e, &mut a, &["SET", "k", "v", "PX", "1000"]);
    run(&e, &mut a, &["WATCH", "k"]);
    e.fast_forward(2000);
    run(&e, &mut a, &["MULTI"]);
    run(&e, &mut a, &["SET", "other", "1"]);
    assert_eq!(run(&e, &mut a, &["EXEC"]), Reply::NilArray);
    assert_eq!(run(&e, &mut a, &["GET", "other"]), Reply::Nil);
}

#[test]
fn watched_key_expired_by_lazy_lookup_of_another_client_fails_exec() {
    let (e, mut a, mut b) = setup();
    run(&e, &mut a, &["SET", "k", "v", "PX", "1000"]);
    run(&e, &mut a, &["WATCH", "k"]);
    e.fast_forward(2000);
    assert_eq!(run(&e, &mut b, &["GET", "k"]), Reply::Nil);
    run(&e, &mut a, &["MULTI"]);
    run(&e, &mut a, &["GET", "k"]);
    assert_eq!(run(&e, &mut a, &["EXEC"]), Reply::NilArray);
}

#[test]
fn key_already_expired_at_watch_time_is_no_change_when_reclaimed() {
    let e = Engine::new();
    let (mut a, mut b) = (e.session(), e.session());
    // Freeze the clock far from real time so active expiry never runs on
    // the key in between: set it, then let it expire before WATCH.
    run(&e, &mut a, &["SET", "k", "v", "PX", "1000"]);
    e.fast_forward(2000);
    run(&e, &mut a, &["WATCH", "k"]);
    // Another client's lookup reclaims it: no logical change.
    assert_eq!(run(&e, &mut b, &["GET", "k"]), Reply::Nil);
    run(&e, &mut a, &["MULTI"]);
    run(&e, &mut a, &["SET", "k", "mine"]);
    assert_eq!(run(&e, &mut a, &["EXEC"]), Reply::Array(vec![ok()]));
}

#[test]
fn key_expired_at_watch_time_then_overwritten_fails_exec() {
    let (e, mut a, mut b) = setup();
    run(&e, &mut a, &["SET", "k", "v", "PX", "1000"]);
    e.fast_forward(2000);
    run(&e, &mut a, &["WATCH", "k"]);
    run(&e, &mut b, &["SET", "k", "new"]);
    run(&e, &mut a, &["MULTI"]);
    run(&e, &mut a, &["GET", "k"]);
    assert_eq!(run(&e, &mut a, &["EXEC"]), Reply::NilArray);
}

#[test]
fn flushdb_touch_invalidates_watches_on_existing_keys_only() {
    let (e, mut a, mut b) = setup();
    run(&e, &mut a, &["SET", "e", "1"]);
    run(&e, &mut a, &["WATCH", "e"]);
    run(&e, &mut b, &["WATCH", "nokey"]);
    {
        // What FLUSHDB does: touch while the keys are still there, then empty.
        let mut st = e.lock();
        ferrite_store::tx::touch_all_db(&mut st, 0);
        st.dbs[0].clear();
    }
    run(&e, &mut a, &["MULTI"]);
    run(&e, &mut a, &["GET", "e"]);
    assert_eq!(run(&e, &mut a, &["EXEC"]), Reply::NilArray);
    // A watch on a key that did not exist survives the flush.
    run(&e, &mut b, &["MULTI"]);
    run(&e, &mut b, &["GET", "nokey"]);
    assert_eq!(run(&e, &mut b, &["EXEC"]), Reply::Array(vec![Reply::Nil]));
}

#[test]
fn flushall_touch_invalidates_every_database() {
    let (e, mut a, _) = setup();
    {
        let mut st = e.lock();
        let v = ferrite_store::types::Value::Str(ferrite_store::types::Sso::new(b"1"));
        st.dbs[3].insert_new(b"k", v, 0);
    }
    // WATCH k in db 3.
    a.db = 3;
    run(&e, &mut a, &["WATCH", "k"]);
    {
        let mut st = e.lock();
        ferrite_store::tx::touch_all(&mut st);
        for d in st.dbs.iter_mut() {
            d.clear();
        }
    }
    run(&e, &mut a, &["MULTI"]);
    assert_eq!(run(&e, &mut a, &["EXEC"]), Reply::NilArray);
}

#[test]
fn flush_of_key_expired_at_watch_time_is_no_change() {
    let (e, mut a, _) = setup();
    run(&e, &mut a, &["SET", "k4", "v", "PX", "1000"]);
    e.fast_forward(2000);
    run(&e, &mut a, &["WATCH", "k4"]);
    {
        let mut st = e.lock();
        ferrite_store::tx::touch_all_db(&mut st, 0);
        st.dbs[0].clear();
    }
    run(&e, &mut a, &["MULTI"]);
    assert_eq!(run(&e, &mut a, &["EXEC"]), Reply::Array(vec![]));
}

#[test]
fn swapdb_touch_invalidates_when_key_exists_in_either_db() {
    let (e, mut a, mut b) = setup();
    {
        let mut st = e.lock();
        let v = ferrite_store::types::Value::Str(ferrite_store::types::Sso::new(b"1"));
        st.dbs[1].insert_new(b"sw", v, 0);
    }
    // a watches "sw" in db 0 (missing there, present in db 1).
    run(&e, &mut a, &["WATCH", "sw"]);
    // b watches "none" in db 0: missing in both.
    run(&e, &mut b, &["WATCH", "none"]);
    {
        let mut st = e.lock();
        let now = e.clock.now_ms();
        ferrite_store::tx::touch_swap(&mut st, 0, 1, now);
        st.dbs.swap(0, 1);
    }
    run(&e, &mut a, &["MULTI"]);
    assert_eq!(run(&e, &mut a, &["EXEC"]), Reply::NilArray);
    run(&e, &mut b, &["MULTI"]);
    assert_eq!(run(&e, &mut b, &["EXEC"]), Reply::Array(vec![]));
}

#[test]
fn exec_is_atomic_for_other_threads() {
    // Many threads run MULTI INCR x INCR y EXEC; a reader thread must never
    // see x != y between transactions.
    let e = Engine::new();
    let mut s = e.session();
    run(&e, &mut s, &["SET", "x", "0"]);
    run(&e, &mut s, &["SET", "y", "0"]);
    let mut handles = Vec::new();
    for _ in 0..4 {
        let e = e.clone();
        handles.push(std::thread::spawn(move || {
            let mut s = e.session();
            for _ in 0..200 {
                run(&e, &mut s, &["MULTI"]);
                run(&e, &mut s, &["INCR", "x"]);
                run(&e, &mut s, &["INCR", "y"]);
                run(&e, &mut s, &["EXEC"]);
            }
        }));
    }
    let reader = {
        let e = e.clone();
        std::thread::spawn(move || {
            let mut s = e.session();
            for _ in 0..500 {
                let r = run(&e, &mut s, &["MGET", "x", "y"]);
                let Reply::Array(v) = r else { panic!("{r:?}") };
                assert_eq!(v[0], v[1], "partial transaction observed");
            }
        })
    };
    for h in handles {
        h.join().unwrap();
    }
    reader.join().unwrap();
    assert_eq!(run(&e, &mut s, &["GET", "x"]), bulk("800"));
}

#[test]
fn watch_retry_loop_counts_exactly() {
    // 8 threads each add 50 to one balance via WATCH/GET/MULTI/SET/EXEC
    // retry loops: the total must be exact.
    let e = Engine::new();
    let mut s = e.session();
    run(&e, &mut s, &["SET", "bal", "0"]);
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let e = e.clone();
            std::thread::spawn(move || {
                let mut s = e.session();
                for _ in 0..50 {
                    loop {
                        run(&e, &mut s, &["WATCH", "bal"]);
                        let v = run(&e, &mut s, &["GET", "bal"]);
                        let n: i64 = std::str::from_utf8(v.as_bytes().unwrap())
                            .unwrap()
                            .parse()
                            .unwrap();
                        run(&e, &mut s, &["MULTI"]);
                        run(&e, &mut s, &["SET", "bal", &(n + 1).to_string()]);
                        if run(&e, &mut s, &["EXEC"]) != Reply::NilArray {
                            break;
                        }
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(run(&e, &mut s, &["GET", "bal"]), bulk("400"));
}

#[test]
fn forget_session_releases_watches() {
    let (e, mut a, _) = setup();
    run(&e, &mut a, &["WATCH", "x", "y"]);
    assert_eq!(e.lock().watches.watched_keys(), 2);
    e.forget_session(&mut a);
    assert_eq!(e.lock().watches.watched_keys(), 0);
    assert_eq!(e.lock().watches.watching_clients(), 0);
}

#[test]
fn dropped_session_watches_are_reaped_at_next_command() {
    let (e, mut a, mut b) = setup();
    run(&e, &mut a, &["WATCH", "x", "y"]);
    run(&e, &mut b, &["WATCH", "y"]);
    drop(a);
    assert_eq!(e.lock().watches.watched_keys(), 2);
    run(&e, &mut b, &["GET", "z"]);
    let st = e.lock();
    assert_eq!(st.watches.watched_keys(), 1);
    assert_eq!(st.watches.watching_clients(), 1);
}

#[test]
fn noauth_when_requirepass_is_set() {
    let e = Engine::new();
    let mut s = e.session();
    e.lock()
        .config
        .set("requirepass", "secret")
        .expect("config set");
    assert_eq!(
        run(&e, &mut s, &["GET", "k"]),
        err("NOAUTH Authentication required.")
    );
    // Unknown commands and arity errors come first, as in Redis.
    assert_eq!(
        run(&e, &mut s, &["NOPE"]),
        err("ERR unknown command 'NOPE', with args beginning with: ")
    );
    assert_eq!(
        run(&e, &mut s, &["MULTI"]),
        err("NOAUTH Authentication required.")
    );
    s.authenticated = true;
    assert_eq!(run(&e, &mut s, &["GET", "k"]), Reply::Nil);
}

#[test]
fn session_that_ran_without_password_stays_authenticated() {
    let e = Engine::new();
    let mut s = e.session();
    assert_eq!(run(&e, &mut s, &["GET", "k"]), Reply::Nil);
    e.lock().config.set("requirepass", "secret").unwrap();
    assert_eq!(run(&e, &mut s, &["GET", "k"]), Reply::Nil);
    let mut fresh = e.session();
    assert_eq!(
        run(&e, &mut fresh, &["GET", "k"]),
        err("NOAUTH Authentication required.")
    );
}

#[test]
fn noauth_on_exec_aborts_the_transaction() {
    let e = Engine::new();
    let mut s = e.session();
    run(&e, &mut s, &["MULTI"]);
    run(&e, &mut s, &["SET", "a", "1"]);
    e.lock().config.set("requirepass", "secret").unwrap();
    // The session authenticated implicitly before the password was set,
    // so it keeps running: unset it to simulate a fresh unauthenticated
    // client stuck in MULTI.
    s.authenticated = false;
    assert_eq!(
        run(&e, &mut s, &["SET", "b", "1"]),
        err("NOAUTH Authentication required.")
    );
    assert_eq!(
        run(&e, &mut s, &["EXEC"]),
        err("EXECABORT Transaction discarded because of: NOAUTH Authentication required.")
    );
    s.authenticated = true;
    assert_eq!(run(&e, &mut s, &["EXEC"]), err("ERR EXEC without MULTI"));
}

#[test]
fn pubsub_subcommand_errors_abort_at_queue_time() {
    let (e, mut a, _) = setup();
    run(&e, &mut a, &["MULTI"]);
    assert_eq!(
        run(&e, &mut a, &["PUBSUB", "NUMPAT", "x"]),
        err("ERR wrong number of arguments for 'pubsub|numpat' command")
    );
    assert_eq!(run(&e, &mut a, &["EXEC"]), err(EXECABORT));
    run(&e, &mut a, &["MULTI"]);
    assert_eq!(
        run(&e, &mut a, &["PUBSUB", "FOO"]),
        err("ERR unknown subcommand 'FOO'. Try PUBSUB HELP.")
    );
    assert_eq!(run(&e, &mut a, &["EXEC"]), err(EXECABORT));
    // A subcommand syntax error is a runtime error inside EXEC.
    run(&e, &mut a, &["MULTI"]);
    assert_eq!(run(&e, &mut a, &["PUBSUB", "CHANNELS", "a", "b"]), queued());
    assert_eq!(
        run(&e, &mut a, &["EXEC"]),
        Reply::Array(vec![err(
            "ERR unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB HELP."
        )])
    );
}

#[test]
fn exec_runs_with_no_block_and_restores_it() {
    let (e, mut a, _) = setup();
    run(&e, &mut a, &["MULTI"]);
    run(&e, &mut a, &["SET", "a", "1"]);
    run(&e, &mut a, &["EXEC"]);
    assert!(!a.no_block);
}

// ---------------------------------------------------------------------------
// WATCH against the keyspace and server commands.

#[test]
fn flushdb_command_invalidates_watch() {
    let (e, mut a, mut b) = setup();
    run(&e, &mut a, &["SET", "x", "1"]);
    run(&e, &mut a, &["WATCH", "x"]);
    assert_eq!(run(&e, &mut b, &["FLUSHDB"]), ok());
    run(&e, &mut a, &["MULTI"]);
    run(&e, &mut a, &["SET", "x", "2"]);
    assert_eq!(run(&e, &mut a, &["EXEC"]), Reply::NilArray);
    assert_eq!(run(&e, &mut a, &["GET", "x"]), Reply::Nil);
}

#[test]
fn flushdb_of_missing_watched_key_is_no_change() {
    let (e, mut a, mut b) = setup();
    run(&e, &mut b, &["SET", "other", "1"]);
    run(&e, &mut a, &["WATCH", "nokey"]);
    assert_eq!(run(&e, &mut b, &["FLUSHDB"]), ok());
    run(&e, &mut a, &["MULTI"]);
    run(&e, &mut a, &["GET", "nokey"]);
    assert_eq!(run(&e, &mut a, &["EXEC"]), Reply::Array(vec![Reply::Nil]));
}

#[test]
fn flushall_command_invalidates_watch_in_other_db() {
    let (e, mut a, mut b) = setup();
    run(&e, &mut a, &["SELECT", "2"]);
    run(&e, &mut a, &["SET", "x", "1"]);
    run(&e, &mut a, &["WATCH", "x"]);
    assert_eq!(run(&e, &mut b, &["FLUSHALL"]), ok());
    run(&e, &mut a, &["MULTI"]);
    run(&e, &mut a, &["GET", "x"]);
    assert_eq!(run(&e, &mut a, &["EXEC"]), Reply::NilArray);
}

#[test]
fn swapdb_command_invalidates_watch_on_key_in_other_db() {
    let (e, mut a, mut b) = setup();
    run(&e, &mut b, &["SELECT", "1"]);
    run(&e, &mut b, &["SET", "sw", "1"]);
    run(&e, &mut a, &["WATCH", "sw"]);
    assert_eq!(run(&e, &mut b, &["SWAPDB", "0", "1"]), ok());
    run(&e, &mut a, &["MULTI"]);
    run(&e, &mut a, &["GET", "sw"]);
    assert_eq!(run(&e, &mut a, &["EXEC"]), Reply::NilArray);
}

#[test]
fn del_expire_and_rename_invalidate_watch() {
    let (e, mut a, mut b) = setup();
    for write in [
        &["DEL", "x"][..],
        &["EXPIRE", "x", "100"],
        &["RENAME", "x", "y"],
        &["PERSIST", "x"],
    ] {
        run(&e, &mut b, &["SET", "x", "1", "EX", "1000"]);
        run(&e, &mut a, &["WATCH", "x"]);
        let r = run(&e, &mut b, write);
        assert!(!r.is_error(), "{write:?}: {r:?}");
        run(&e, &mut a, &["MULTI"]);
        run(&e, &mut a, &["GET", "x"]);
        assert_eq!(run(&e, &mut a, &["EXEC"]), Reply::NilArray, "{write:?}");
    }
}

#[test]
fn watch_is_per_database() {
    let (e, mut a, mut b) = setup();
    run(&e, &mut a, &["WATCH", "x"]);
    run(&e, &mut b, &["SELECT", "1"]);
    run(&e, &mut b, &["SET", "x", "1"]);
    run(&e, &mut a, &["MULTI"]);
    run(&e, &mut a, &["GET", "x"]);
    assert_eq!(run(&e, &mut a, &["EXEC"]), Reply::Array(vec![Reply::Nil]));
}

#[test]
fn select_inside_exec_applies_to_later_commands() {
    let (e, mut a, _) = setup();
    run(&e, &mut a, &["MULTI"]);
    run(&e, &mut a, &["SELECT", "3"]);
    run(&e, &mut a, &["SET", "k", "v"]);
    assert_eq!(run(&e, &mut a, &["EXEC"]), Reply::Array(vec![ok(), ok()]));
    assert_eq!(a.db, 3);
    assert_eq!(run(&e, &mut a, &["GET", "k"]), bulk("v"));
}

#[test]
fn blocking_command_in_exec_replies_at_once() {
    let (e, mut a, _) = setup();
    run(&e, &mut a, &["MULTI"]);
    assert_eq!(run(&e, &mut a, &["BLPOP", "nolist", "0"]), queued());
    assert_eq!(
        run(&e, &mut a, &["EXEC"]),
        Reply::Array(vec![Reply::NilArray])
    );
    assert!(a.blocked.is_none());
}
