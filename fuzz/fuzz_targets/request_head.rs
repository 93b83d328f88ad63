//! Request heads: parse_head never panics, and what it accepts is self-consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use uhttpd::fuzzing::{parse_head, HeadLimits};

fuzz_target!(|data: &[u8]| {
    let limits = HeadLimits::default();
    if let Ok(Some((head, used))) = parse_head(data, &limits) {
        assert!(used <= data.len());
        assert!(head.target.len() <= limits.max_uri_bytes);
        assert!(head.path().len() <= head.target.len());
    }
});
