//! WebSocket upgrade requests and WebREPL `WA` transfer requests.
#![no_main]

use libfuzzer_sys::fuzz_target;
use uhttpd::fuzzing::{parse_head, HeadLimits};
use uhttpd::fuzzing::{parse_wa, WA_REQUEST_BYTES};
use uhttpd::fuzzing::handshake;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(head)) = parse_head(&mut data.into(), &HeadLimits::default()) {
        for compatible in [false, true] {
            if let Ok(reply) = handshake(&head, compatible) {
                assert!(reply.starts_with(b"HTTP/1.1 101 "));
                assert!(reply.ends_with(b"\r\n\r\n"));
            }
        }
    }
    for request in data.chunks(WA_REQUEST_BYTES) {
        if let Some(wa) = parse_wa(request) {
            assert!(wa.name.len() <= 64);
            assert!(!wa.name.contains('\0'), "a NUL inside a WA name");
        }
    }
});
