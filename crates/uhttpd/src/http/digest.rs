//! Integrity fields (RFC 9530): `Content-Digest` and `Repr-Digest`
//! (`sha-256=:<base64>:`) and `Want-Repr-Digest` (`sha-256=5, sha-512=3`).
//! Each is a structured-field dictionary (RFC 9651), parsed here as the RFC's
//! algorithm says, every member checked, so a malformed field is refused
//! whole. Only sha-256 is computed; other algorithms are parsed and ignored.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;

use super::reply::is_token_byte;

/// A sha-256 digest.
pub type Sha256Digest = [u8; 32];

/// The algorithm key computed here (RFC 9530's registry name).
const SHA_256: &[u8] = b"sha-256";

/// Byte sequences: standard base64, padded when written; read with or
/// without padding and with stray trailing bits, as RFC 9651 §4.2.7 asks.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Why a `Content-Digest` field is refused (400).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigestError {
    /// Not a structured-field dictionary.
    Malformed,
    /// `sha-256` is there, but not a byte sequence of 32 bytes.
    NotSha256,
}

impl std::fmt::Display for DigestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DigestError::Malformed => "Content-Digest is not a structured-field dictionary",
            DigestError::NotSha256 => "Content-Digest's sha-256 is not 32 bytes as :base64:",
        })
    }
}

/// The sha-256 a `Content-Digest` (or `Repr-Digest`) field names, if it names one.
pub fn sha256_in(field: &[u8]) -> Result<Option<Sha256Digest>, DigestError> {
    let members = Parser::new(field)
        .dictionary()
        .ok_or(DigestError::Malformed)?;
    match last(&members, SHA_256) {
        None => Ok(None),
        Some(Value::Bytes(bytes)) => bytes
            .as_slice()
            .try_into()
            .map(Some)
            .map_err(|_| DigestError::NotSha256),
        Some(_) => Err(DigestError::NotSha256),
    }
}

/// True when a `Want-Repr-Digest` field asks for sha-256 (a weight of 1 to
/// 10; 0 says "not that one"). A malformed field asks for nothing (RFC 9651
/// §4.2: a field that fails to parse is ignored).
pub fn wants_sha256(field: &[u8]) -> bool {
    Parser::new(field)
        .dictionary()
        .is_some_and(|members| matches!(last(&members, SHA_256), Some(Value::Integer(1..=10))))
}

/// The field value naming `digest`: `sha-256=:<base64>:`.
pub fn sha256_field(digest: &Sha256Digest) -> String {
    format!("sha-256=:{}:", BASE64.encode(digest))
}

/// A dictionary member's value, as far as these fields care.
#[derive(Debug, PartialEq, Eq)]
enum Value {
    Integer(i64),
    Bytes(Vec<u8>),
    /// Any other item, or an inner list.
    Other,
}

/// The value of `key`: the last member with it wins (RFC 9651 §3.2).
fn last<'v>(members: &'v [(&[u8], Value)], key: &[u8]) -> Option<&'v Value> {
    members
        .iter()
        .rev()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// RFC 9651 §4.2's parsing algorithms over a field's bytes; `None` is "fail parsing".
struct Parser<'a> {
    input: &'a [u8],
    at: usize,
}

