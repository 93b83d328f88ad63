//! Access control: the seed's AUTH_OPEN / AUTH_BASIC / AUTH_CUSTOM.

use std::sync::Arc;

use subtle::ConstantTimeEq;

use crate::host::request::RequestInfo;

/// What a custom authenticator decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthDecision {
    Allow,
    /// Answer with this status (401 gets a `WWW-Authenticate` challenge).
    Deny(u16),
}

/// A blocking check run on a handler worker before any endpoint (AUTH_CUSTOM).
pub trait Authenticator: Send + Sync + 'static {
    fn authenticate(&self, request: &Arc<RequestInfo>) -> AuthDecision;
}

impl<F> Authenticator for F
where
    F: Fn(&Arc<RequestInfo>) -> AuthDecision + Send + Sync + 'static,
{
    fn authenticate(&self, request: &Arc<RequestInfo>) -> AuthDecision {
        self(request)
    }
}

/// What an AUTH_CUSTOM callback returned, as a binding converts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CustomVerdict {
    /// An integer (a bool is not one): its value, or `None` when it does not
    /// fit in an `i64` (such as `10**30`).
    Int(Option<i64>),
    /// Any other value, by its truth value.
    Other(bool),
}

/// Status for a verdict that is an integer but no HTTP status: a bug in the
/// callback, which must not let the request through.
pub const NOT_A_STATUS_DENIAL: u16 = 500;

impl CustomVerdict {
    /// An integer that cannot be a status (negative, 600 or more, or too
    /// big to convert); the binding logs these, naming the value.
    pub fn is_not_a_status(self) -> bool {
        match self {
            CustomVerdict::Int(Some(n)) => !(0..600).contains(&n),
            CustomVerdict::Int(None) => true,
            CustomVerdict::Other(_) => false,
        }
    }

    /// The rule: a truthy non-int allows; an int 400–599 is the answer; an
    /// int that is no status is a 500; 0 and every falsy value are 401; an
    /// int 1–399 (truthy) allows. Nothing out of range allows.
    pub fn decision(self) -> AuthDecision {
        match self {
            _ if self.is_not_a_status() => AuthDecision::Deny(NOT_A_STATUS_DENIAL),
            CustomVerdict::Int(Some(n @ 400..=599)) => AuthDecision::Deny(n as u16),
            CustomVerdict::Int(Some(1..=399)) | CustomVerdict::Other(true) => AuthDecision::Allow,
            CustomVerdict::Int(_) | CustomVerdict::Other(false) => AuthDecision::Deny(401),
        }
    }
}

#[derive(Clone, Default)]
pub enum Auth {
    #[default]
    Open,
    /// The whole expected `Authorization` value, e.g. `Basic YW5zd2VyOjQy`.
    Basic(Vec<u8>),
    Custom(Arc<dyn Authenticator>),
}

/// Compares the whole header value in time that depends only on the lengths,
/// so a client cannot find the password byte by byte.
pub fn basic_matches(expected: &[u8], given: Option<&[u8]>) -> bool {
    given.is_some_and(|given| bool::from(expected.ct_eq(given)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_verdicts_that_are_no_status_never_allow() {
        use CustomVerdict::{Int, Other};
        for n in [600, 999, 1000, 65536, i64::MAX, -1, -401, i64::MIN] {
            assert!(Int(Some(n)).is_not_a_status(), "{n}");
            assert_eq!(Int(Some(n)).decision(), AuthDecision::Deny(500), "{n}");
        }
        assert!(Int(None).is_not_a_status());
        assert_eq!(Int(None).decision(), AuthDecision::Deny(500));
        for n in [400, 401, 403, 451, 500, 503, 599] {
            assert_eq!(Int(Some(n)).decision(), AuthDecision::Deny(n as u16));
            assert!(!Int(Some(n)).is_not_a_status());
        }
        for n in [1, 200, 399] {
            assert_eq!(Int(Some(n)).decision(), AuthDecision::Allow, "{n}");
        }
        assert_eq!(Int(Some(0)).decision(), AuthDecision::Deny(401));
        assert!(!Int(Some(0)).is_not_a_status());
        assert_eq!(Other(true).decision(), AuthDecision::Allow);
        assert_eq!(Other(false).decision(), AuthDecision::Deny(401));
        assert!(!Other(true).is_not_a_status());
    }

    #[test]
    fn basic_needs_the_exact_whole_value() {
        let expected = b"Basic YW5zd2VyOjQy";
        assert!(basic_matches(expected, Some(b"Basic YW5zd2VyOjQy")));
        assert!(!basic_matches(expected, Some(b"Basic YW5zd2VyOjQz")));
        assert!(!basic_matches(expected, Some(b"Basic YW5zd2VyOjQ")));
        assert!(!basic_matches(expected, Some(b"basic YW5zd2VyOjQy")));
        assert!(!basic_matches(expected, None));
    }
}
