//! The fields of verified and resumable uploads: `Content-Digest`,
//! `Want-Repr-Digest` and `Content-Range` never panic; a digest written by
//! the server reads back as itself, and a piece's range is never empty or
//! past the file's end.
#![no_main]

use libfuzzer_sys::fuzz_target;
use uhttpd::fuzzing::{sha256_field, sha256_in, wants_sha256, UploadRange};

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(digest)) = sha256_in(data) {
        let written = sha256_field(&digest);
        assert_eq!(sha256_in(written.as_bytes()), Ok(Some(digest)));
    }
    wants_sha256(data);
    match UploadRange::parse(data) {
        Some(UploadRange::Piece { first, last, total }) => assert!(first <= last && last < total),
        Some(UploadRange::Probe { .. }) | None => {}
    }
});
