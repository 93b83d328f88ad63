//! Device paths: what a URL or a program names, parsed so that it can only
//! walk down from the device's `/`. Parsing refuses any component that could
//! name something other than a plain child (`.`, `..`, separators, NUL,
//! control characters, drive letters).

use std::fmt;

/// Longest accepted path, in bytes (raw, before percent-decoding).
pub const MAX_PATH_LEN: usize = 4096;
/// Longest accepted component, in bytes after decoding (NAME_MAX on most filesystems).
pub const MAX_COMPONENT_LEN: usize = 255;

/// Why a path was refused. `Hostile` → 400; `NotFound` → 404 (also used for
/// symlinks leaving root, so nothing leaks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathError {
    /// The path could name something other than a plain child; says why.
    Hostile(&'static str),
    /// Nothing there, or nothing the client may learn about.
    NotFound,
}

/// A normalized absolute device path: components without '/', '\\', NUL,
/// control chars, "." or "..", and whether it ended with '/'.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VirtualPath {
    /// The components joined with '/', no leading or trailing one ("www/x.txt";
    /// empty for root): one allocation per path, and already the relative
    /// path the kernel resolves beneath root.
    text: String,
    // Always true when `text` is empty: root is a directory.
    dir: bool,
}

impl VirtualPath {
    /// "/".
    pub fn root() -> VirtualPath {
        VirtualPath {
            text: String::new(),
            dir: true,
        }
    }

    /// A URL path (raw, percent-encoded, must start with '/'): split on '/'
    /// first, then percent-decode each component once, so `%2F` is a hostile
    /// separator inside a component and `%252e%252e` is the literal name `%2e%2e`.
    pub fn from_url(raw: &str) -> Result<VirtualPath, PathError> {
        if !raw.starts_with('/') {
            return Err(PathError::Hostile("path must start with '/'"));
        }
        Self::parse(raw, true)
    }

    /// A device path as a program writes it (no percent-decoding): "/lib/x.py",
    /// or relative "main.py" meaning "/main.py".
    pub fn from_device(name: &str) -> Result<VirtualPath, PathError> {
        if name.is_empty() {
            return Err(PathError::Hostile("empty path"));
        }
        Self::parse(name, false)
    }

    fn parse(raw: &str, percent_encoded: bool) -> Result<VirtualPath, PathError> {
        // The raw length bounds the decoded one, so this also caps host path length.
        if raw.len() > MAX_PATH_LEN {
            return Err(PathError::Hostile("path too long"));
        }
        let mut text = String::with_capacity(raw.len());
        for part in raw.split('/').filter(|p| !p.is_empty()) {
            if !text.is_empty() {
                text.push('/');
            }
            let start = text.len();
            if percent_encoded && part.contains('%') {
                let bytes = percent_decode_strict(part)?;
                let name = std::str::from_utf8(&bytes)
                    .map_err(|_| PathError::Hostile("path is not valid UTF-8"))?;
                text.push_str(name);
            } else {
                text.push_str(part);
            }
            check_component(&text[start..])?;
        }
        let dir = text.is_empty() || raw.ends_with('/');
        Ok(VirtualPath { text, dir })
    }

