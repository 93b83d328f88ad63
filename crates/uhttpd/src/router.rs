//! Route table: esp_http_server's wildcard patterns, first registered first
//! probed, shadowed routes refused, and a fixed number of slots as the seed counts them.

use crate::{Error, Methods, Result};

/// A URL template with esp_http_server's wildcard rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    raw: String,
    /// What every matching path starts with.
    mandatory: String,
    /// The character a trailing `?` makes optional.
    optional: Option<char>,
    /// A trailing `*`: any rest.
    star: bool,
}

impl Pattern {
    pub fn parse(raw: &str) -> Result<Pattern> {
        let invalid = |why| {
            Err(Error::InvalidPattern {
                pattern: raw.to_owned(),
                why,
            })
        };
        if raw.is_empty() {
            return invalid("empty pattern");
        }
        if raw.chars().any(|c| c == ' ' || c.is_ascii_control()) {
            return invalid("contains a space or a control character");
        }
        // The same suffix tests as httpd_uri_match_wildcard.
        let (rest, star, quest) =
            if let Some(rest) = raw.strip_suffix("?*").or_else(|| raw.strip_suffix("*?")) {
                (rest, true, true)
            } else if let Some(rest) = raw.strip_suffix('*') {
                (rest, true, false)
            } else if let Some(rest) = raw.strip_suffix('?') {
                (rest, false, true)
            } else {
                (raw, false, false)
            };
        let (mandatory, optional) = if quest {
            match rest.char_indices().next_back() {
                Some((at, c)) => (&rest[..at], Some(c)),
                None => return invalid("'?' needs a character before it"),
            }
        } else {
            (rest, None)
        };
        if !raw.starts_with('/') {
            return invalid("must start with '/'");
        }
        if mandatory.contains(['?', '*']) || matches!(optional, Some('?' | '*')) {
            return invalid("'?' and '*' are special only as a trailing *, ?, ?* or *?");
        }
        Ok(Pattern {
            raw: raw.to_owned(),
            mandatory: mandatory.to_owned(),
            optional,
            star,
        })
    }

    pub fn matches(&self, path: &str) -> bool {
        let Some(rest) = path.strip_prefix(self.mandatory.as_str()) else {
            return false;
        };
        match (self.optional, self.star) {
            (None, false) => rest.is_empty(),
            (None, true) => true,
            (Some(c), false) => rest.is_empty() || rest.strip_prefix(c) == Some(""),
            (Some(c), true) => rest.is_empty() || rest.starts_with(c),
        }
    }

