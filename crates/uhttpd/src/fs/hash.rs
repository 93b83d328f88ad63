//! The sha-256 of a file's bytes, read through a descriptor already open
//! (opened beneath root): nothing is looked up by name again.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use sha2::{Digest, Sha256};

/// Bytes read at a time: a few pages, on the blocking pool.
const READ_BYTES: usize = 64 * 1024;

/// The sha-256 of the first `len` bytes of `file` (positioned reads: the
/// descriptor's offset is neither used nor moved, so a shared one is fine).
pub fn sha256_of(file: &File, len: u64) -> io::Result<[u8; 32]> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; READ_BYTES];
    let mut at = 0u64;
    while at < len {
        let want = usize::try_from(len - at).map_or(READ_BYTES, |left| left.min(READ_BYTES));
        let n = file.read_at(&mut buf[..want], at)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        hasher.update(&buf[..n]);
        at += n as u64;
    }
    Ok(hasher.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_the_bytes_asked_for_through_the_open_file() {
        let path = std::env::temp_dir().join(format!("uhttpd-hash-{}", std::process::id()));
        std::fs::write(&path, vec![b'x'; 3 * READ_BYTES + 7]).unwrap();
        let file = File::open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let whole: [u8; 32] = Sha256::digest(vec![b'x'; 3 * READ_BYTES + 7]).into();
        assert_eq!(sha256_of(&file, 3 * READ_BYTES as u64 + 7).unwrap(), whole);
        let empty: [u8; 32] = Sha256::digest(b"").into();
        assert_eq!(sha256_of(&file, 0).unwrap(), empty);
        // A file shorter than said is an error, not a digest of other bytes.
        assert!(sha256_of(&file, 4 * READ_BYTES as u64).is_err());
    }
}
