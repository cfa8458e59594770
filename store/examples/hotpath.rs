//! A fixed workload over the engine's hot path, for instruction counting
//! (`valgrind --tool=callgrind`), where wall-clock timing is too noisy.
//!
//! `hotpath <op> <n>`: loads 1,024 keys (10 B names, 16 B values), then runs
//! `n` operations of `op` the way the NIF does (engine lock taken once per
//! call, `execute_locked` with a session): `get`, `set`, `getspec` / `setspec` (name resolved once, as the NIF's
//! entry points), `getfast` / `setfast` (`Engine::get_locked` / `set_locked`, the NIF's GET and SET), `getmiss`, `incr`, `zadd-small` (100 small sorted sets),
//! or `baseline-get` / `baseline-set` over a `RwLock<hashbrown::HashMap>`.
//! Divide the instruction count of a run by `n` after subtracting a run
//! with `n = 0`.

use ferrite_store::{Engine, Reply};
use std::hint::black_box;
use std::sync::RwLock;

fn key(i: usize) -> [u8; 10] {
    let mut k = *b"k000000000";
    let mut n = i;
    for b in k[1..].iter_mut().rev() {
        *b = b'0' + (n % 10) as u8;
        n /= 10;
    }
    k
}

fn main() {
    let mut args = std::env::args().skip(1);
    let op = args.next().unwrap_or_else(|| "get".into());
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    const KEYS: usize = 1024;
    let keys: Vec<[u8; 10]> = (0..KEYS).map(key).collect();
    let value = [b'v'; 16];
    let engine = Engine::new();
    let mut session = engine.session();
    for k in &keys {
        engine.execute(&mut session, &[b"SET", k, &value]);
        engine.execute(&mut session, &[b"SET", b"counter", b"1"]);
    }
    let baseline: RwLock<hashbrown::HashMap<Vec<u8>, Vec<u8>>> = RwLock::new(Default::default());
    for k in &keys {
        baseline.write().unwrap().insert(k.to_vec(), value.to_vec());
    }
    let run = |argv: &[&[u8]], session: &mut ferrite_store::Session| -> Reply {
        let mut st = engine.lock();
        engine.execute_locked(&mut st, session, argv)
    };
    let get_spec = Engine::lookup(b"get").unwrap();
    let set_spec = Engine::lookup(b"set").unwrap();
    let run_spec = |spec, argv: &[&[u8]], session: &mut ferrite_store::Session| -> Reply {
        let mut st = engine.lock();
        engine.execute_spec_locked(&mut st, session, spec, argv)
    };
    for i in 0..n {
        let k = &keys[i % KEYS];
        match op.as_str() {
            "get" => drop(black_box(run(&[b"GET", k], &mut session))),
            "getspec" => drop(black_box(run_spec(get_spec, &[b"GET", k], &mut session))),
            "setfast" => {
                let mut st = engine.lock();
                let r = engine.set_locked(&mut st, &mut session, k, &value);
                drop(black_box(r));
            }
            "getfast" => {
                let mut st = engine.lock();
                let r = engine.get_locked(&mut st, &mut session, k, |s| s.len(), |_| 0);
                black_box(r);
            }
            "setspec" => drop(black_box(run_spec(
                set_spec,
                &[b"SET", k, &value],
                &mut session,
            ))),
            "getmiss" => drop(black_box(run(&[b"GET", b"nosuchkey"], &mut session))),
            "set" => drop(black_box(run(&[b"SET", k, &value], &mut session))),
            "incr" => drop(black_box(run(&[b"INCR", b"counter"], &mut session))),
            "zadd-small" => {
                // 100 small sorted sets, a new member each time.
                let key = format!("z{}", i % 100);
                let member = format!("m:{i}");
                let score = (i % 1000).to_string();
                drop(black_box(run(
                    &[b"ZADD", key.as_bytes(), score.as_bytes(), member.as_bytes()],
                    &mut session,
                )))
            }
            "baseline-get" => drop(black_box(baseline.read().unwrap().get(&k[..]).cloned())),
            "baseline-set" => drop(black_box(
                baseline.write().unwrap().insert(k.to_vec(), value.to_vec()),
            )),
            other => panic!("unknown op {other}"),
        }
    }
}
