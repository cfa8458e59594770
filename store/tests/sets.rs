//! Sets commands against replies recorded from redis-server 7.0.15
//! (`data/sets.txt`, regenerated with `data/gen_expected.py`).

mod coll;

#[test]
fn sets_script_matches_redis() {
    coll::replay(include_str!("data/sets.expected"));
}

use coll::{q, run};
use ferrite_store::{Engine, Reply, Session};
use proptest::prelude::*;
use std::collections::BTreeSet;

fn members(r: Reply) -> Vec<String> {
    match r {
        Reply::Array(v) | Reply::Set(v) => v
            .iter()
            .map(|r| String::from_utf8(r.as_bytes().unwrap().to_vec()).unwrap())
            .collect(),
        r => panic!("{r:?}"),
    }
}

fn sorted(v: Vec<String>) -> Vec<String> {
    let mut v = v;
    v.sort();
    v
}

/// Every member, by SSCAN iterations until the cursor comes back to 0.
fn sscan_all(e: &Engine, s: &mut Session, key: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut cursor = "0".to_string();
    loop {
        let Reply::Array(parts) = run(e, s, &format!("SSCAN {key} {cursor} COUNT 3")) else {
            panic!()
        };
        cursor = String::from_utf8(parts[0].as_bytes().unwrap().to_vec()).unwrap();
        out.extend(members(parts[1].clone()));
        if cursor == "0" {
            return out;
        }
    }
}

#[derive(Debug, Clone)]
enum SOp {
    Add(usize, Vec<String>),
    Rem(usize, Vec<String>),
    Pop(usize, u8),
}

fn member() -> impl Strategy<Value = String> {
    prop_oneof![(0i64..40).prop_map(|i| i.to_string()), "[a-e]{1,2}"]
}

