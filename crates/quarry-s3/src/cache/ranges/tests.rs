//! The cache's rules on versions, eviction and budgets, without IO.

#![allow(clippy::single_range_in_vec_init)]

use super::*;
use chrono::{TimeZone, Utc};

fn key(path: &str) -> ObjectKey {
    ObjectKey::new("b", &Path::from(path))
}

fn meta(path: &str, e_tag: &str, size: u64) -> ObjectMeta {
    ObjectMeta {
        location: Path::from(path),
        last_modified: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
        size,
        e_tag: Some(e_tag.into()),
        version: None,
    }
}

fn bytes(n: usize, fill: u8) -> Bytes {
    Bytes::from(vec![fill; n])
}

#[test]
fn a_smaller_capacity_drops_the_least_recently_used_at_once() {
    let cache = RangeCache::new(1000);
    let k = key("t.parquet");
    let v1 = meta("t.parquet", "v1", 1000);
    cache.observe(&k, &v1);
    cache.insert(&k, &v1, 0, bytes(200, 1));
    cache.insert(&k, &v1, 500, bytes(200, 2));
    assert_eq!(cache.stats().used, 400);
    // Another kernel joined the pod: this one's part halves, and more.
    cache.set_capacity(250);
    assert_eq!(cache.stats().used, 200);
    assert_eq!(cache.stats().capacity, 250);
    let (_, found) = cache.lookup(&k, &[0..10, 500..510]).unwrap();
    assert!(found[0].is_none(), "the older range went first");
    assert!(found[1].is_some());
}

#[test]
fn nothing_is_answered_or_kept_before_a_version_is_listed() {
    let cache = RangeCache::new(1000);
    let k = key("t.parquet");
    assert!(cache.lookup(&k, &[0..10]).is_none());
    cache.insert(&k, &meta("t.parquet", "v1", 100), 0, bytes(10, 1));
    assert_eq!(cache.stats().used, 0);
}

#[test]
fn contained_ranges_are_answered_from_one_chunk() {
    let cache = RangeCache::new(1000);
    let k = key("t.parquet");
    let v1 = meta("t.parquet", "v1", 100);
    cache.observe(&k, &v1);
    let data: Bytes = (0u8..50).collect::<Vec<_>>().into();
    cache.insert(&k, &v1, 10, data);
    let (current, found) = cache.lookup(&k, &[12..15, 5..15, 40..60, 59..61]).unwrap();
    assert_eq!(current, v1);
    assert_eq!(found[0].as_deref(), Some(&[2u8, 3, 4][..]));
    assert!(found[1].is_none(), "starts before the chunk");
    assert_eq!(found[2].as_ref().map(|b| b.len()), Some(20));
    assert!(found[3].is_none(), "runs past the chunk");
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses, stats.hit_bytes), (2, 2, 23));
}

#[test]
fn a_new_version_drops_the_old_bytes() {
    let cache = RangeCache::new(1000);
    let k = key("t.parquet");
    let v1 = meta("t.parquet", "v1", 100);
    cache.observe(&k, &v1);
    cache.insert(&k, &v1, 0, bytes(100, 1));
    cache.observe(&k, &v1);
    assert!(cache.lookup(&k, &[0..10]).unwrap().1[0].is_some());
    let v2 = meta("t.parquet", "v2", 100);
    cache.observe(&k, &v2);
    assert_eq!(cache.stats().used, 0);
    let (current, found) = cache.lookup(&k, &[0..10]).unwrap();
    assert_eq!(current.e_tag.as_deref(), Some("v2"));
    assert!(found[0].is_none());
}

#[test]
fn bytes_of_another_version_are_not_kept_and_stop_all_answers() {
    let cache = RangeCache::new(1000);
    let k = key("t.parquet");
    let v1 = meta("t.parquet", "v1", 100);
    cache.observe(&k, &v1);
    cache.insert(&k, &v1, 0, bytes(10, 1));
    // The object was rewritten after it was listed: the fetch saw v2.
    cache.insert(&k, &meta("t.parquet", "v2", 100), 20, bytes(10, 2));
    assert_eq!(cache.stats().used, 0);
    assert!(
        cache.lookup(&k, &[0..10]).is_none(),
        "unknown until listed again"
    );
}

#[test]
fn without_etags_size_and_second_decide() {
    let mut a = meta("t", "x", 10);
    a.e_tag = None;
    let mut b = a.clone();
    b.last_modified = a.last_modified + chrono::Duration::milliseconds(400);
    assert!(same_version(&a, &b), "GET headers drop the milliseconds");
    b.last_modified = a.last_modified + chrono::Duration::seconds(2);
    assert!(!same_version(&a, &b));
    let mut c = a.clone();
    c.size = 11;
    assert!(!same_version(&a, &c));
}

