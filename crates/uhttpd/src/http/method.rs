//! Request verbs as the bit flags the seed's API combines (`GET | POST`).

use std::fmt;
use std::ops::{BitOr, BitOrAssign};

/// A set of verbs. Values are the Python constants `uhttpd.GET` etc.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Methods(u32);

impl Methods {
    /// The empty set.
    pub const NONE: Methods = Methods(0);
    /// GET, which also answers HEAD.
    pub const GET: Methods = Methods(1);
    /// POST.
    pub const POST: Methods = Methods(2);
    /// DELETE.
    pub const DELETE: Methods = Methods(4);
    /// PUT.
    pub const PUT: Methods = Methods(8);
    /// PATCH.
    pub const PATCH: Methods = Methods(16);
    /// Every verb a route can register.
    pub const ALL: Methods = Methods(31);
    /// WebDAV's MOVE (RFC 4918): the uploader's rename, never a `route()` verb
    /// (outside [`Methods::ALL`], so no Python constant and no slot of its own).
    pub const MOVE: Methods = Methods(32);

    const NAMES: [(Methods, &'static str); 6] = [
        (Methods::GET, "GET"),
        (Methods::POST, "POST"),
        (Methods::DELETE, "DELETE"),
        (Methods::PUT, "PUT"),
        (Methods::PATCH, "PATCH"),
        (Methods::MOVE, "MOVE"),
    ];

    /// The set for these bits, or `None` if any bit is not a verb of [`Methods::ALL`].
    pub fn from_bits(bits: u32) -> Option<Methods> {
        (bits & !Methods::ALL.0 == 0).then_some(Methods(bits))
    }

    /// The set as the Python constants' bits (`GET | POST` is 3).
    pub fn bits(self) -> u32 {
        self.0
    }

    /// The single routable verb named by a request-line token (HEAD counts as GET).
    pub fn from_token(token: &str) -> Option<Methods> {
        if token == "HEAD" {
            return Some(Methods::GET);
        }
        Methods::NAMES
            .iter()
            .find(|(_, name)| *name == token)
            .map(|(m, _)| *m)
    }

    /// Every verb of `other` is in the set; never true for an empty `other`.
    pub fn contains(self, other: Methods) -> bool {
        self.0 & other.0 == other.0 && !other.is_empty()
    }

    /// The sets share at least one verb.
    pub fn intersects(self, other: Methods) -> bool {
        self.0 & other.0 != 0
    }

    /// No verb at all.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Number of verbs in the set (one route slot each).
    pub fn count(self) -> usize {
        self.0.count_ones() as usize
    }

    /// Each verb of the set with its name, in a fixed order.
    pub fn iter(self) -> impl Iterator<Item = (Methods, &'static str)> {
        Methods::NAMES
            .into_iter()
            .filter(move |(m, _)| self.intersects(*m))
    }

    /// The name of a single verb, e.g. `"GET"`.
    pub fn name(self) -> &'static str {
        self.iter().next().map_or("", |(_, name)| name)
    }

    /// Value of an `Allow` header for a path routed with these verbs
    /// (HEAD with GET, OPTIONS always).
    pub fn allow_header(self) -> String {
        let mut names: Vec<&str> = Vec::new();
        for (m, name) in self.iter() {
            names.push(name);
            if m == Methods::GET {
                names.push("HEAD");
            }
        }
        names.push("OPTIONS");
        names.join(", ")
    }
}

impl BitOr for Methods {
    type Output = Methods;
    fn bitor(self, rhs: Methods) -> Methods {
        Methods(self.0 | rhs.0)
    }
}

impl BitOrAssign for Methods {
    fn bitor_assign(&mut self, rhs: Methods) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for Methods {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(|(_, n)| n).collect();
        write!(f, "Methods({})", names.join("|"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_map_to_verbs_and_head_is_get() {
        assert_eq!(Methods::from_token("GET"), Some(Methods::GET));
        assert_eq!(Methods::from_token("HEAD"), Some(Methods::GET));
        assert_eq!(Methods::from_token("PATCH"), Some(Methods::PATCH));
        assert_eq!(Methods::from_token("MOVE"), Some(Methods::MOVE));
        assert_eq!(Methods::from_token("get"), None);
        assert_eq!(Methods::from_token("TRACE"), None);
    }

    #[test]
    fn allow_header_lists_head_with_get_and_always_options() {
        assert_eq!(
            (Methods::GET | Methods::DELETE).allow_header(),
            "GET, HEAD, DELETE, OPTIONS"
        );
        assert_eq!(Methods::NONE.allow_header(), "OPTIONS");
    }

    #[test]
    fn bits_outside_the_verbs_are_rejected() {
        assert_eq!(Methods::from_bits(3), Some(Methods::GET | Methods::POST));
        assert_eq!(Methods::from_bits(64), None);
        // MOVE is the uploader's, not a route()'s.
        assert_eq!(Methods::from_bits(Methods::MOVE.bits()), None);
        assert_eq!((Methods::GET | Methods::PUT).count(), 2);
        assert!(!Methods::GET.contains(Methods::NONE));
    }
}
