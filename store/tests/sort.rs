//! SORT and SORT_RO: golden replies recorded from redis-server 7.0.

mod golden;

use golden::{exec, fresh, render};

#[test]
fn golden_replies() {
    golden::run(include_str!("golden/sort.golden"));
}

#[test]
fn store_counts_elements_as_changes_and_wakes_list_waiters() {
    let (e, mut s) = fresh();
    exec(&e, &mut s, "RPUSH l 3 1 2");
    let d0 = e.lock().dirty;
    assert_eq!(render(&exec(&e, &mut s, "SORT l STORE dst"), false), ":3");
    assert_eq!(e.lock().dirty - d0, 3);
    let (mut w, _sink, rx) = golden::blocking_session(&e);
    exec(&e, &mut w, "BLPOP dst2 0");
    exec(&e, &mut s, "SORT l DESC STORE dst2");
    assert_eq!(golden::served(&rx, false), r#"["dst2","3"]"#);
}

#[test]
fn sort_on_a_big_zset_by_score_order_without_sorting() {
    let (e, mut s) = fresh();
    for i in 0..300 {
        exec(&e, &mut s, &format!("ZADD z {i} m{i:03}"));
    }
    assert_eq!(
        render(&exec(&e, &mut s, "SORT z BY nosort DESC LIMIT 0 3"), false),
        r#"["m299","m298","m297"]"#
    );
    assert_eq!(
        render(&exec(&e, &mut s, "SORT z BY nosort LIMIT 298 5"), false),
        r#"["m298","m299"]"#
    );
}
