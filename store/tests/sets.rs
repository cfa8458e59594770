//! Sets commands against replies recorded from redis-server 7.0.15
//! (`data/sets.txt`, regenerated with `data/gen_expected.py`).

mod coll;

#[test]
fn sets_script_matches_redis() {
    coll::replay(include_str!("data/sets.expected"));
}
