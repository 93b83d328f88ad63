//! Query strings: `a=1&b&c=x+y%21` into percent-decoded key/value pairs.

use percent_encoding::percent_decode;

/// A query entry's value: bytes, or `Bare` for a key with no `=`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueryValue {
    /// The decoded value after `=` (empty for `a=`).
    Bytes(Vec<u8>),
    /// The key stood alone (`a` in `a&b=1`).
    Bare,
}

/// Decodes `+` as a space and `%XX` escapes; invalid escapes stay as they are.
pub fn decode_component(raw: &[u8]) -> Vec<u8> {
    let spaced: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    percent_decode(&spaced).collect()
}

/// Every entry in order, keys and values decoded; empty segments (`a=1&&b`) are skipped.
pub fn parse(query: &str) -> impl Iterator<Item = (Vec<u8>, QueryValue)> + '_ {
    query
        .split('&')
        .filter(|segment| !segment.is_empty())
        .map(|segment| match segment.split_once('=') {
            Some((key, value)) => (
                decode_component(key.as_bytes()),
                QueryValue::Bytes(decode_component(value.as_bytes())),
            ),
            None => (decode_component(segment.as_bytes()), QueryValue::Bare),
        })
}

/// The first value for `key` (compared after decoding), as the seed's `query()` wants.
pub fn first(query: &str, key: &[u8]) -> Option<QueryValue> {
    parse(query).find(|(k, _)| k == key).map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_value_wins_and_bare_keys_are_flagged() {
        let q = "a=1&b&a=2&c=";
        assert_eq!(first(q, b"a"), Some(QueryValue::Bytes(b"1".to_vec())));
        assert_eq!(first(q, b"b"), Some(QueryValue::Bare));
        assert_eq!(first(q, b"c"), Some(QueryValue::Bytes(Vec::new())));
        assert_eq!(first(q, b"d"), None);
    }

    #[test]
    fn keys_and_values_are_percent_and_plus_decoded() {
        let q = "na%6De=hello+w%C3%B6rld%21&x%3Dy=1";
        assert_eq!(
            first(q, b"name"),
            Some(QueryValue::Bytes("hello wörld!".as_bytes().to_vec()))
        );
        assert_eq!(first(q, b"x=y"), Some(QueryValue::Bytes(b"1".to_vec())));
    }

    #[test]
    fn malformed_escapes_and_empty_segments_are_kept_or_skipped() {
        let entries: Vec<_> = parse("&&a=%zz%4&&b=%&").collect();
        assert_eq!(
            entries,
            vec![
                (b"a".to_vec(), QueryValue::Bytes(b"%zz%4".to_vec())),
                (b"b".to_vec(), QueryValue::Bytes(b"%".to_vec())),
            ]
        );
        assert_eq!(parse("").count(), 0);
    }

    #[test]
    fn only_the_first_equals_sign_splits() {
        assert_eq!(
            first("k=a=b", b"k"),
            Some(QueryValue::Bytes(b"a=b".to_vec()))
        );
    }
}
