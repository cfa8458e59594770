//! Hashes commands against replies recorded from redis-server 7.0.15
//! (`data/hashes.txt`, regenerated with `data/gen_expected.py`).

mod coll;

#[test]
fn hashes_script_matches_redis() {
    coll::replay(include_str!("data/hashes.expected"));
}

use coll::{q, run};
use ferrite_store::{Engine, Reply, Session};
use proptest::prelude::*;
use std::collections::BTreeMap;

fn text(r: &Reply) -> String {
    String::from_utf8(r.as_bytes().unwrap().to_vec()).unwrap()
}

fn pairs(r: Reply) -> BTreeMap<String, String> {
    match r {
        Reply::Map(m) => m.iter().map(|(k, v)| (text(k), text(v))).collect(),
        Reply::Array(v) => v.chunks(2).map(|c| (text(&c[0]), text(&c[1]))).collect(),
        r => panic!("{r:?}"),
    }
}

fn hscan_all(e: &Engine, s: &mut Session, key: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut cursor = "0".to_string();
    loop {
        let Reply::Array(parts) = run(e, s, &format!("HSCAN {key} {cursor} COUNT 7")) else {
            panic!()
        };
        cursor = text(&parts[0]);
        out.extend(pairs(parts[1].clone()));
        if cursor == "0" {
            return out;
        }
    }
}

#[derive(Debug, Clone)]
enum HOp {
    Set(Vec<(u8, String)>),
    Del(Vec<u8>),
    Incr(u8, i32),
}

fn hop() -> impl Strategy<Value = HOp> {
    let value = prop_oneof![
        "[a-z]{1,3}",
        "[a-z]{65,70}",
        (0i32..100).prop_map(|i| i.to_string())
    ];
    prop_oneof![
        3 => prop::collection::vec((0u8..150, value), 1..20).prop_map(HOp::Set),
        2 => prop::collection::vec(0u8..150, 1..10).prop_map(HOp::Del),
        1 => (0u8..150, -50i32..50).prop_map(|(f, n)| HOp::Incr(f, n)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn hashes_behave_like_btreemaps(ops in prop::collection::vec(hop(), 1..40)) {
        let e = Engine::new();
        let mut s = e.session();
        let mut m: BTreeMap<String, String> = BTreeMap::new();
        let mut big = false;
        for op in ops {
            match op {
                HOp::Set(kv) => {
                    let mut fresh = std::collections::BTreeSet::new();
                    let mut line = "HSET h".to_string();
                    for (f, v) in &kv {
                        let f = format!("f{f}");
                        if !m.contains_key(&f) { fresh.insert(f.clone()); }
                        big |= v.len() > 64;
                        m.insert(f.clone(), v.clone());
                        line += &format!(" {f} {v}");
                    }
                    prop_assert_eq!(q(&e, &mut s, &line), format!(":{}", fresh.len()));
                }
                HOp::Del(fs) => {
                    let mut n = 0;
                    let mut line = "HDEL h".to_string();
                    for f in &fs {
                        let f = format!("f{f}");
                        if m.remove(&f).is_some() { n += 1; }
                        line += &format!(" {f}");
                    }
                    prop_assert_eq!(q(&e, &mut s, &line), format!(":{n}"));
                    if m.is_empty() { big = false; }
                }
                HOp::Incr(f, by) => {
                    let f = format!("f{f}");
                    let r = q(&e, &mut s, &format!("HINCRBY h {f} {by}"));
                    match m.get(&f).map(|v| v.parse::<i64>()) {
                        Some(Err(_)) => prop_assert_eq!(r, "!ERR hash value is not an integer"),
                        old => {
                            let new = old.map(|o| o.unwrap()).unwrap_or(0) + by as i64;
                            m.insert(f, new.to_string());
                            prop_assert_eq!(r, format!(":{new}"));
                        }
                    }
                }
            }
            prop_assert_eq!(pairs(run(&e, &mut s, "HGETALL h")), m.clone());
            prop_assert_eq!(hscan_all(&e, &mut s, "h"), m.clone());
            prop_assert_eq!(q(&e, &mut s, "HLEN h"), format!(":{}", m.len()));
            prop_assert_eq!(q(&e, &mut s, "EXISTS h"), format!(":{}", !m.is_empty() as i64));
            if !m.is_empty() {
                let enc = q(&e, &mut s, "OBJECT ENCODING h");
                if big || m.len() > 128 {
                    prop_assert_eq!(&enc, "$hashtable");
                }
                big = enc == "$hashtable";
            }
        }
    }
}

#[test]
fn hrandfield_counts_and_resp3_shapes() {
    let e = Engine::new();
    let mut s = e.session();
    q(&e, &mut s, "HSET h a 1 b 2 c 3 d 4");
    let all = pairs(run(&e, &mut s, "HGETALL h"));
    for _ in 0..30 {
        let Reply::Array(v) = run(&e, &mut s, "HRANDFIELD h 3") else {
            panic!()
        };
        let fields: std::collections::BTreeSet<String> = v.iter().map(text).collect();
        assert_eq!(fields.len(), 3);
        assert!(fields.iter().all(|f| all.contains_key(f)));
        let Reply::Array(v) = run(&e, &mut s, "HRANDFIELD h -10 WITHVALUES") else {
            panic!()
        };
        assert_eq!(v.len(), 20);
        for c in v.chunks(2) {
            assert_eq!(all[&text(&c[0])], text(&c[1]));
        }
    }
    // The whole hash when count >= size, in insertion order (listpack).
    assert_eq!(
        q(&e, &mut s, "HRANDFIELD h 10 WITHVALUES"),
        "[$a, $1, $b, $2, $c, $3, $d, $4]"
    );
    s.resp = 3;
    let Reply::Array(v) = run(&e, &mut s, "HRANDFIELD h -3 WITHVALUES") else {
        panic!()
    };
    assert_eq!(v.len(), 3);
    assert!(v
        .iter()
        .all(|p| matches!(p, Reply::Array(kv) if kv.len() == 2)));
    assert!(matches!(run(&e, &mut s, "HGETALL h"), Reply::Map(m) if m.len() == 4));
}

#[test]
fn hincrbyfloat_formats() {
    let e = Engine::new();
    let mut s = e.session();
    assert_eq!(q(&e, &mut s, "HINCRBYFLOAT h f 10.5"), "$10.5");
    assert_eq!(q(&e, &mut s, "HINCRBYFLOAT h f 0.5"), "$11");
    assert_eq!(q(&e, &mut s, "HGET h f"), "$11");
    assert_eq!(q(&e, &mut s, "HINCRBYFLOAT h f -11"), "$0");
    assert!(!run(&e, &mut s, "HINCRBYFLOAT h f 1.7976931348623157e308").is_error());
    // Redis adds in `long double`: twice DBL_MAX is still finite.
    assert!(q(&e, &mut s, "HINCRBYFLOAT h f 1.7976931348623157e308")
        .starts_with("$3595386269724631399918"));
    assert!(!run(&e, &mut s, "HSET h g 1e4932").is_error());
    assert_eq!(
        q(&e, &mut s, "HINCRBYFLOAT h g 1e4932"),
        "!ERR increment would produce NaN or Infinity"
    );
}
