//! Access control: the seed's AUTH_OPEN / AUTH_BASIC / AUTH_CUSTOM.

use std::sync::Arc;

use crate::error::{Error, Result};

use subtle::ConstantTimeEq;

use crate::host::request::RequestInfo;

/// What a custom authenticator decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthDecision {
    /// Let the request through to its endpoint.
    Allow,
    /// Answer with this status (401 gets a `WWW-Authenticate` challenge).
    Deny(u16),
}

/// A blocking check run on a handler worker before any endpoint (AUTH_CUSTOM).
pub trait Authenticator: Send + Sync + 'static {
    /// Decides whether `request` may reach its endpoint; may block.
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

/// Logs that the authentication callback returned `shown` (the int as its
/// face prints it), which is no HTTP status: named, but a huge int does not
/// flood the log.
pub fn log_not_a_status(shown: &str) {
    let mut shown = shown.to_string();
    if shown.len() > 40 {
        let mut cut = 40;
        while !shown.is_char_boundary(cut) {
            cut -= 1;
        }
        shown.truncate(cut);
        shown.push('…');
    }
    log::error!(
        target: "uhttpd",
        "the authentication callback returned {shown}, which is not an HTTP status: the request is denied with {NOT_A_STATUS_DENIAL}"
    );
}

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

/// The seed's `acl` value for no authentication.
pub const AUTH_OPEN: i64 = 0;
/// The seed's `acl` value where `auth` is the whole `Authorization` value.
pub const AUTH_BASIC: i64 = 1;
/// The seed's `acl` value where `auth` is a function of the request.
pub const AUTH_CUSTOM: i64 = 2;

/// The seed's `auth=` argument, as a binding converts it.
pub enum SeedAuth {
    /// Not given.
    Absent,
    /// Bytes or text (the `Authorization` value for `AUTH_BASIC`).
    Value(Vec<u8>),
    /// A function of the request.
    Callback(Arc<dyn Authenticator>),
    /// Anything else, by its type name.
    Other(String),
}

/// How the server authenticates every request, before any endpoint.
#[derive(Clone, Default)]
pub enum Auth {
    /// No authentication (the default).
    #[default]
    Open,
    /// The whole expected `Authorization` value, e.g. `Basic YW5zd2VyOjQy`.
    /// Compared whole, in constant time; a mismatch is a 401 with a challenge.
    Basic(Vec<u8>),
    /// A blocking check of every request, run off the I/O threads.
    Custom(Arc<dyn Authenticator>),
}

impl Auth {
    /// The seed's `Server(acl=, auth=)`: `AUTH_OPEN` takes no `auth`,
    /// `AUTH_BASIC` the whole non-empty `Authorization` value, `AUTH_CUSTOM`
    /// a function; any other `acl` is refused.
    pub fn from_seed(acl: i64, auth: SeedAuth) -> Result<Auth> {
        let wrong = |m: &str| Err(Error::WrongKind(m.to_string()));
        let invalid = |m: &str| Err(Error::InvalidArgument(m.to_string()));
        match (acl, auth) {
            (AUTH_OPEN, SeedAuth::Absent) => Ok(Auth::Open),
            (AUTH_OPEN, _) => {
                invalid("auth is only used with acl=uhttpd.AUTH_BASIC or uhttpd.AUTH_CUSTOM")
            }
            (AUTH_BASIC, SeedAuth::Value(value)) if value.is_empty() => {
                invalid("auth must not be empty")
            }
            (AUTH_BASIC, SeedAuth::Value(value)) => Ok(Auth::Basic(value)),
            (AUTH_BASIC, SeedAuth::Callback(_)) => wrong(
                "AUTH_BASIC needs the whole Authorization value, e.g. b'Basic YW5zd2VyOjQy', not a function",
            ),
            (AUTH_BASIC, SeedAuth::Other(kind)) => Err(Error::WrongKind(format!(
                "auth (for AUTH_BASIC) must be bytes or str, got {kind}"
            ))),
            (AUTH_BASIC, SeedAuth::Absent) => invalid(
                "acl=uhttpd.AUTH_BASIC needs auth=, the whole Authorization value, e.g. b'Basic YW5zd2VyOjQy'",
            ),
            (AUTH_CUSTOM, SeedAuth::Callback(callback)) => Ok(Auth::Custom(callback)),
            (AUTH_CUSTOM, SeedAuth::Value(_)) => Err(Error::WrongKind(
                "auth (for AUTH_CUSTOM) must be callable, got bytes".to_string(),
            )),
            (AUTH_CUSTOM, SeedAuth::Other(kind)) => Err(Error::WrongKind(format!(
                "auth (for AUTH_CUSTOM) must be callable, got {kind}"
            ))),
            (AUTH_CUSTOM, SeedAuth::Absent) => {
                invalid("acl=uhttpd.AUTH_CUSTOM needs auth=, a function taking the Request")
            }
            _ => Err(Error::InvalidArgument(format!(
                "acl must be uhttpd.AUTH_OPEN, AUTH_BASIC or AUTH_CUSTOM, got {acl}"
            ))),
        }
    }
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
    fn the_seed_acl_and_auth_combinations() {
        let allow: Arc<dyn Authenticator> = Arc::new(|_: &Arc<RequestInfo>| AuthDecision::Allow);
        assert!(matches!(
            Auth::from_seed(AUTH_OPEN, SeedAuth::Absent),
            Ok(Auth::Open)
        ));
        assert!(matches!(
            Auth::from_seed(AUTH_BASIC, SeedAuth::Value(b"Basic x".to_vec())),
            Ok(Auth::Basic(v)) if v == b"Basic x"
        ));
        assert!(matches!(
            Auth::from_seed(AUTH_CUSTOM, SeedAuth::Callback(allow.clone())),
            Ok(Auth::Custom(_))
        ));
        let kinds = [
            (AUTH_OPEN, SeedAuth::Value(b"x".to_vec()), false),
            (AUTH_BASIC, SeedAuth::Absent, false),
            (AUTH_BASIC, SeedAuth::Value(Vec::new()), false),
            (AUTH_BASIC, SeedAuth::Callback(allow.clone()), true),
            (AUTH_BASIC, SeedAuth::Other("int".into()), true),
            (AUTH_CUSTOM, SeedAuth::Absent, false),
            (AUTH_CUSTOM, SeedAuth::Value(b"x".to_vec()), true),
            (AUTH_CUSTOM, SeedAuth::Other("int".into()), true),
            (3, SeedAuth::Absent, false),
        ];
        for (acl, auth, wrong_kind) in kinds {
            match Auth::from_seed(acl, auth) {
                Err(Error::WrongKind(_)) => assert!(wrong_kind, "acl {acl}"),
                Err(Error::InvalidArgument(_)) => assert!(!wrong_kind, "acl {acl}"),
                _ => panic!("acl {acl} accepted"),
            }
        }
    }

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