impl<'a> Parser<'a> {
    fn new(input: &'a [u8]) -> Parser<'a> {
        Parser { input, at: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let matched = self.peek() == Some(byte);
        self.at += usize::from(matched);
        matched
    }

    fn skip_while(&mut self, keep: impl Fn(u8) -> bool) {
        while self.peek().is_some_and(&keep) {
            self.at += 1;
        }
    }

    /// §4.2 and §4.2.2: the whole field as a dictionary, members in order.
    fn dictionary(mut self) -> Option<Vec<(&'a [u8], Value)>> {
        let mut members = Vec::new();
        self.skip_while(|b| b == b' ');
        while self.peek().is_some() {
            let key = self.key()?;
            let value = if self.eat(b'=') {
                self.item_or_inner_list()?
            } else {
                // A bare key is the Boolean true, with parameters.
                self.parameters()?;
                Value::Other
            };
            members.push((key, value));
            self.skip_while(|b| b == b' ' || b == b'\t');
            if self.peek().is_none() {
                break;
            }
            if !self.eat(b',') {
                return None;
            }
            self.skip_while(|b| b == b' ' || b == b'\t');
            self.peek()?; // a trailing comma
        }
        Some(members)
    }

    /// §4.2.3.3.
    fn key(&mut self) -> Option<&'a [u8]> {
        let start = self.at;
        if !matches!(self.peek()?, b'a'..=b'z' | b'*') {
            return None;
        }
        self.skip_while(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' | b'*'));
        Some(&self.input[start..self.at])
    }

    /// §4.2.3.2: parameters are parsed and left out.
    fn parameters(&mut self) -> Option<()> {
        while self.eat(b';') {
            self.skip_while(|b| b == b' ');
            self.key()?;
            if self.eat(b'=') {
                self.bare_item()?;
            }
        }
        Some(())
    }

    /// §4.2.1.1 and §4.2.1.2.
    fn item_or_inner_list(&mut self) -> Option<Value> {
        if !self.eat(b'(') {
            let value = self.bare_item()?;
            self.parameters()?;
            return Some(value);
        }
        loop {
            self.skip_while(|b| b == b' ');
            if self.eat(b')') {
                self.parameters()?;
                return Some(Value::Other);
            }
            self.bare_item()?;
            self.parameters()?;
            if !matches!(self.peek()?, b' ' | b')') {
                return None;
            }
        }
    }

    /// §4.2.3.1.
    fn bare_item(&mut self) -> Option<Value> {
        match self.peek()? {
            b'-' | b'0'..=b'9' => self.number(),
            b'"' => self.string(),
            b'A'..=b'Z' | b'a'..=b'z' | b'*' => {
                self.skip_while(|b| is_token_byte(b) || b == b':' || b == b'/');
                Some(Value::Other)
            }
            b':' => self.byte_sequence(),
            b'?' => {
                self.at += 1;
                (self.eat(b'0') || self.eat(b'1')).then_some(Value::Other)
            }
            b'@' => {
                self.at += 1;
                matches!(self.number()?, Value::Integer(_)).then_some(Value::Other)
            }
            b'%' => {
                self.at += 1;
                self.display_string()
            }
            _ => None,
        }
    }

    /// §4.2.4: an Integer (up to 15 digits) or a Decimal (up to 12 digits,
    /// a dot, 1 to 3 digits).
    fn number(&mut self) -> Option<Value> {
        let negative = self.eat(b'-');
        let start = self.at;
        if !self.peek()?.is_ascii_digit() {
            return None;
        }
        let mut dot = None;
        while let Some(b) = self.peek() {
            match b {
                b'0'..=b'9' => {}
                b'.' if dot.is_none() && self.at - start <= 12 => dot = Some(self.at),
                b'.' => return None,
                _ => break,
            }
            self.at += 1;
            let len = self.at - start;
            if (dot.is_none() && len > 15) || len > 16 {
                return None;
            }
        }
        match dot {
            None => {
                let digits = std::str::from_utf8(&self.input[start..self.at]).ok()?;
                let n: i64 = digits.parse().ok()?;
                Some(Value::Integer(if negative { -n } else { n }))
            }
            Some(dot) => (1..=3)
                .contains(&(self.at - dot - 1))
                .then_some(Value::Other),
        }
    }

    /// §4.2.5.
    fn string(&mut self) -> Option<Value> {
        self.at += 1;
        loop {
            match self.peek()? {
                b'\\' => {
                    self.at += 1;
                    if !(self.eat(b'"') || self.eat(b'\\')) {
                        return None;
                    }
                }
                b'"' => {
                    self.at += 1;
                    return Some(Value::Other);
                }
                0x20..=0x7e => self.at += 1,
                _ => return None,
            }
        }
    }

    /// §4.2.7.
    fn byte_sequence(&mut self) -> Option<Value> {
        self.at += 1;
        let start = self.at;
        self.skip_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
        let encoded = &self.input[start..self.at];
        if !self.eat(b':') {
            return None;
        }
        BASE64.decode(encoded).ok().map(Value::Bytes)
    }

    /// §4.2.10: `%"…"`, lower-case `%xx` escapes, UTF-8 once decoded.
    fn display_string(&mut self) -> Option<Value> {
        if !self.eat(b'"') {
            return None;
        }
        let mut decoded = Vec::new();
        loop {
            match self.peek()? {
                b'%' => {
                    let hex = self.input.get(self.at + 1..self.at + 3)?;
                    if !hex.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                        return None;
                    }
                    decoded.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                    self.at += 3;
                }
                b'"' => {
                    self.at += 1;
                    return std::str::from_utf8(&decoded).ok().map(|_| Value::Other);
                }
                b @ 0x20..=0x7e => {
                    decoded.push(b);
                    self.at += 1;
                }
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sha-256 of `hello world`, as `:base64:` and as bytes.
    const HELLO_B64: &str = "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=";

    fn hello() -> Sha256Digest {
        BASE64.decode(HELLO_B64).unwrap().try_into().unwrap()
    }

    #[test]
    fn content_digest_names_its_sha256_whatever_else_it_lists() {
        let field = format!("sha-256=:{HELLO_B64}:");
        assert_eq!(sha256_in(field.as_bytes()), Ok(Some(hello())));
        assert_eq!(sha256_field(&hello()), field);
        // Other algorithms, parameters, odd spacing and unpadded base64 are fine.
        let listed = format!(
            "sha-512=:{}:,  sha-256=:{}:;p=1, unixsum=30637",
            "a".repeat(86),
            HELLO_B64.trim_end_matches('=')
        );
        assert_eq!(sha256_in(listed.as_bytes()), Ok(Some(hello())));
        // The last of two wins.
        let twice = format!("sha-256=:{}:, sha-256=:{HELLO_B64}:", "A".repeat(44));
        assert_eq!(sha256_in(twice.as_bytes()), Ok(Some(hello())));
        for without in ["", "sha-512=:AAAA:", "md5=:AAAA:, crc32c=:AAAA:"] {
            assert_eq!(sha256_in(without.as_bytes()), Ok(None), "{without:?}");
        }
    }

    #[test]
    fn a_malformed_content_digest_is_refused() {
        for malformed in [
            "sha-256",                       // no value is fine in a dictionary...
            "SHA-256=:AAAA:",                // ...but keys are lower case
            "sha-256=:AAAA",                 // unterminated byte sequence
            "sha-256=:AA!A:",                // not base64
            "sha-256=:AAAA:,",               // trailing comma
            "sha-256=:AAAA: sha-512=:AAAA:", // no comma
            "sha-256=:AAAA:;",               // a parameter without a key
            "=:AAAA:",
            "sha-256=\"open",
            "sha-256=1.2345",
            "sha-256=1234567890123456",
            "sha-256=(1 2",
            "sha-256=%\"%C3\"", // escapes are lower case
            "sha-256=?2",
            "sha-256=:AAAA:\u{1}",
        ] {
            let got = sha256_in(malformed.as_bytes());
            // A bare `sha-256` parses (it is `true`) but is no digest.
            let expected = if malformed == "sha-256" {
                DigestError::NotSha256
            } else {
                DigestError::Malformed
            };
            assert_eq!(got, Err(expected), "{malformed:?}");
        }
        for not_32_bytes in [
            "sha-256=:AAAA:",
            "sha-256=\"text\"",
            "sha-256=12",
            "sha-256=(:AAAA:)",
        ] {
            assert_eq!(
                sha256_in(not_32_bytes.as_bytes()),
                Err(DigestError::NotSha256),
                "{not_32_bytes:?}"
            );
        }
    }

    #[test]
    fn every_item_type_of_rfc_9651_parses() {
        let field = concat!(
            "a=1, b=-12.5, c=\"q\\\"s\\\\\", d=tok/en:x, e=:AQID:, f=?0, g=@1659578233, ",
            "h=%\"caf%c3%a9\", i=(1 \"x\";p;q=?1 :AA==:), j;k=2, *l=()"
        );
        let members = Parser::new(field.as_bytes()).dictionary().unwrap();
        let keys: Vec<&str> = members
            .iter()
            .map(|(k, _)| std::str::from_utf8(k).unwrap())
            .collect();
        assert_eq!(
            keys,
            ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "*l"]
        );
        assert_eq!(members[0].1, Value::Integer(1));
        assert_eq!(members[4].1, Value::Bytes(vec![1, 2, 3]));
        let others = members.iter().filter(|(_, v)| *v == Value::Other).count();
        assert_eq!(others, members.len() - 2);
    }

    #[test]
    fn want_repr_digest_asks_for_sha256_with_a_weight_above_zero() {
        for wanted in [
            "sha-256=1",
            "sha-256=5, sha-512=3",
            "sha-512=10, sha-256=10",
            "sha-256=3;q",
        ] {
            assert!(wants_sha256(wanted.as_bytes()), "{wanted:?}");
        }
        for unwanted in [
            "",
            "sha-256=0",
            "sha-512=3",
            "sha-256",    // true, not a weight
            "sha-256=11", // outside 0..=10
            "sha-256=-1",
            "sha-256=1.5",
            "sha-256=5,", // malformed: ignored whole
            "sha-256=5 x",
        ] {
            assert!(!wants_sha256(unwanted.as_bytes()), "{unwanted:?}");
        }
    }
}
