//! Chunked request bodies, fed in arbitrary splits: no panic, never more
//! data out than went in, and the same result however the input is split.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use uhttpd::fuzzing::{BodyDecoder, BodyKind, Decoded};

/// Decodes `input` fed `step` bytes at a time: the body, or None on refusal.
fn decode(input: &[u8], step: usize) -> Option<(Vec<u8>, bool)> {
    let mut decoder = BodyDecoder::new(BodyKind::Chunked);
    let mut buf = BytesMut::new();
    let mut body = Vec::new();
    for piece in input.chunks(step.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buf, 7) {
                Ok(Decoded::Data(data)) => body.extend_from_slice(&data),
                Ok(Decoded::NeedMore) => break,
                Ok(Decoded::Done) => return Some((body, true)),
                Err(_) => return None,
            }
        }
    }
    Some((body, false))
}

fuzz_target!(|data: &[u8]| {
    let Some((&step, input)) = data.split_first() else { return };
    let whole = decode(input, input.len());
    let split = decode(input, usize::from(step % 16) + 1);
    if let Some((body, _)) = &whole {
        assert!(body.len() <= input.len());
    }
    // A complete body decodes the same however it arrives.
    if let (Some((a, true)), Some((b, true))) = (&whole, &split) {
        assert_eq!(a, b);
    }
});
