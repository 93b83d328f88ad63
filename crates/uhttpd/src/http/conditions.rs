//! Entity tags and the preconditions that compare them (RFC 9110 §8.8.3,
//! §13.1): `If-Match` and `If-None-Match` on the requests that change a
//! file, and the tag lists the file server's `304` reads.

use super::request::RequestHead;

/// What a request's target is now, for its preconditions to compare with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Current<'a> {
    /// Nothing there (a GET would be 404).
    Absent,
    /// Something there, with the ETag a GET gives it (`None`: it has none, a directory).
    Present(Option<&'a str>),
}

/// A request's `If-Match` and `If-None-Match`, as sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preconditions {
    if_match: Option<String>,
    if_none_match: Option<String>,
}

impl Preconditions {
    /// The request's preconditions; `None` when it has none (nothing to look at).
    pub fn of(head: &RequestHead) -> Option<Preconditions> {
        // Several field lines of one name are one comma-separated list (RFC 9110 §5.3).
        let joined = |name: &str| Some(String::from_utf8_lossy(&head.combined(name)?).into_owned());
        let conditions = Preconditions {
            if_match: joined("if-match"),
            if_none_match: joined("if-none-match"),
        };
        (conditions.if_match.is_some() || conditions.if_none_match.is_some()).then_some(conditions)
    }

    /// True when the request may change its target (RFC 9110 §13.2.2, for
    /// methods other than GET and HEAD): `If-Match` must name the current
    /// ETag (strong comparison) or be `*` with something there;
    /// `If-None-Match` must not name it (weak comparison) nor be `*` with
    /// something there. Otherwise the answer is 412.
    pub fn hold(&self, current: Current<'_>) -> bool {
        let etag = match current {
            Current::Present(etag) => etag,
            Current::Absent => None,
        };
        let present = current != Current::Absent;
        if let Some(list) = &self.if_match {
            let matched = if is_any(list) {
                present
            } else {
                etag.is_some_and(|etag| list_names(list, etag, Comparison::Strong))
            };
            if !matched {
                return false;
            }
        }
        if let Some(list) = &self.if_none_match {
            let matched = if is_any(list) {
                present
            } else {
                etag.is_some_and(|etag| list_names(list, etag, Comparison::Weak))
            };
            if matched {
                return false;
            }
        }
        true
    }
}

/// How two entity tags are compared (RFC 9110 §8.8.3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    /// Both strong and the same opaque tag.
    Strong,
    /// The same opaque tag, either or both weak.
    Weak,
}

/// True when the field value is `*` (any current representation).
pub fn is_any(list: &str) -> bool {
    list.trim() == "*"
}

/// True when the comma-separated entity tags of `list` include `etag`, compared as `how` says.
pub fn list_names(list: &str, etag: &str, how: Comparison) -> bool {
    fn opaque(tag: &str) -> &str {
        tag.strip_prefix("W/").unwrap_or(tag)
    }
    let ours = opaque(etag);
    list.split(',').map(str::trim).any(|tag| match how {
        Comparison::Weak => opaque(tag) == ours,
        Comparison::Strong => tag == etag && !etag.starts_with("W/"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::{parse_head, HeadLimits};
    use bytes::BytesMut;

    fn conditions(fields: &str) -> Option<Preconditions> {
        let raw = format!("PUT /x HTTP/1.1\r\nHost: t\r\n{fields}\r\n");
        let mut buf = BytesMut::from(raw.as_bytes());
        let head = parse_head(&mut buf, &HeadLimits::default())
            .unwrap()
            .unwrap();
        Preconditions::of(&head)
    }

    const FILE: Current = Current::Present(Some("\"5-1a\""));
    const DIR: Current = Current::Present(None);

    #[test]
    fn no_precondition_field_means_nothing_to_check() {
        assert_eq!(conditions("X-Other: 1\r\n"), None);
    }

    #[test]
    fn if_match_needs_the_current_tag_strongly() {
        let c = conditions("If-Match: \"5-1a\"\r\n").unwrap();
        assert!(c.hold(FILE));
        assert!(!c.hold(Current::Present(Some("\"6-1a\""))));
        assert!(!c.hold(Current::Absent));
        assert!(!c.hold(DIR));
        // A weak tag never matches strongly, on either side.
        assert!(!conditions("If-Match: W/\"5-1a\"\r\n").unwrap().hold(FILE));
        // Any tag of a list, over several field lines.
        let c = conditions("If-Match: \"a\", \"5-1a\"\r\n").unwrap();
        assert!(c.hold(FILE));
        let c = conditions("If-Match: \"a\"\r\nIf-Match: \"5-1a\"\r\n").unwrap();
        assert!(c.hold(FILE));
    }

    #[test]
    fn if_match_any_needs_something_there() {
        let c = conditions("If-Match: *\r\n").unwrap();
        assert!(c.hold(FILE) && c.hold(DIR));
        assert!(!c.hold(Current::Absent));
    }

    #[test]
    fn if_none_match_any_is_create_only() {
        let c = conditions("If-None-Match: *\r\n").unwrap();
        assert!(c.hold(Current::Absent));
        assert!(!c.hold(FILE) && !c.hold(DIR));
    }

    #[test]
    fn if_none_match_refuses_the_current_tag_weakly() {
        let c = conditions("If-None-Match: W/\"5-1a\"\r\n").unwrap();
        assert!(!c.hold(FILE));
        assert!(c.hold(Current::Present(Some("\"6-1a\""))));
        assert!(c.hold(Current::Absent));
    }

    #[test]
    fn both_must_hold() {
        let c = conditions("If-Match: *\r\nIf-None-Match: \"5-1a\"\r\n").unwrap();
        assert!(!c.hold(FILE));
        assert!(c.hold(Current::Present(Some("\"6-1a\""))));
    }
}