    /// The names from `/` down, decoded; none for root.
    pub fn components(&self) -> impl Iterator<Item = &str> + '_ {
        self.text.split('/').filter(|c| !c.is_empty())
    }

    /// The components joined with '/' ("www/x.txt"; empty for root): the
    /// path relative to root.
    pub fn relative(&self) -> &str {
        &self.text
    }

    /// Ended with '/' (root is a dir).
    pub fn is_dir(&self) -> bool {
        self.dir
    }

    /// The device's `/` itself.
    pub fn is_root(&self) -> bool {
        self.text.is_empty()
    }

    /// `self` inside `base` (the seed's `base` prepend): base "/www/data" +
    /// "/subdir/x" = "/www/data/subdir/x"; keeps self's dir flag.
    pub fn within(&self, base: &VirtualPath) -> VirtualPath {
        let text = match (base.is_root(), self.is_root()) {
            (true, _) => self.text.clone(),
            (false, true) => base.text.clone(),
            (false, false) => format!("{}/{}", base.text, self.text),
        };
        let dir = self.dir || text.is_empty();
        VirtualPath { text, dir }
    }

    /// True when `self` is `other` or below it (component-wise: "/sdcard" is
    /// not below "/sd").
    pub fn starts_with(&self, other: &VirtualPath) -> bool {
        match self.text.strip_prefix(&other.text) {
            Some(rest) => other.is_root() || rest.is_empty() || rest.starts_with('/'),
            None => false,
        }
    }

    /// The directory made of the first `n` components (all of them at most).
    pub fn prefix(&self, n: usize) -> VirtualPath {
        let end = match n {
            0 => 0,
            n => self
                .text
                .match_indices('/')
                .nth(n - 1)
                .map_or(self.text.len(), |(i, _)| i),
        };
        VirtualPath {
            text: self.text[..end].to_string(),
            dir: true,
        }
    }

    /// The containing directory (dir=true); None for root.
    pub fn parent(&self) -> Option<VirtualPath> {
        if self.is_root() {
            return None;
        }
        let end = self.text.rfind('/').unwrap_or(0);
        Some(VirtualPath {
            text: self.text[..end].to_string(),
            dir: true,
        })
    }

    /// The last component; None for root.
    pub fn file_name(&self) -> Option<&str> {
        let start = self.text.rfind('/').map_or(0, |i| i + 1);
        (!self.is_root()).then(|| &self.text[start..])
    }

    /// Same path, dir=true.
    pub fn as_dir(&self) -> VirtualPath {
        VirtualPath {
            text: self.text.clone(),
            dir: true,
        }
    }
}

impl fmt::Display for VirtualPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("/")?;
        f.write_str(&self.text)?;
        if self.dir && !self.is_root() {
            f.write_str("/")?;
        }
        Ok(())
    }
}