#[test]
fn a_covering_chunk_replaces_the_chunks_inside_it() {
    let cache = RangeCache::new(1000);
    let k = key("t");
    let v = meta("t", "v", 1000);
    cache.observe(&k, &v);
    cache.insert(&k, &v, 10, bytes(10, 1));
    cache.insert(&k, &v, 30, bytes(10, 1));
    cache.insert(&k, &v, 0, bytes(100, 2));
    assert_eq!(cache.stats().used, 100);
    cache.insert(&k, &v, 40, bytes(10, 3));
    assert_eq!(cache.stats().used, 100, "already covered");
    let (_, found) = cache.lookup(&k, &[35..45]).unwrap();
    assert_eq!(found[0].as_deref(), Some(&[2u8; 10][..]));
}

#[test]
fn least_recently_used_chunks_go_first() {
    let cache = RangeCache::new(100);
    let k = key("t");
    let v = meta("t", "v", 1000);
    cache.observe(&k, &v);
    cache.insert(&k, &v, 0, bytes(25, 1));
    cache.insert(&k, &v, 100, bytes(25, 1));
    cache.insert(&k, &v, 200, bytes(25, 1));
    cache.insert(&k, &v, 300, bytes(25, 1));
    cache.lookup(&k, &[0..1]); // the first chunk is used again
    cache.insert(&k, &v, 400, bytes(25, 1));
    let (_, found) = cache
        .lookup(&k, &[0..1, 100..101, 200..201, 400..401])
        .unwrap();
    let held: Vec<bool> = found.iter().map(Option::is_some).collect();
    assert_eq!(held, [true, false, true, true]);
    assert_eq!(cache.stats().used, 100);
}

#[test]
fn a_chunk_over_a_quarter_of_the_budget_is_not_kept() {
    let cache = RangeCache::new(100);
    let k = key("t");
    let v = meta("t", "v", 1000);
    cache.observe(&k, &v);
    cache.insert(&k, &v, 0, bytes(26, 1));
    assert_eq!(cache.stats().used, 0);
    assert_eq!(cache.stats().fetched_bytes, 26);
}

#[test]
fn an_idle_cache_lets_go_of_its_bytes() {
    let cache = RangeCache::new(1000);
    let k = key("t");
    let v = meta("t", "v", 1000);
    cache.observe(&k, &v);
    cache.insert(&k, &v, 0, bytes(10, 1));
    assert_eq!(cache.release_if_idle(Duration::from_secs(60)), 0);
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(cache.release_if_idle(Duration::from_millis(20)), 10);
    assert_eq!(cache.stats().used, 0);
}

#[test]
fn forgetting_and_clearing_release_the_bytes() {
    let cache = RangeCache::new(1000);
    let (a, b) = (key("a"), key("b"));
    let (va, vb) = (meta("a", "1", 100), meta("b", "1", 100));
    cache.observe(&a, &va);
    cache.observe(&b, &vb);
    cache.insert(&a, &va, 0, bytes(10, 1));
    cache.insert(&b, &vb, 0, bytes(20, 1));
    cache.forget(&a);
    assert_eq!(cache.stats().used, 20);
    assert!(cache.lookup(&a, &[0..1]).is_none());
    cache.clear();
    assert_eq!(cache.stats().used, 0);
    assert!(cache.lookup(&b, &[0..1]).is_none());
}

#[test]
fn derived_values_share_the_budget_and_the_use_order_with_bytes() {
    let cache = RangeCache::new(100);
    let a = key("a");
    cache.observe(&a, &meta("a", "v1", 1000));
    cache.insert(&a, &meta("a", "v1", 1000), 0, bytes(20, 1));
    assert!(cache.keep_derived("t@v1".into(), Arc::new(7_u32), 40));
    assert_eq!(cache.stats().used, 60);
    assert_eq!(cache.stats().derived_bytes, 40);
    let value = cache.derived("t@v1").expect("kept");
    assert_eq!(value.downcast_ref::<u32>(), Some(&7));
    assert!(
        cache.derived("t@v2").is_none(),
        "another version is another key"
    );
    // The bytes are now the least recently used: they go first.
    assert!(cache.keep_derived("u@v1".into(), Arc::new(8_u32), 45));
    assert_eq!(cache.stats().used, 85);
    assert!(cache.lookup(&a, &[0..20]).expect("known").1[0].is_none());
    assert!(cache.derived("t@v1").is_some());
    cache.clear();
    assert_eq!((cache.stats().used, cache.stats().derived_bytes), (0, 0));
    assert!(cache.derived("u@v1").is_none());
}

#[test]
fn a_derived_value_over_half_the_budget_is_not_kept() {
    let cache = RangeCache::new(100);
    assert!(!cache.keep_derived("big".into(), Arc::new(()), 51));
    assert!(cache.derived("big").is_none());
    assert_eq!(cache.stats().used, 0);
    assert!(cache.keep_derived("k".into(), Arc::new(()), 50));
    assert!(
        cache.keep_derived("k".into(), Arc::new(()), 30),
        "kept again replaces"
    );
    assert_eq!(cache.stats().used, 30);
}
