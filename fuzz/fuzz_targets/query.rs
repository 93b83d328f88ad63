//! Query strings: decoding never panics and `first` agrees with `parse`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use uhttpd::query;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (key, query) = text.split_once('\n').unwrap_or(("k", &text));
    let key = query::decode_component(key.as_bytes());
    let first = query::first(query, &key);
    let found = query::parse(query).find(|(k, _)| *k == key).map(|(_, v)| v);
    assert_eq!(first, found);
});
