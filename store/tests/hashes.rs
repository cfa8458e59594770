//! Hashes commands against replies recorded from redis-server 7.0.15
//! (`data/hashes.txt`, regenerated with `data/gen_expected.py`).

mod coll;

#[test]
fn hashes_script_matches_redis() {
    coll::replay(include_str!("data/hashes.expected"));
}
