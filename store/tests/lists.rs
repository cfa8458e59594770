//! List commands against replies recorded from redis-server 7.0.15
//! (`data/lists.txt`, regenerated with `data/gen_expected.py`).

mod coll;

#[test]
fn list_script_matches_redis() {
    coll::replay(include_str!("data/lists.expected"));
}