/// Decodes `%XX` escapes, refusing malformed ones: a lenient decoder would pass
/// "%2" or "%zz" through and let two layers disagree about the name.
fn percent_decode_strict(s: &str) -> Result<Vec<u8>, PathError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = |b: Option<&u8>| b.and_then(|&b| (b as char).to_digit(16));
            match (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
                (Some(hi), Some(lo)) => out.push((hi * 16 + lo) as u8),
                _ => return Err(PathError::Hostile("invalid percent escape")),
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

fn check_component(name: &str) -> Result<(), PathError> {
    if name == "." || name == ".." {
        return Err(PathError::Hostile("'.' or '..' in path"));
    }
    if name.contains(['/', '\\']) {
        return Err(PathError::Hostile("separator inside a path component"));
    }
    if name.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err(PathError::Hostile("NUL or control character in path"));
    }
    let b = name.as_bytes();
    // Harmless on Unix, but on Windows "C:" or "C:x" would replace root on join.
    if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
        return Err(PathError::Hostile("drive letter in path"));
    }
    if b.len() > MAX_COMPONENT_LEN {
        return Err(PathError::Hostile("path component too long"));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::path::{Component, Path};

    // ---- corpus -------------------------------------------------------------

    /// Must be refused outright.
    const REFUSED: &[&str] = &[
        "",
        "..",
        ".",
        "a",
        "a/b",
        "../etc/passwd",
        "%2e%2e/",
        "%2f..%2f",
        "\\..\\",
        "\\/..",
        " /..",
        "?/../",
        "#/..",
        "http://evil/",
        "file:///etc/passwd",
        "/..",
        "/../",
        "/../etc/passwd",
        "/../../../../../../etc/passwd",
        "/a/../../b",
        "/a/..",
        "/a/b/../../../etc",
        "//..",
        "///../",
        "/a//../",
        "/.",
        "/./",
        "/a/./b",
        "/a/.",
        "/%2e",
        "/%2e/",
        "/x/%2e",
        "/%2e%2e",
        "/%2e%2e/",
        "/%2E%2E/",
        "/%2E%2e/",
        "/%2e./",
        "/.%2e/",
        "/.%2E",
        "/%2E%2E%2Fetc",
        "/..%2f..%2fetc",
        "/..%2F..%2Fetc%2Fpasswd",
        "/a/%2e%2e/b",
        "/a/%2e%2e%2f%2e%2e/b",
        "/a/b%2f..%2f..",
        "/%2f",
        "/%2F%2F",
        "/a%2fb",
        "/a%2Fb",
        "/%2e%2e%5c",
        "/a%5cb",
        "/a%5Cb",
        "/a\\b",
        "/\\",
        "/..\\..\\etc",
        "/..%5c",
        "/%5c..%5c",
        "/a%00b",
        "/%00",
        "/a%00",
        "/..%00/",
        "/a%00.txt",
        "/a\0b",
        "/C:/x",
        "/c:",
        "/C:",
        "/z:",
        "/c:anything",
        "/C:\\Windows",
        "/%43:/",
        "/%43%3a/",
        "/%63%3a",
        "/c%3a",
        "/c%3A%5c",
        "/a/D:/b",
        "/%c0%ae%c0%ae/",
        "/%c0%ae",
        "/%C0%AE%C0%AE%C0%AF",
        "/%e0%80%ae",
        "/%e0%80%ae%e0%80%ae/",
        "/%f0%80%80%ae",
        "/%c0%af",
        "/%c1%9c",
        "/%ff",
        "/%fe%ff",
        "/%80",
        "/%ed%a0%80",
        "/\t",
        "/a\tb",
        "/a%09b",
        "/a%0d%0ab",
        "/a%0a",
        "/a%0d",
        "/\r\n",
        "/a%7f",
        "/\u{7f}",
        "/%1f",
        "/%01",
        "/%1b[31m",
        "/%zz",
        "/%4",
        "/%",
        "/a%",
        "/a%2",
        "/%g0",
        "/%0g",
        "/%%32%65",
        "/%%",
        "/%u002e%u002e",
        "/%u2215",
        "/%-1",
        "/% 2e",
        "/%+2e",
    ];

    /// Must parse, to exactly these components and dir flag.
    const ACCEPTED: &[(&str, &[&str], bool)] = &[
        ("/", &[], true),
        ("//", &[], true),
        ("///", &[], true),
        ("/a", &["a"], false),
        ("/a/", &["a"], true),
        ("/a//b", &["a", "b"], false),
        ("/a/b//", &["a", "b"], true),
        ("/%252e%252e/", &["%2e%2e"], true),
        ("/%252e%252e%252fetc", &["%2e%2e%2fetc"], false),
        ("/%25%32%65%25%32%65", &["%2e%2e"], false),
        ("/%252f", &["%2f"], false),
        ("/%255c", &["%5c"], false),
        ("/..%255c", &["..%5c"], false),
        ("/%2500", &["%00"], false),
        ("/．．/", &["．．"], true),
        ("/%ef%bc%8e%ef%bc%8e/", &["．．"], true),
        ("/..;/", &["..;"], true),
        ("/..;", &["..;"], false),
        ("/...", &["..."], false),
        ("/..../", &["...."], true),
        ("/%2e%2e%2e", &["..."], false),
        ("/.%2e.", &["..."], false),
        ("/.hidden", &[".hidden"], false),
        ("/%2ehidden", &[".hidden"], false),
        ("/a..b", &["a..b"], false),
        ("/a.", &["a."], false),
        ("/ ..", &[" .."], false),
        ("/.. ", &[".. "], false),
        ("/%2e%2e%20", &[".. "], false),
        ("/a%20b", &["a b"], false),
        ("/a+b", &["a+b"], false),
        ("/%25", &["%"], false),
        ("/%c3%a9", &["é"], false),
        ("/é", &["é"], false),
        ("/%C3%A9t%C3%A9/", &["été"], true),
        ("/C", &["C"], false),
        ("/1:b", &["1:b"], false),
        ("/ab:c", &["ab:c"], false),
        ("/:", &[":"], false),
        ("/?", &["?"], false),
        (
            "/www/data/index.html",
            &["www", "data", "index.html"],
            false,
        ),
        ("/%41%42", &["AB"], false),
        ("/%c2%85", &["\u{85}"], false),
    ];

    #[derive(Clone, Copy, PartialEq)]
    enum Kind {
        /// Decodes to a traversal or separator.
        Attack,
        /// Decodes to something harmless.
        Literal,
        /// Malformed escape or invalid UTF-8.
        Invalid,
    }

    const PREFIXES: &[&str] = &["/", "//", "/a/", "/www/data/", "/a/b/c/", "/out/"];

    const DOTS: &[(&str, Kind)] = &[
        (".", Kind::Attack),
        ("%2e", Kind::Attack),
        ("%2E", Kind::Attack),
        ("%252e", Kind::Literal),
        ("%25%32%65", Kind::Literal),
        ("．", Kind::Literal),
        ("%ef%bc%8e", Kind::Literal),
        ("%c0%ae", Kind::Invalid),
        ("%e0%80%ae", Kind::Invalid),
        ("%u002e", Kind::Invalid),
    ];

    /// What follows the traversal token; `Attack` here is a separator hidden in a component.
    const SEPS: &[(&str, Kind)] = &[
        ("/", Kind::Literal),
        ("%2f", Kind::Attack),
        ("%2F", Kind::Attack),
        ("\\", Kind::Attack),
        ("%5c", Kind::Attack),
        ("%5C", Kind::Attack),
        ("%00", Kind::Attack),
        ("%252f", Kind::Literal),
        ("%255c", Kind::Literal),
        ("%c0%af", Kind::Invalid),
        ("%c1%9c", Kind::Invalid),
        ("%e0%80%af", Kind::Invalid),
    ];

    const TAILS: &[&str] = &["", "etc/passwd"];

    /// prefixes × traversal tokens ("." and every pair of dot encodings) × separators × tails,
    /// with whether each must be refused.
    fn generated() -> Vec<(String, bool)> {
        let mut tokens: Vec<(String, Kind)> =
            DOTS.iter().map(|&(d, k)| (d.to_owned(), k)).collect();
        for &(d1, k1) in DOTS {
            for &(d2, k2) in DOTS {
                let kind = if k1 == Kind::Invalid || k2 == Kind::Invalid {
                    Kind::Invalid
                } else if k1 == Kind::Attack && k2 == Kind::Attack {
                    Kind::Attack
                } else {
                    Kind::Literal
                };
                tokens.push((format!("{d1}{d2}"), kind));
            }
        }
        let mut out = Vec::new();
        for prefix in PREFIXES {
            for (token, tk) in &tokens {
                // The token as the last component.
                out.push((format!("{prefix}{token}"), *tk != Kind::Literal));
                for &(sep, sk) in SEPS {
                    for tail in TAILS {
                        // A traversal token is only its own component when a real '/' follows.
                        let refuse = *tk == Kind::Invalid
                            || sk != Kind::Literal
                            || (*tk == Kind::Attack && sep == "/");
                        out.push((format!("{prefix}{token}{sep}{tail}"), refuse));
                    }
                }
            }
        }
        out
    }

    fn long_entries() -> Vec<(String, bool)> {
        vec![
            (format!("/{}", "a".repeat(MAX_COMPONENT_LEN + 45)), true),
            (format!("/{}", "a".repeat(MAX_COMPONENT_LEN + 1)), true),
            (format!("/{}", "%61".repeat(MAX_COMPONENT_LEN + 1)), true),
            (format!("/x/{}/y", "é".repeat(128)), true),
            (format!("/{}", "a".repeat(MAX_COMPONENT_LEN)), false),
            (format!("/{}", "%61".repeat(MAX_COMPONENT_LEN)), false),
            (format!("/{}", "a".repeat(5000)), true),
            ("/a".repeat(2500), true),
            (format!("/{}", "x/".repeat(2100)), true),
            (format!("/{}", "..%2f".repeat(1000)), true),
            ("/a".repeat(MAX_PATH_LEN / 2), false),
            (format!("{}b", "/a".repeat(MAX_PATH_LEN / 2)), true),
        ]
    }

    /// Every corpus entry with whether it must be refused (`None`: no constraint beyond safety).
    pub(crate) fn corpus() -> Vec<(String, Option<bool>)> {
        let mut all: Vec<(String, Option<bool>)> = REFUSED
            .iter()
            .map(|s| (s.to_string(), Some(true)))
            .collect();
        all.extend(
            ACCEPTED
                .iter()
                .map(|(s, _, _)| (s.to_string(), Some(false))),
        );
        all.extend(long_entries().into_iter().map(|(s, r)| (s, Some(r))));
        all.extend(generated().into_iter().map(|(s, r)| (s, Some(r))));
        all
    }

    /// A parsed path can only walk down: every component is one plain name on the host too.
    fn assert_inside(raw: &str, v: &VirtualPath) {
        for c in v.components() {
            assert!(c != "." && c != "..", "{raw:?} gave {c:?}");
            assert!(!c.contains(['/', '\\', '\0']), "{raw:?} gave {c:?}");
            assert!(
                !c.bytes().any(|b| b < 0x20 || b == 0x7f),
                "{raw:?} gave {c:?}"
            );
            assert!(!c.is_empty() && c.len() <= MAX_COMPONENT_LEN, "{raw:?}");
            let mut host = Path::new(c).components();
            assert!(
                matches!(host.next(), Some(Component::Normal(_))),
                "{raw:?} gave {c:?}"
            );
            assert!(host.next().is_none(), "{raw:?} gave {c:?}");
        }
        // Display and from_device agree, so a path can be passed on as text.
        assert_eq!(
            VirtualPath::from_device(&v.to_string()).as_ref(),
            Ok(v),
            "{raw:?}"
        );
    }

    #[test]
    fn corpus_is_large() {
        let n = corpus().len();
        assert!(n >= 150, "{n}");
        assert!(REFUSED.len() + ACCEPTED.len() >= 150);
    }

    #[test]
    fn corpus_refused_or_inside() {
        let mut refused = 0;
        for (raw, must_refuse) in corpus() {
            match VirtualPath::from_url(&raw) {
                Err(PathError::Hostile(_)) => {
                    assert_ne!(must_refuse, Some(false), "{raw:?} was refused");
                    refused += 1;
                }
                Err(PathError::NotFound) => panic!("parsing never says NotFound: {raw:?}"),
                Ok(v) => {
                    assert_ne!(must_refuse, Some(true), "{raw:?} was accepted as {v}");
                    assert_inside(&raw, &v);
                }
            }
        }
        assert!(refused > 1000, "{refused}");
    }

    #[test]
    fn accepted_exactly() {
        for &(raw, comps, dir) in ACCEPTED {
            let v = VirtualPath::from_url(raw).unwrap_or_else(|e| panic!("{raw:?}: {e:?}"));
            assert_eq!(v.components().collect::<Vec<_>>(), comps, "{raw:?}");
            assert_eq!(v.is_dir(), dir, "{raw:?}");
        }
    }

    #[test]
    fn decodes_once() {
        let v = VirtualPath::from_url("/%252e%252e/").unwrap();
        assert_eq!(v.components().collect::<Vec<_>>(), ["%2e%2e"]);
        // The decoded name is never decoded again, even by from_device.
        assert_eq!(VirtualPath::from_device("/%2e%2e/").unwrap(), v);
    }

    #[test]
    fn refusal_reasons() {
        let why = |raw: &str| match VirtualPath::from_url(raw) {
            Err(PathError::Hostile(w)) => w,
            other => panic!("{raw:?}: {other:?}"),
        };
        assert_eq!(why("a"), "path must start with '/'");
        assert_eq!(why("/%zz"), "invalid percent escape");
        assert_eq!(why("/%4"), "invalid percent escape");
        assert_eq!(why("/a%"), "invalid percent escape");
        assert_eq!(why("/%c0%ae"), "path is not valid UTF-8");
        assert_eq!(why("/a/../b"), "'.' or '..' in path");
        assert_eq!(why("/%2e"), "'.' or '..' in path");
        assert_eq!(why("/a%2fb"), "separator inside a path component");
        assert_eq!(why("/a\\b"), "separator inside a path component");
        assert_eq!(why("/a%00b"), "NUL or control character in path");
        assert_eq!(why("/a%7f"), "NUL or control character in path");
        assert_eq!(why("/c:"), "drive letter in path");
        assert_eq!(why("/%43:/"), "drive letter in path");
        assert_eq!(
            why(&format!("/{}", "a".repeat(256))),
            "path component too long"
        );
        assert_eq!(why(&format!("/{}", "a/".repeat(2100))), "path too long");
    }

    #[test]
    fn length_limits() {
        let ok = "/a".repeat(MAX_PATH_LEN / 2);
        assert_eq!(ok.len(), MAX_PATH_LEN);
        assert!(VirtualPath::from_url(&ok).is_ok());
        assert!(VirtualPath::from_device(&ok).is_ok());
        let long = format!("{ok}/");
        assert!(matches!(
            VirtualPath::from_url(&long),
            Err(PathError::Hostile(_))
        ));
        assert!(matches!(
            VirtualPath::from_device(&long),
            Err(PathError::Hostile(_))
        ));
        let name = "n".repeat(MAX_COMPONENT_LEN);
        assert!(VirtualPath::from_device(&name).is_ok());
        assert!(VirtualPath::from_device(&format!("{name}n")).is_err());
    }

    #[test]
    fn from_device_paths() {
        let p = |s: &str| VirtualPath::from_device(s);
        assert_eq!(p("main.py").unwrap().to_string(), "/main.py");
        assert_eq!(p("main.py"), p("/main.py"));
        assert_eq!(
            p("/lib/x.py").unwrap().components().collect::<Vec<_>>(),
            ["lib", "x.py"]
        );
        assert_eq!(p("lib/").unwrap().to_string(), "/lib/");
        assert!(p("/").unwrap().is_root());
        assert_eq!(p("%2e%2e").unwrap().relative(), "%2e%2e");
        assert_eq!(p("a%2fb").unwrap().relative(), "a%2fb");
        for bad in [
            "", "..", ".", "./x", "../x", "/../x", "a/../b", "a/./b", "a\\b", "\\x", "C:x", "c:",
            "/d:/x", "a\0b", "a\nb", "a\x7f",
        ] {
            assert!(matches!(p(bad), Err(PathError::Hostile(_))), "{bad:?}");
        }
    }

    #[test]
    fn virtual_path_ops() {
        let u = |s: &str| VirtualPath::from_url(s).unwrap();
        let root = VirtualPath::root();
        assert!(root.is_root() && root.is_dir());
        assert_eq!(root.to_string(), "/");
        assert_eq!(root.parent(), None);
        assert_eq!(root.file_name(), None);
        assert_eq!(u("/"), root);

        let base = u("/www/data");
        let x = u("/subdir/x");
        assert_eq!(x.within(&base).to_string(), "/www/data/subdir/x");
        assert_eq!(u("/subdir/").within(&base).to_string(), "/www/data/subdir/");
        assert_eq!(root.within(&base).to_string(), "/www/data/");
        assert_eq!(x.within(&root), x);
        assert_eq!(root.within(&root), root);

        assert!(u("/sd/x").starts_with(&u("/sd")));
        assert!(u("/sd").starts_with(&u("/sd/")));
        assert!(u("/sd/").starts_with(&u("/sd")));
        assert!(!u("/sdcard").starts_with(&u("/sd")));
        assert!(!u("/sd").starts_with(&u("/sd/x")));
        assert!(u("/anything").starts_with(&root));

        assert_eq!(x.parent().unwrap().to_string(), "/subdir/");
        assert_eq!(u("/a").parent(), Some(root.clone()));
        assert_eq!(u("/a/b/").parent().unwrap().to_string(), "/a/");
        assert_eq!(x.file_name(), Some("x"));
        assert_eq!(u("/a/b/").file_name(), Some("b"));
        assert_eq!(x.as_dir().to_string(), "/subdir/x/");
        assert!(x.as_dir().is_dir() && !x.is_dir());
        assert_eq!(u("/a%20b/c").to_string(), "/a b/c");

        let deep = u("/a/b/c");
        assert_eq!(deep.relative(), "a/b/c");
        assert_eq!(root.relative(), "");
        assert_eq!(deep.prefix(0), root);
        assert_eq!(deep.prefix(1).to_string(), "/a/");
        assert_eq!(deep.prefix(2).to_string(), "/a/b/");
        assert_eq!(deep.prefix(3), deep.as_dir());
        assert_eq!(deep.prefix(9), deep.as_dir());
        assert!(!u("/ab").starts_with(&u("/a")));
        assert!(u("/a/b").starts_with(&u("/a")));
    }
}
