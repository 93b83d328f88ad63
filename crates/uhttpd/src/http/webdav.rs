//! The request fields of WebDAV's MOVE (RFC 4918 §9.9): where to
//! (`Destination`) and whether an existing name there may be replaced
//! (`Overwrite`).

use super::request::{split_http_uri, RequestHead};

/// The path a MOVE's `Destination` names, percent-encoded as sent and
/// without its query: an absolute path (`/fs/new`), or an absolute URI
/// (`http://host/fs/new`) whose authority is the request's `Host`. 400 when
/// missing or neither; 502 for a URI on another host (RFC 4918 §9.9.4: this
/// server cannot move a file onto another).
pub fn destination_path(head: &RequestHead) -> Result<&str, u16> {
    let value = head.header("destination").ok_or(400u16)?;
    let value = std::str::from_utf8(value).map_err(|_| 400u16)?.trim();
    let reference = if value.starts_with('/') {
        // `//host/path` is a network-path reference, not an absolute path.
        if value.starts_with("//") {
            return Err(400);
        }
        value
    } else {
        let (authority, rest) = split_http_uri(value).ok_or(400u16)?;
        // Without a Host no URI can be shown to be this server's.
        let host = head.header("host").unwrap_or_default();
        if !host.eq_ignore_ascii_case(authority.as_bytes()) {
            return Err(502);
        }
        rest
    };
    let path = &reference[..reference.find(['?', '#']).unwrap_or(reference.len())];
    Ok(if path.is_empty() { "/" } else { path })
}

/// `Overwrite` (RFC 4918 §10.6): `T` (also when absent) lets a MOVE replace
/// what the destination names, `F` refuses (412); anything else is 400.
pub fn overwrite(head: &RequestHead) -> Result<bool, u16> {
    match head.header("overwrite").map(|v| v.trim_ascii()) {
        None => Ok(true),
        Some(v) if v.eq_ignore_ascii_case(b"T") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case(b"F") => Ok(false),
        Some(_) => Err(400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::{parse_head, HeadLimits};
    use bytes::BytesMut;

    fn head(fields: &str) -> RequestHead {
        let raw = format!("MOVE /fs/a HTTP/1.1\r\nHost: dev.local:8080\r\n{fields}\r\n");
        let mut buf = BytesMut::from(raw.as_bytes());
        parse_head(&mut buf, &HeadLimits::default())
            .unwrap()
            .unwrap()
    }

    fn destination(value: &str) -> Result<String, u16> {
        destination_path(&head(&format!("Destination: {value}\r\n"))).map(str::to_string)
    }

    #[test]
    fn destination_as_a_path_or_a_uri_on_this_host() {
        assert_eq!(destination("/fs/new").as_deref(), Ok("/fs/new"));
        assert_eq!(destination("/fs/a%20b?x=1").as_deref(), Ok("/fs/a%20b"));
        assert_eq!(
            destination("http://dev.local:8080/fs/new").as_deref(),
            Ok("/fs/new")
        );
        assert_eq!(
            destination("HTTPS://DEV.local:8080/fs/caf%C3%A9#top").as_deref(),
            Ok("/fs/caf%C3%A9")
        );
        assert_eq!(destination("http://dev.local:8080").as_deref(), Ok("/"));
    }

    #[test]
    fn destination_elsewhere_or_malformed_is_refused() {
        assert_eq!(destination("http://other:8080/fs/new"), Err(502));
        assert_eq!(destination("http://dev.local/fs/new"), Err(502));
        for bad in [
            "fs/new",
            "//dev.local:8080/fs/new",
            "ftp://dev.local:8080/x",
            "http:///x",
        ] {
            assert_eq!(destination(bad), Err(400), "{bad}");
        }
        assert_eq!(destination_path(&head("")), Err(400));
    }

    #[test]
    fn overwrite_is_t_unless_f() {
        assert_eq!(overwrite(&head("")), Ok(true));
        assert_eq!(overwrite(&head("Overwrite: T\r\n")), Ok(true));
        assert_eq!(overwrite(&head("Overwrite: F\r\n")), Ok(false));
        assert_eq!(overwrite(&head("Overwrite: f\r\n")), Ok(false));
        assert_eq!(overwrite(&head("Overwrite: no\r\n")), Err(400));
    }
}
