//! Route patterns: parse never panics; `covers` never claims more than `matches` shows.
#![no_main]

use libfuzzer_sys::fuzz_target;
use uhttpd::fuzzing::Pattern;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\n');
    let (Some(a), Some(b), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
        return;
    };
    let (Ok(a), Ok(b)) = (Pattern::parse(a), Pattern::parse(b)) else { return };
    if a.covers(&b) && b.matches(path) {
        assert!(a.matches(path), "{a:?} covers {b:?} but misses {path:?}");
    }
    assert!(a.covers(&a));
});