    /// True when every path `other` matches is also matched by `self`.
    pub fn covers(&self, other: &Pattern) -> bool {
        let (exact, prefix) = other.language();
        // An infinite `S.*` fits in a finite set plus `P.*` only when S starts with P.
        exact.iter().all(|s| self.matches(s))
            && prefix.is_none_or(|s| self.language().1.is_some_and(|p| s.starts_with(&p)))
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The matched paths as exact strings plus at most one prefix set (`prefix.*`).
    fn language(&self) -> (Vec<String>, Option<String>) {
        let m = self.mandatory.clone();
        match (self.optional, self.star) {
            (None, false) => (vec![m], None),
            (None, true) => (Vec::new(), Some(m)),
            (Some(c), false) => (vec![format!("{m}{c}"), m], None),
            (Some(c), true) => (vec![m.clone()], Some(format!("{m}{c}"))),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Route<T> {
    pub pattern: Pattern,
    pub methods: Methods,
    /// May decline a request (the REPL websocket at `/`), so it never shadows later routes.
    pub fallthrough: bool,
    pub target: T,
}

#[derive(Debug)]
pub enum Match<'a, T> {
    Found(&'a Route<T>),
    /// The path matched but not the verb: the verbs that did match it.
    MethodNotAllowed(Methods),
    NotFound,
}

#[derive(Debug)]
pub struct Router<T> {
    capacity: usize,
    routes: Vec<Route<T>>,
    /// What each route is called in the accounting and the slots it took, by route.
    uses: Vec<(String, usize)>,
}

impl<T> Router<T> {
    /// `capacity` total slots; one is reserved for OPTIONS at once.
    pub fn new(capacity: usize) -> Result<Router<T>> {
        if capacity == 0 {
            return Err(Error::InvalidArgument(
                "routes must be at least 1: one slot is always used by OPTIONS".to_owned(),
            ));
        }
        Ok(Router {
            capacity,
            routes: Vec::new(),
            uses: Vec::new(),
        })
    }

    /// Registers a route using `slots` slots. `label` names the feature in errors and
    /// the accounting; a `"route"` is also shown with its verbs (one slot each).
    /// A `fallthrough` route may decline a request, so it never shadows later routes.
    pub fn add(
        &mut self,
        label: &str,
        pattern: &str,
        methods: Methods,
        slots: usize,
        fallthrough: bool,
        target: T,
    ) -> Result<()> {
        let pattern = Pattern::parse(pattern)?;
        if methods.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "no verbs given for {label} {}",
                pattern.as_str()
            )));
        }
        for (verb, name) in methods.iter() {
            if let Some(earlier) = self
                .routes
                .iter()
                .find(|r| !r.fallthrough && r.methods.contains(verb) && r.pattern.covers(&pattern))
            {
                return Err(Error::Shadowed {
                    new: pattern.raw,
                    earlier: earlier.pattern.raw.clone(),
                    method: name,
                });
            }
        }
        let what = if label == "route" {
            let verbs: Vec<&str> = methods.iter().map(|(_, name)| name).collect();
            format!("{label} {} {}", pattern.as_str(), verbs.join("|"))
        } else {
            format!("{label} {}", pattern.as_str())
        };
        if slots > self.free_slots() {
            return Err(Error::NoSlots {
                what,
                needed: slots,
                accounting: self.accounting(),
            });
        }
        self.uses.push((what, slots));
        self.routes.push(Route {
            pattern,
            methods,
            fallthrough,
            target,
        });
        Ok(())
    }

