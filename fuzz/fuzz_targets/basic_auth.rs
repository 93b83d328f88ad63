//! The Basic auth comparison accepts exactly the expected value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use uhttpd::fuzzing::basic_matches;

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(0, |&n| usize::from(n)).min(data.len());
    let (expected, given) = data.split_at(split);
    assert_eq!(basic_matches(expected, Some(given)), expected == given);
});
