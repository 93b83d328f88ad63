//! Access control: the seed's AUTH_OPEN / AUTH_BASIC / AUTH_CUSTOM.

use std::sync::Arc;

use subtle::ConstantTimeEq;

use crate::exchange::RequestInfo;

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
    fn basic_needs_the_exact_whole_value() {
        let expected = b"Basic YW5zd2VyOjQy";
        assert!(basic_matches(expected, Some(b"Basic YW5zd2VyOjQy")));
        assert!(!basic_matches(expected, Some(b"Basic YW5zd2VyOjQz")));
        assert!(!basic_matches(expected, Some(b"Basic YW5zd2VyOjQ")));
        assert!(!basic_matches(expected, Some(b"basic YW5zd2VyOjQy")));
        assert!(!basic_matches(expected, None));
    }
}