    /// First registered, first probed, among routes whose pattern matches `path` and
    /// that `accept` (a route it refuses is treated as not matching at all).
    pub fn find(
        &self,
        path: &str,
        method: Methods,
        accept: impl Fn(&Route<T>) -> bool,
    ) -> Match<'_, T> {
        let mut allowed = Methods::NONE;
        for route in self
            .routes
            .iter()
            .filter(|r| r.pattern.matches(path) && accept(r))
        {
            if route.methods.contains(method) {
                return Match::Found(route);
            }
            allowed |= route.methods;
        }
        if allowed.is_empty() {
            Match::NotFound
        } else {
            Match::MethodNotAllowed(allowed)
        }
    }

    /// Union of the verbs of every route matching `path` (for OPTIONS / Allow).
    pub fn allowed(&self, path: &str) -> Methods {
        self.routes
            .iter()
            .filter(|r| r.pattern.matches(path))
            .fold(Methods::NONE, |all, r| all | r.methods)
    }

    /// Union of all registered verbs (for `OPTIONS *`).
    pub fn all_methods(&self) -> Methods {
        self.routes
            .iter()
            .fold(Methods::NONE, |all, r| all | r.methods)
    }

    #[cfg(test)]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn free_slots(&self) -> usize {
        self.capacity - 1 - self.uses.iter().map(|(_, n)| n).sum::<usize>()
    }

    /// e.g. "8 slots: OPTIONS 1, route /my GET 1, serve /* 1, ws /ws 1; 4 free".
    pub fn accounting(&self) -> String {
        let mut parts = vec!["OPTIONS 1".to_owned()];
        parts.extend(self.uses.iter().map(|(what, n)| format!("{what} {n}")));
        format!(
            "{} slots: {}; {} free",
            self.capacity,
            parts.join(", "),
            self.free_slots()
        )
    }

    #[cfg(test)]
    pub fn routes(&self) -> &[Route<T>] {
        &self.routes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GET: Methods = Methods::GET;
    const POST: Methods = Methods::POST;
    const PUT: Methods = Methods::PUT;
    const DELETE: Methods = Methods::DELETE;

    fn pat(raw: &str) -> Pattern {
        Pattern::parse(raw).unwrap_or_else(|e| panic!("{raw:?}: {e}"))
    }

    fn check(raw: &str, yes: &[&str], no: &[&str]) {
        let p = pat(raw);
        for path in yes {
            assert!(p.matches(path), "{raw:?} should match {path:?}");
        }
        for path in no {
            assert!(!p.matches(path), "{raw:?} should not match {path:?}");
        }
    }

    #[test]
    fn plain_pattern_matches_exactly() {
        check("/api", &["/api"], &["/api/", "/ap", "/apix", "", "/API"]);
        check("/", &["/"], &["", "/a", "//"]);
        check("/a/b.html", &["/a/b.html"], &["/a/b.htm", "/a/b.html/"]);
    }

    #[test]
    fn star_matches_the_mandatory_prefix() {
        check(
            "/api/*",
            &["/api/", "/api/x", "/api/x/y"],
            &["/api", "/apix", "/ap"],
        );
        check("/*", &["/", "/a", "/a/b/c"], &["", "a"]);
        check("/api*", &["/api", "/apix", "/api/x"], &["/ap", "/ap/"]);
    }

    #[test]
    fn quest_makes_the_preceding_char_optional() {
        check(
            "/api/?",
            &["/api", "/api/"],
            &["/api/x", "/apix", "/ap", "/api//"],
        );
        check("/?", &["", "/"], &["/a", "//", "a"]);
        check("/apix?", &["/api", "/apix"], &["/apixx", "/apiy", "/ap"]);
    }

    #[test]
    fn quest_and_star_in_either_order() {
        for raw in ["/api/?*", "/api/*?"] {
            check(
                raw,
                &["/api", "/api/", "/api/x", "/api/x/y"],
                &["/apix", "/ap", "", "/"],
            );
        }
        for raw in ["/?*", "/*?"] {
            check(raw, &["", "/", "/a", "//x"], &["a", "x/"]);
        }
    }

    #[test]
    fn accessors() {
        let p = pat("/api/?*");
        assert_eq!(p.as_str(), "/api/?*");
        assert_eq!(pat("/x"), pat("/x"));
        assert_ne!(pat("/x?*"), pat("/x*?"));
    }

    #[test]
    fn invalid_patterns_are_refused() {
        for raw in [
            "", "api", "?", "*", "?*", "*?", "a?", "a*", "/a*b", "/*/x", "/a**", "/a??", "/a?b",
            "/a*?*", "/a?*?", "/?/", "/a b", " /a", "/a\0", "/a\r", "/a\n", "/a\t", "/a*b*",
        ] {
            match Pattern::parse(raw) {
                Err(Error::InvalidPattern { pattern, why }) => {
                    assert_eq!(pattern, raw);
                    assert!(!why.is_empty());
                }
                other => panic!("{raw:?} gave {other:?}"),
            }
        }
        let message = Pattern::parse("/a*b").unwrap_err().to_string();
        assert!(message.contains("\"/a*b\""), "{message}");
    }

    #[test]
    fn unicode_before_quest_is_one_optional_char() {
        check("/café?", &["/caf", "/café"], &["/cafe", "/caféé"]);
    }

    #[test]
    fn covers_by_hand() {
        let cases = [
            ("/a", "/a", true),
            ("/a", "/b", false),
            ("/a/*", "/a/x", true),
            ("/a/x", "/a/*", false),
            ("/a/*", "/a/x/*", true),
            ("/a/x/*", "/a/*", false),
            ("/a/*", "/a", false),
            ("/a/*", "/a/?", false),
            ("/a/*", "/a/?*", false),
            ("/a/?*", "/a/*", true),
            ("/a/?*", "/a", true),
            ("/a/?*", "/a/", true),
            ("/a/?*", "/a/?", true),
            ("/a/?*", "/a/*?", true),
            ("/a/*?", "/a/?*", true),
            ("/a/?*", "/ax", false),
            ("/a/?*", "/a*", false),
            ("/a*", "/a/?*", true),
            ("/a*", "/a/?", true),
            ("/a*", "/a", true),
            ("/a/?", "/a", true),
            ("/a/?", "/a/", true),
            ("/a/?", "/a/?", true),
            ("/a/?", "/a/?*", false),
            ("/a", "/a/?", false),
            ("/*", "/?*", false),
            ("/?*", "/*", true),
            ("/?*", "/?", true),
            ("/*", "/anything/at/all*", true),
            ("/*", "/", true),
            ("/x/*", "/*", false),
        ];
        for (a, b, want) in cases {
            assert_eq!(pat(a).covers(&pat(b)), want, "{a:?} covers {b:?}");
        }
    }

    fn all_paths(max_len: usize) -> Vec<String> {
        let mut paths = vec![String::new()];
        let mut last = vec![String::new()];
        for _ in 0..max_len {
            last = last
                .iter()
                .flat_map(|p| ['/', 'a', 'p', 'i', 'x'].map(|c| format!("{p}{c}")))
                .collect();
            paths.extend(last.iter().cloned());
        }
        paths
    }

    #[test]
    fn covers_agrees_with_brute_force() {
        // Short enough that a path of length 5 shows any difference (mandatory
        // part plus optional char plus two chars), so both directions are checked.
        let patterns: Vec<Pattern> = [
            "/", "/a", "/ap", "//", "/x", "/*", "/a*", "/ap*", "//*", "/?", "/a?", "/ap?", "//?",
            "/x?", "/?*", "/*?", "/a?*", "/a*?", "/ap?*", "//?*", "/x?*", "/p", "/p*", "/p?",
            "/i?*", "/a/", "/a/*", "/a/?", "/a/?*", "/a/*?", "/ai", "/ai*",
        ]
        .iter()
        .map(|r| pat(r))
        .collect();
        let paths = all_paths(5);
        assert!(paths.len() > 3000);
        for a in &patterns {
            for b in &patterns {
                let witness = paths.iter().find(|p| b.matches(p) && !a.matches(p));
                assert_eq!(
                    a.covers(b),
                    witness.is_none(),
                    "{:?} covers {:?}; witness {witness:?}",
                    a.as_str(),
                    b.as_str()
                );
            }
        }
    }

    fn router() -> Router<&'static str> {
        Router::new(16).unwrap()
    }

    fn found<'a>(m: Match<'a, &'static str>) -> &'static str {
        match m {
            Match::Found(r) => r.target,
            Match::MethodNotAllowed(v) => panic!("405 {v:?}"),
            Match::NotFound => panic!("404"),
        }
    }

    #[test]
    fn first_registered_is_first_probed() {
        let mut r = router();
        r.add("route", "/api/x", GET, 1, false, "x").unwrap();
        r.add("route", "/api/*", GET, 1, false, "any").unwrap();
        r.add("serve", "/*", GET, 1, false, "files").unwrap();
        assert_eq!(found(r.find("/api/x", GET, |_| true)), "x");
        assert_eq!(found(r.find("/api/y", GET, |_| true)), "any");
        assert_eq!(found(r.find("/api", GET, |_| true)), "files");
        assert_eq!(found(r.find("/", GET, |_| true)), "files");
    }

    #[test]
    fn verb_mismatch_is_405_with_union_else_404() {
        let mut r = router();
        r.add("route", "/a", GET | POST, 2, false, "a").unwrap();
        r.add("route", "/a*", PUT, 1, false, "put").unwrap();
        r.add("route", "/b", DELETE, 1, false, "b").unwrap();
        assert_eq!(found(r.find("/a", POST, |_| true)), "a");
        assert_eq!(found(r.find("/a", PUT, |_| true)), "put");
        match r.find("/a", DELETE, |_| true) {
            Match::MethodNotAllowed(v) => assert_eq!(v, GET | POST | PUT),
            other => panic!("{other:?}"),
        }
        match r.find("/ab", GET, |_| true) {
            Match::MethodNotAllowed(v) => assert_eq!(v, PUT),
            other => panic!("{other:?}"),
        }
        assert!(matches!(r.find("/c", GET, |_| true), Match::NotFound));
        assert!(matches!(
            r.find("/a", Methods::NONE, |_| true),
            Match::MethodNotAllowed(_)
        ));
        assert_eq!(r.allowed("/a"), GET | POST | PUT);
        assert_eq!(r.allowed("/b"), DELETE);
        assert_eq!(r.allowed("/c"), Methods::NONE);
        assert_eq!(r.all_methods(), GET | POST | PUT | DELETE);
        assert_eq!(Router::<()>::new(1).unwrap().all_methods(), Methods::NONE);
    }

    #[test]
    fn refused_route_counts_as_not_matching() {
        let mut r = router();
        r.add("ws", "/", GET, 1, true, "repl").unwrap();
        r.add("route", "/", GET, 1, false, "index").unwrap();
        r.add("route", "/only-post", POST, 1, false, "post")
            .unwrap();
        assert_eq!(found(r.find("/", GET, |_| true)), "repl");
        assert_eq!(found(r.find("/", GET, |rt| rt.target != "repl")), "index");
        assert!(matches!(r.find("/", GET, |_| false), Match::NotFound));
        // A refused route's verbs are not in the 405's Allow either.
        assert!(matches!(
            r.find("/only-post", GET, |rt| rt.target != "post"),
            Match::NotFound
        ));
    }

    fn shadowed(
        r: &mut Router<&'static str>,
        pattern: &str,
        methods: Methods,
    ) -> (String, String, &'static str) {
        match r.add("route", pattern, methods, 1, false, "new") {
            Err(Error::Shadowed {
                new,
                earlier,
                method,
            }) => (new, earlier, method),
            other => panic!("{pattern}: {other:?}"),
        }
    }

    #[test]
    fn shadowed_routes_are_refused() {
        let mut r = router();
        r.add("route", "/api/*", GET, 1, false, "any").unwrap();
        r.add("route", "/x", GET | POST, 2, false, "x").unwrap();
        r.add("route", "/z", PUT, 1, false, "z").unwrap();
        assert_eq!(
            shadowed(&mut r, "/api/x", GET),
            ("/api/x".to_owned(), "/api/*".to_owned(), "GET")
        );
        assert_eq!(
            shadowed(&mut r, "/x", POST),
            ("/x".to_owned(), "/x".to_owned(), "POST")
        );
        // The verb named is the one that collides, not the first of the new route.
        assert_eq!(
            shadowed(&mut r, "/z", POST | PUT),
            ("/z".to_owned(), "/z".to_owned(), "PUT")
        );
        assert_eq!(shadowed(&mut r, "/api/y/*", GET | PUT).1, "/api/*");
        let message = r
            .add("route", "/api/z", GET, 1, false, "z")
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("/api/z") && message.contains("/api/*"),
            "{message}"
        );
        // Not covered, or another verb: fine.
        r.add("route", "/api/?*", GET, 1, false, "wider").unwrap();
        r.add("route", "/api/x", POST, 1, false, "post").unwrap();
        r.add("route", "/x?", GET, 1, false, "x?").unwrap();
        assert_eq!(r.routes().len(), 6);
    }

    #[test]
    fn specific_route_after_general_one_is_shadowed_but_not_before() {
        let mut r = router();
        r.add("route", "/api/x", GET, 1, false, "x").unwrap();
        r.add("route", "/api/*", GET, 1, false, "any").unwrap();
        assert_eq!(shadowed(&mut r, "/api/x", GET).1, "/api/x");
        assert_eq!(shadowed(&mut r, "/api/y", GET).1, "/api/*");
    }

    #[test]
    fn fallthrough_routes_shadow_nothing_but_can_be_shadowed() {
        let mut r = router();
        r.add("ws", "/", GET, 1, true, "repl").unwrap();
        r.add("route", "/", GET, 1, false, "index").unwrap();
        match r.add("ws", "/", GET, 1, true, "repl2") {
            Err(Error::Shadowed { earlier, .. }) => assert_eq!(earlier, "/"),
            other => panic!("{other:?}"),
        }
        assert_eq!(r.routes().len(), 2);
        assert!(r.routes()[0].fallthrough && !r.routes()[1].fallthrough);
    }

    #[test]
    fn slots_are_counted_and_exhaustion_shows_the_accounting() {
        let mut r: Router<()> = Router::new(8).unwrap();
        assert_eq!(r.capacity(), 8);
        assert_eq!(r.free_slots(), 7);
        assert_eq!(r.accounting(), "8 slots: OPTIONS 1; 7 free");
        r.add("route", "/my", GET, 1, false, ()).unwrap();
        r.add("serve", "/s/*", GET, 1, false, ()).unwrap();
        r.add("ws", "/ws", GET, 1, false, ()).unwrap();
        assert_eq!(r.free_slots(), 4);
        assert_eq!(
            r.accounting(),
            "8 slots: OPTIONS 1, route /my GET 1, serve /s/* 1, ws /ws 1; 4 free"
        );
        r.add("receive", "/up", POST | PUT, 2, false, ()).unwrap();
        match r.add("route", "/more", GET | POST | DELETE, 3, false, ()) {
            Err(Error::NoSlots {
                what,
                needed,
                accounting,
            }) => {
                assert_eq!(what, "route /more GET|POST|DELETE");
                assert_eq!(needed, 3);
                assert_eq!(
                    accounting,
                    "8 slots: OPTIONS 1, route /my GET 1, serve /s/* 1, ws /ws 1, receive /up 2; 2 free"
                );
            }
            other => panic!("{other:?}"),
        }
        let message = r
            .add("event", "/events", GET, 3, false, ())
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("event /events") && message.contains("2 free"),
            "{message}"
        );
        // The failed adds took nothing; an exact fit does.
        r.add("route", "/last", GET | POST, 2, false, ()).unwrap();
        assert_eq!(r.free_slots(), 0);
        assert!(r.accounting().ends_with("route /last GET|POST 2; 0 free"));
        assert!(matches!(
            r.add("route", "/none", GET, 1, false, ()),
            Err(Error::NoSlots { .. })
        ));
        assert_eq!(r.routes().len(), 5);
    }

    #[test]
    fn capacity_zero_and_no_verbs_are_invalid_arguments() {
        assert!(matches!(
            Router::<()>::new(0),
            Err(Error::InvalidArgument(_))
        ));
        let mut r: Router<()> = Router::new(1).unwrap();
        assert_eq!(r.free_slots(), 0);
        match r.add("route", "/a", Methods::NONE, 0, false, ()) {
            Err(Error::InvalidArgument(m)) => assert!(m.starts_with("no verbs"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn pattern_is_checked_before_shadowing_before_slots() {
        let mut r: Router<()> = Router::new(2).unwrap();
        r.add("route", "/*", GET, 1, false, ()).unwrap();
        assert!(matches!(
            r.add("route", "/a*b", GET, 5, false, ()),
            Err(Error::InvalidPattern { .. })
        ));
        assert!(matches!(
            r.add("route", "/a", GET, 5, false, ()),
            Err(Error::Shadowed { .. })
        ));
        assert!(matches!(
            r.add("route", "/a", POST, 5, false, ()),
            Err(Error::NoSlots { .. })
        ));
    }
}
