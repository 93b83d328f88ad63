//! Content-Disposition headers of static uploads: no panic, no empty names.
#![no_main]

use libfuzzer_sys::fuzz_target;
use uhttpd::fuzzing::disposition_filename;

fuzz_target!(|data: &[u8]| {
    if let Some(name) = disposition_filename(data) {
        assert!(!name.is_empty());
    }
});
