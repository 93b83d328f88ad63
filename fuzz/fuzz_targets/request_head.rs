//! Request heads: parse_head never panics, and what it accepts is self-consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use uhttpd::fuzzing::{parse_head, HeadLimits};

fuzz_target!(|data: &[u8]| {
    let limits = HeadLimits::default();
    let mut buf = bytes::BytesMut::from(data);
    if let Ok(Some(head)) = parse_head(&mut buf, &limits) {
        assert!(buf.len() < data.len());
        assert!(data.ends_with(&buf));
        assert!(head.target().len() <= limits.max_uri_bytes);
        assert!(head.path().len() <= head.target().len());
        assert!(head.fields().count() <= uhttpd::limits::MAX_HEADERS);
    }
});