fn sop() -> impl Strategy<Value = SOp> {
    prop_oneof![
        3 => (0usize..3, prop::collection::vec(member(), 1..6)).prop_map(|(k, v)| SOp::Add(k, v)),
        2 => (0usize..3, prop::collection::vec(member(), 1..4)).prop_map(|(k, v)| SOp::Rem(k, v)),
        1 => (0usize..3, 0u8..4).prop_map(|(k, n)| SOp::Pop(k, n)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn sets_behave_like_btreesets(ops in prop::collection::vec(sop(), 1..50)) {
        let e = Engine::new();
        let mut s = e.session();
        let keys = ["a", "b", "c"];
        let mut m: Vec<BTreeSet<String>> = vec![BTreeSet::new(); 3];
        for op in ops {
            match op {
                SOp::Add(k, vs) => {
                    let added = vs.iter().filter(|v| m[k].insert((*v).clone())).count();
                    prop_assert_eq!(q(&e, &mut s, &format!("SADD {} {}", keys[k], vs.join(" "))), format!(":{added}"));
                }
                SOp::Rem(k, vs) => {
                    let removed = vs.iter().filter(|v| m[k].remove(*v)).count();
                    prop_assert_eq!(q(&e, &mut s, &format!("SREM {} {}", keys[k], vs.join(" "))), format!(":{removed}"));
                }
                SOp::Pop(k, n) => {
                    let got = members(run(&e, &mut s, &format!("SPOP {} {n}", keys[k])));
                    prop_assert_eq!(got.len(), (n as usize).min(m[k].len()));
                    for g in &got {
                        prop_assert!(m[k].remove(g), "popped a non-member {}", g);
                    }
                }
            }
            for k in 0..3 {
                prop_assert_eq!(q(&e, &mut s, &format!("SCARD {}", keys[k])), format!(":{}", m[k].len()));
                let all = sorted(members(run(&e, &mut s, &format!("SMEMBERS {}", keys[k]))));
                prop_assert_eq!(&all, &m[k].iter().cloned().collect::<Vec<_>>());
                prop_assert_eq!(&sscan_all(&e, &mut s, keys[k]), &m[k]);
                // Small all-integer sets are intsets, sorted numerically as in Redis.
                let enc = q(&e, &mut s, &format!("OBJECT ENCODING {}", keys[k]));
                if enc == "$intset" {
                    let order: Vec<i64> = members(run(&e, &mut s, &format!("SMEMBERS {}", keys[k])))
                        .iter().map(|v| v.parse().unwrap()).collect();
                    prop_assert!(order.windows(2).all(|w| w[0] < w[1]));
                }
            }
            let (a, b, c) = (&m[0], &m[1], &m[2]);
            let inter: BTreeSet<String> = a.iter().filter(|x| b.contains(*x) && c.contains(*x)).cloned().collect();
            let union: BTreeSet<String> = a.iter().chain(b).chain(c).cloned().collect();
            let diff: BTreeSet<String> = a.iter().filter(|x| !b.contains(*x) && !c.contains(*x)).cloned().collect();
            prop_assert_eq!(sorted(members(run(&e, &mut s, "SINTER a b c"))), inter.iter().cloned().collect::<Vec<_>>());
            prop_assert_eq!(sorted(members(run(&e, &mut s, "SUNION a b c"))), union.iter().cloned().collect::<Vec<_>>());
            prop_assert_eq!(sorted(members(run(&e, &mut s, "SDIFF a b c"))), diff.iter().cloned().collect::<Vec<_>>());
            prop_assert_eq!(q(&e, &mut s, "SINTERCARD 3 a b c LIMIT 2"), format!(":{}", inter.len().min(2)));
            prop_assert_eq!(q(&e, &mut s, "SUNIONSTORE u a b c"), format!(":{}", union.len()));
            prop_assert_eq!(q(&e, &mut s, "EXISTS u"), format!(":{}", !union.is_empty() as i64));
        }
    }
}

#[test]
fn srandmember_counts() {
    let e = Engine::new();
    let mut s = e.session();
    q(&e, &mut s, "SADD k a b c d e f g h i j");
    let all: BTreeSet<String> = "abcdefghij".chars().map(|c| c.to_string()).collect();
    for _ in 0..50 {
        let got = members(run(&e, &mut s, "SRANDMEMBER k 4"));
        let set: BTreeSet<String> = got.iter().cloned().collect();
        assert_eq!(set.len(), 4, "distinct");
        assert!(set.is_subset(&all));
        let got = members(run(&e, &mut s, "SRANDMEMBER k -30"));
        assert_eq!(got.len(), 30, "repetitions allowed");
        assert!(got.iter().all(|g| all.contains(g)));
    }
    // Repetition actually happens for negative counts, and every member
    // shows up over many draws.
    let got = members(run(&e, &mut s, "SRANDMEMBER k -2000"));
    let seen: BTreeSet<String> = got.iter().cloned().collect();
    assert_eq!(seen, all);
    assert_eq!(members(run(&e, &mut s, "SRANDMEMBER k 100")).len(), 10);
    let one = q(&e, &mut s, "SRANDMEMBER k");
    assert!(all.contains(&one[1..]));
    // RESP3: distinct picks are a set, repeated picks an array.
    s.resp = 3;
    assert!(matches!(run(&e, &mut s, "SRANDMEMBER k 2"), Reply::Set(_)));
    assert!(matches!(
        run(&e, &mut s, "SRANDMEMBER k -2"),
        Reply::Array(_)
    ));
    assert!(matches!(run(&e, &mut s, "SMEMBERS k"), Reply::Set(_)));
}

#[test]
fn spop_single_and_whole_set() {
    let e = Engine::new();
    let mut s = e.session();
    q(&e, &mut s, "SADD k 1 2 3");
    let v = q(&e, &mut s, "SPOP k");
    assert!(["$1", "$2", "$3"].contains(&v.as_str()));
    assert_eq!(q(&e, &mut s, "SCARD k"), ":2");
    assert_eq!(members(run(&e, &mut s, "SPOP k 5")).len(), 2);
    assert_eq!(q(&e, &mut s, "EXISTS k"), ":0");
}

#[test]
fn sscan_large_set_pages_with_cursor() {
    let e = Engine::new();
    let mut s = e.session();
    let items: Vec<String> = (0..700).map(|i| format!("m{i}")).collect();
    q(&e, &mut s, &format!("SADD k {}", items.join(" ")));
    assert_eq!(q(&e, &mut s, "OBJECT ENCODING k"), "$hashtable");
    let Reply::Array(parts) = run(&e, &mut s, "SSCAN k 0") else {
        panic!()
    };
    assert_ne!(parts[0].as_bytes().unwrap(), b"0", "a large set pages");
    assert_eq!(sscan_all(&e, &mut s, "k").len(), 700);
    let Reply::Array(parts) = run(&e, &mut s, "SSCAN k 0 COUNT 1000 MATCH m69*") else {
        panic!()
    };
    assert_eq!(
        sorted(members(parts[1].clone())),
        sorted(vec![
            "m69".into(),
            "m690".into(),
            "m691".into(),
            "m692".into(),
            "m693".into(),
            "m694".into(),
            "m695".into(),
            "m696".into(),
            "m697".into(),
            "m698".into(),
            "m699".into()
        ])
    );
}
