//! `Content-Range` on an upload (RFC 9110 §14.4): which piece of a file of
//! known size a PUT carries, or, as `bytes */T`, a question: how much of it
//! has arrived?

/// What a PUT's `Content-Range` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UploadRange {
    /// `bytes first-last/total`: the body is those bytes of the file.
    Piece { first: u64, last: u64, total: u64 },
    /// `bytes */total`: no bytes, only the question.
    Probe { total: u64 },
}

impl UploadRange {
    /// The field's value parsed; `None` when it is not one of the two forms
    /// above with `first <= last < total` (an unknown total, `/*`, included:
    /// a piece must say how large the whole file is).
    pub fn parse(value: &[u8]) -> Option<UploadRange> {
        let value = std::str::from_utf8(value).ok()?;
        let (unit, range) = value.split_once(' ')?;
        if !unit.eq_ignore_ascii_case("bytes") {
            return None;
        }
        let (span, total) = range.split_once('/')?;
        let total = decimal(total)?;
        if span == "*" {
            return Some(UploadRange::Probe { total });
        }
        let (first, last) = span.split_once('-')?;
        let (first, last) = (decimal(first)?, decimal(last)?);
        (first <= last && last < total).then_some(UploadRange::Piece { first, last, total })
    }

    /// The size of the whole file.
    pub fn total(&self) -> u64 {
        match *self {
            UploadRange::Piece { total, .. } | UploadRange::Probe { total } => total,
        }
    }
}

/// Digits only (no sign, no space), within `u64`.
fn decimal(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: &str) -> Option<UploadRange> {
        UploadRange::parse(value.as_bytes())
    }

    #[test]
    fn pieces_and_probes_parse() {
        assert_eq!(
            parse("bytes 0-99/300"),
            Some(UploadRange::Piece {
                first: 0,
                last: 99,
                total: 300
            })
        );
        assert_eq!(
            parse("Bytes 299-299/300"),
            Some(UploadRange::Piece {
                first: 299,
                last: 299,
                total: 300
            })
        );
        assert_eq!(
            parse("bytes */300"),
            Some(UploadRange::Probe { total: 300 })
        );
        assert_eq!(parse("bytes */0"), Some(UploadRange::Probe { total: 0 }));
        assert_eq!(parse("bytes 0-9/10").map(|r| r.total()), Some(10));
    }

    #[test]
    fn anything_else_is_malformed() {
        for malformed in [
            "",
            "bytes",
            "bytes 0-9",
            "bytes 0-9/*", // the total must be known
            "bytes */*",
            "bytes 5-4/10",  // last before first
            "bytes 0-10/10", // last past the end
            "bytes 0-0/0",
            "bytes -1-9/10",
            "bytes +0-9/10",
            "bytes 0 -9/10",
            "bytes  0-9/10",
            "bytes 0-9/10 ",
            "bytes 0x0-9/10",
            "items 0-9/10",
            "bytes 0-9/10, 10-19/20",
            "bytes 0-18446744073709551616/18446744073709551617",
            "bytes 0-9/1\u{e9}",
        ] {
            assert_eq!(parse(malformed), None, "{malformed:?}");
        }
        assert_eq!(UploadRange::parse(b"bytes 0-9/\xff"), None);
    }
}
