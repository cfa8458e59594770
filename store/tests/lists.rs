//! List commands against replies recorded from redis-server 7.0.15
//! (`data/lists.txt`, regenerated with `data/gen_expected.py`).

mod coll;

#[test]
fn list_script_matches_redis() {
    coll::replay(include_str!("data/lists.expected"));
}

use coll::{q, run};
use ferrite_store::{Engine, Reply};
use proptest::prelude::*;
use std::collections::VecDeque;

#[derive(Debug, Clone)]
enum Op {
    Push(bool, Vec<u8>),
    Pop(bool, usize),
    Rem(i64, u8),
    Trim(i64, i64),
    Set(i64, u8),
    Insert(bool, u8, u8),
    Move(bool, bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<bool>(), prop::collection::vec(0u8..6, 1..5)).prop_map(|(l, v)| Op::Push(l, v)),
        (any::<bool>(), 0usize..4).prop_map(|(l, n)| Op::Pop(l, n)),
        (-3i64..4, 0u8..6).prop_map(|(c, v)| Op::Rem(c, v)),
        (-8i64..8, -8i64..8).prop_map(|(a, b)| Op::Trim(a, b)),
        (-8i64..8, 0u8..6).prop_map(|(i, v)| Op::Set(i, v)),
        (any::<bool>(), 0u8..6, 0u8..6).prop_map(|(a, p, v)| Op::Insert(a, p, v)),
        (any::<bool>(), any::<bool>()).prop_map(|(a, b)| Op::Move(a, b)),
    ]
}

fn model_range(len: usize, a: i64, b: i64) -> Option<(usize, usize)> {
    let len = len as i64;
    let a = if a < 0 { (len + a).max(0) } else { a };
    let b = if b < 0 { len + b } else { b.min(len - 1) };
    (a <= b && a < len).then_some((a as usize, b as usize))
}

fn lrange(e: &Engine, s: &mut ferrite_store::Session, key: &str) -> Vec<String> {
    match run(e, s, &format!("LRANGE {key} 0 -1")) {
        Reply::Array(v) => v
            .iter()
            .map(|r| String::from_utf8(r.as_bytes().unwrap().to_vec()).unwrap())
            .collect(),
        r => panic!("{r:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn lists_behave_like_a_deque(ops in prop::collection::vec(op(), 1..60)) {
        let e = Engine::new();
        let mut s = e.session();
        let mut m: VecDeque<String> = VecDeque::new();
        let mut other: VecDeque<String> = VecDeque::new();
        for op in ops {
            match op {
                Op::Push(left, vs) => {
                    let vs: Vec<String> = vs.iter().map(|v| v.to_string()).collect();
                    let cmd = if left { "LPUSH" } else { "RPUSH" };
                    for v in &vs {
                        if left { m.push_front(v.clone()) } else { m.push_back(v.clone()) }
                    }
                    prop_assert_eq!(q(&e, &mut s, &format!("{cmd} k {}", vs.join(" "))), format!(":{}", m.len()));
                }
                Op::Pop(left, n) => {
                    let cmd = if left { "LPOP" } else { "RPOP" };
                    let r = run(&e, &mut s, &format!("{cmd} k {n}"));
                    let existed = !m.is_empty();
                    let mut want = Vec::new();
                    for _ in 0..n {
                        let v = if left { m.pop_front() } else { m.pop_back() };
                        if let Some(v) = v { want.push(Reply::bulk(v.as_bytes())); }
                    }
                    let want = if existed { Reply::Array(want) } else { Reply::NilArray };
                    prop_assert_eq!(r, want);
                }
                Op::Rem(c, v) => {
                    let v = v.to_string();
                    let mut removed = 0;
                    let limit = if c == 0 { usize::MAX } else { c.unsigned_abs() as usize };
                    if c >= 0 {
                        let mut i = 0;
                        while i < m.len() && removed < limit {
                            if m[i] == v { m.remove(i); removed += 1; } else { i += 1; }
                        }
                    } else {
                        let mut i = m.len();
                        while i > 0 && removed < limit {
                            i -= 1;
                            if m[i] == v { m.remove(i); removed += 1; }
                        }
                    }
                    prop_assert_eq!(q(&e, &mut s, &format!("LREM k {c} {v}")), format!(":{removed}"));
                }
                Op::Trim(a, b) => {
                    match model_range(m.len(), a, b) {
                        None => m.clear(),
                        Some((a, b)) => { m.truncate(b + 1); m.drain(..a); }
                    }
                    prop_assert_eq!(q(&e, &mut s, &format!("LTRIM k {a} {b}")), "+OK");
                }
                Op::Set(i, v) => {
                    let len = m.len() as i64;
                    let idx = if i < 0 { len + i } else { i };
                    let want = if m.is_empty() {
                        "!ERR no such key".to_string()
                    } else if (0..len).contains(&idx) {
                        m[idx as usize] = v.to_string();
                        "+OK".to_string()
                    } else {
                        "!ERR index out of range".to_string()
                    };
                    prop_assert_eq!(q(&e, &mut s, &format!("LSET k {i} {v}")), want);
                }
                Op::Insert(after, p, v) => {
                    let want = if m.is_empty() {
                        0
                    } else if let Some(i) = m.iter().position(|x| *x == p.to_string()) {
                        m.insert(i + after as usize, v.to_string());
                        m.len() as i64
                    } else {
                        -1
                    };
                    let w = if after { "AFTER" } else { "BEFORE" };
                    prop_assert_eq!(q(&e, &mut s, &format!("LINSERT k {w} {p} {v}")), format!(":{want}"));
                }
                Op::Move(from_left, to_left) => {
                    let v = if from_left { m.pop_front() } else { m.pop_back() };
                    if let Some(v) = &v {
                        if to_left { other.push_front(v.clone()) } else { other.push_back(v.clone()) }
                    }
                    let f = if from_left { "LEFT" } else { "RIGHT" };
                    let t = if to_left { "LEFT" } else { "RIGHT" };
                    let want = v.map(|v| format!("${v}")).unwrap_or("nil".into());
                    prop_assert_eq!(q(&e, &mut s, &format!("LMOVE k o {f} {t}")), want);
                }
            }
            prop_assert_eq!(lrange(&e, &mut s, "k"), m.iter().cloned().collect::<Vec<_>>());
            prop_assert_eq!(lrange(&e, &mut s, "o"), other.iter().cloned().collect::<Vec<_>>());
            // An empty list never stays in the keyspace.
            prop_assert_eq!(q(&e, &mut s, "EXISTS k"), format!(":{}", !m.is_empty() as i64));
        }
    }
}
