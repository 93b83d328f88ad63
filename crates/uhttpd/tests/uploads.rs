//! Verified and resumable uploads over raw bytes: `Content-Digest` on
//! uploads, `Content-Range` pieces of a resumable upload (202 with
//! `Upload-Offset`, 409 at the wrong offset, the probe, the sweep of stale
//! partials), and `Repr-Digest` on downloads asked with `Want-Repr-Digest`.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use base64::Engine;
use common::*;
use sha2::{Digest, Sha256};
use uhttpd::{Config, Limits, Server};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// `sha-256=:<base64>:` for `bytes`.
fn digest_of(bytes: &[u8]) -> String {
    format!("sha-256=:{}:", B64.encode(Sha256::digest(bytes)))
}

/// A fresh root served with listings at `/fs` and received at `/up`.
fn upload_server(name: &str, limits: Limits) -> (Server, PathBuf) {
    let root = std::env::temp_dir().join(format!("uhttpd-uploads-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("d")).unwrap();
    let server = start(Config {
        root: root.clone(),
        limits,
        ..config()
    });
    server.serve(Some("/fs"), None, true, false).unwrap();
    server.receive(true, Some("/up"), false, false).unwrap();
    (server, root)
}

fn defaults(name: &str) -> (Server, PathBuf) {
    upload_server(name, config().limits)
}

/// A request with a Content-Length body and extra header lines.
fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        req.push_str(&format!("{name}: {value}\r\n"));
    }
    req.push_str("\r\n");
    let mut req = req.into_bytes();
    req.extend_from_slice(body);
    req
}

/// `PUT path` with a Content-Range for `body`, bytes `first..` of `total`.
fn piece(path: &str, first: usize, body: &[u8], total: usize, more: &[(&str, &str)]) -> Vec<u8> {
    let range = format!("bytes {first}-{}/{total}", first + body.len() - 1);
    let mut headers = vec![("Content-Range", range.as_str())];
    headers.extend_from_slice(more);
    request("PUT", path, &headers, body)
}

/// `PUT path` with `Content-Range: bytes */total`: how much is held?
fn probe(path: &str, total: usize) -> Vec<u8> {
    let range = format!("bytes */{total}");
    request("PUT", path, &[("Content-Range", &range)], b"")
}

fn exchange(server: &Server, req: &[u8]) -> Response {
    let mut c = Client::connect(server);
    c.send(req);
    c.response()
}

fn offset(r: &Response) -> u64 {
    r.header("upload-offset")
        .unwrap_or_else(|| panic!("no Upload-Offset in {r:?}"))
        .parse()
        .unwrap()
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// The reserved (partial or temporary) files in `dir`.
fn reserved(dir: &Path) -> Vec<PathBuf> {
    names(dir)
        .into_iter()
        .filter(|n| n.ends_with(".uhttpd-tmp"))
        .map(|n| dir.join(n))
        .collect()
}

/// Bytes that differ from position to position, so a piece out of place shows.
fn content(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn an_upload_whose_digest_matches_lands_and_the_digest_is_echoed() {
    let (server, root) = defaults("digest-ok");
    let body = content(100_000);
    let digest = digest_of(&body);
    for method in ["PUT", "POST"] {
        let r = exchange(
            &server,
            &request(method, "/up/d/f.bin", &[("Content-Digest", &digest)], &body),
        );
        assert!(r.status == 201 || r.status == 204, "{r:?}");
        assert_eq!(r.header("content-digest"), Some(digest.as_str()));
        assert_eq!(std::fs::read(root.join("d/f.bin")).unwrap(), body);
    }
    // Other algorithms beside it are ignored; without sha-256 nothing is checked.
    let listed = format!("sha-512=:{}:, {digest}", B64.encode([0u8; 64]));
    let r = exchange(
        &server,
        &request("PUT", "/up/d/g.bin", &[("Content-Digest", &listed)], &body),
    );
    assert_eq!(r.status, 201, "{r:?}");
    let r = exchange(
        &server,
        &request(
            "PUT",
            "/up/d/h.bin",
            &[("Content-Digest", "md5=:AAAA:")],
            b"x",
        ),
    );
    assert_eq!((r.status, r.header("content-digest")), (201, None));
    let r = exchange(&server, &request("PUT", "/up/d/i.bin", &[], b"x"));
    assert_eq!((r.status, r.header("content-digest")), (201, None));
}

#[test]
fn a_digest_mismatch_is_400_the_old_file_intact_and_nothing_left_behind() {
    let (server, root) = defaults("digest-mismatch");
    std::fs::write(root.join("d/f.bin"), "old").unwrap();
    let body = content(300_000);
    let wrong = digest_of(b"other bytes");
    let mut c = Client::connect(&server);
    for target in ["/up/d/f.bin", "/up/d/new.bin"] {
        c.send(&request(
            "PUT",
            target,
            &[("Content-Digest", &wrong)],
            &body,
        ));
        let r = c.response();
        assert_eq!(r.status, 400);
        assert!(r.body_str().contains("Content-Digest mismatch"), "{r:?}");
        assert_eq!(r.header("content-digest"), None);
    }
    assert_eq!(std::fs::read(root.join("d/f.bin")).unwrap(), b"old");
    assert_eq!(names(&root.join("d")), ["f.bin"]);
    // The whole body was read: the connection goes on.
    c.send(&request("PUT", "/up/d/f.bin", &[], b"new"));
    assert_eq!(c.response().status, 204);
}

#[test]
fn a_malformed_content_digest_is_400_before_anything_is_written() {
    let (server, root) = defaults("digest-malformed");
    std::fs::write(root.join("d/f.bin"), "old").unwrap();
    for malformed in [
        "sha-256=:AAAA:",        // not 32 bytes
        "sha-256=AAAA",          // a token, not a byte sequence
        "sha-256=:not base64!:", // not a dictionary
        "SHA-256=:AAAA:",        // keys are lower case
        "sha-256=:AAAA:, ",      // a trailing comma
    ] {
        for target in ["/up/d/f.bin", "/up/d/new.bin"] {
            let r = exchange(
                &server,
                &request("PUT", target, &[("Content-Digest", malformed)], b"new"),
            );
            assert_eq!(r.status, 400, "{malformed:?}");
            assert!(r.body_str().contains("Content-Digest"), "{r:?}");
        }
    }
    assert_eq!(std::fs::read(root.join("d/f.bin")).unwrap(), b"old");
    assert_eq!(names(&root.join("d")), ["f.bin"]);
}

#[test]
fn a_file_sent_in_three_pieces_lands_with_the_last_one_only() {
    let (server, root) = defaults("three-pieces");
    std::fs::write(root.join("d/f.bin"), "old").unwrap();
    let body = content(250_000);
    let digest = digest_of(&body);
    let with_digest = [("Content-Digest", digest.as_str())];
    let mut c = Client::connect(&server);
    c.send(&piece("/up/d/f.bin", 0, &body[..100_000], body.len(), &[]));
    let r = c.response();
    assert_eq!((r.status, offset(&r)), (202, 100_000), "{r:?}");
    assert_eq!(std::fs::read(root.join("d/f.bin")).unwrap(), b"old");
    // The partial is never listed nor served.
    let partial = reserved(&root.join("d"));
    assert_eq!(partial.len(), 1);
    let partial_name = partial[0]
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    c.send(&get("/fs/d/"));
    let listing = c.response().body_str();
    assert!(
        listing.contains("f.bin") && !listing.contains("uhttpd-tmp"),
        "{listing}"
    );
    c.send(&get(&format!("/fs/d/{partial_name}")));
    assert_eq!(c.response().status, 404);
    // Nor written by a plain upload.
    let r = exchange(
        &server,
        &request("PUT", &format!("/up/d/{partial_name}"), &[], b"x"),
    );
    assert_eq!(r.status, 403);

    c.send(&piece(
        "/up/d/f.bin",
        100_000,
        &body[100_000..200_000],
        body.len(),
        &with_digest,
    ));
    let r = c.response();
    assert_eq!((r.status, offset(&r)), (202, 200_000), "{r:?}");
    assert_eq!(std::fs::read(root.join("d/f.bin")).unwrap(), b"old");
    c.send(&piece(
        "/up/d/f.bin",
        200_000,
        &body[200_000..],
        body.len(),
        &with_digest,
    ));
    let r = c.response();
    assert_eq!(r.status, 204, "{r:?}");
    assert_eq!(r.header("content-digest"), Some(digest.as_str()));
    assert_eq!(std::fs::read(root.join("d/f.bin")).unwrap(), body);
    assert_eq!(names(&root.join("d")), ["f.bin"]);
    // A new file is 201; a one-piece resumable upload lands at once.
    c.send(&piece("/up/d/new/one.bin", 0, b"whole", 5, &[]));
    let r = c.response();
    assert_eq!((r.status, r.header("upload-offset")), (201, None));
    assert_eq!(std::fs::read(root.join("d/new/one.bin")).unwrap(), b"whole");
}

#[test]
fn a_piece_cut_off_keeps_what_arrived_and_the_rest_completes_the_file() {
    let (server, root) = defaults("cut");
    let body = content(400_000);
    let sent = 150_000;
    let mut c = Client::connect(&server);
    let head = piece("/up/d/big.bin", 0, &body, body.len(), &[]);
    let head_len = head.len() - body.len();
    c.send(&head[..head_len + sent]);
    assert!(
        wait_for(TIMEOUT, || reserved(&root.join("d")).first().is_some_and(
            |p| std::fs::metadata(p).unwrap().len() == sent as u64
        )),
        "the bytes sent reach the partial"
    );
    drop(c);
    assert!(!root.join("d/big.bin").exists());
    let r = exchange(&server, &probe("/up/d/big.bin", body.len()));
    assert_eq!((r.status, offset(&r)), (202, sent as u64), "{r:?}");
    // Another size is another upload: nothing held for it.
    let r = exchange(&server, &probe("/up/d/big.bin", body.len() + 1));
    assert_eq!((r.status, offset(&r)), (202, 0));
    let digest = digest_of(&body);
    let rest = piece(
        "/up/d/big.bin",
        sent,
        &body[sent..],
        body.len(),
        &[("Content-Digest", &digest)],
    );
    let r = exchange(&server, &rest);
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(std::fs::read(root.join("d/big.bin")).unwrap(), body);
    assert_eq!(names(&root.join("d")), ["big.bin"]);
    // Nothing held any more.
    let r = exchange(&server, &probe("/up/d/big.bin", body.len()));
    assert_eq!((r.status, offset(&r)), (202, 0));
}

#[test]
fn a_newer_request_for_a_partial_stops_the_connection_still_writing_it() {
    let (server, root) = defaults("superseded");
    let body = content(200_000);
    let mut stalled = Client::connect(&server);
    let head = piece("/up/d/f.bin", 0, &body, body.len(), &[]);
    let head_len = head.len() - body.len();
    stalled.send(&head[..head_len + 50_000]);
    assert!(wait_for(TIMEOUT, || reserved(&root.join("d"))
        .first()
        .is_some_and(|p| std::fs::metadata(p).unwrap().len() == 50_000)));
    // The client went quiet without closing (a dropped network does that):
    // the probe does not wait for its stall timeout.
    let r = exchange(&server, &probe("/up/d/f.bin", body.len()));
    assert_eq!((r.status, offset(&r)), (202, 50_000), "{r:?}");
    stalled.expect_closed();
    let r = exchange(
        &server,
        &piece("/up/d/f.bin", 50_000, &body[50_000..], body.len(), &[]),
    );
    assert_eq!(r.status, 201);
    assert_eq!(std::fs::read(root.join("d/f.bin")).unwrap(), body);
}

#[test]
fn a_piece_at_another_offset_is_409_with_the_offset_and_zero_starts_again() {
    let (server, root) = defaults("offsets");
    let body = content(1000);
    let mut c = Client::connect(&server);
    // Nothing held yet (not even the directory).
    c.send(&piece("/up/nodir/f.bin", 100, &body[100..200], 1000, &[]));
    let r = c.response();
    assert_eq!((r.status, offset(&r)), (409, 0), "{r:?}");
    assert!(!root.join("nodir").exists());
    c.send(&probe("/up/nodir/f.bin", 1000));
    let r = c.response();
    assert_eq!((r.status, offset(&r)), (202, 0), "{r:?}");
    c.send(&piece("/up/d/f.bin", 0, &body[..300], 1000, &[]));
    assert_eq!(offset(&c.response()), 300);
    for wrong in [200, 301, 900] {
        c.send(&piece(
            "/up/d/f.bin",
            wrong,
            &body[wrong..wrong + 50],
            1000,
            &[],
        ));
        let r = c.response();
        assert_eq!((r.status, offset(&r)), (409, 300), "{wrong}: {r:?}");
        assert!(r.body_str().contains("300"), "{r:?}");
    }
    // S = 0 always starts again, whatever was held.
    c.send(&piece("/up/d/f.bin", 0, b"fresh", 1000, &[]));
    let r = c.response();
    assert_eq!((r.status, offset(&r)), (202, 5));
    assert_eq!(
        std::fs::read(&reserved(&root.join("d"))[0]).unwrap(),
        b"fresh"
    );
    assert!(!root.join("d/f.bin").exists());
}

#[test]
fn a_resumable_upload_whose_digest_does_not_match_removes_its_partial() {
    let (server, root) = defaults("piece-mismatch");
    std::fs::write(root.join("d/f.bin"), "old").unwrap();
    let body = content(2000);
    let wrong = digest_of(b"something else");
    let r = exchange(&server, &piece("/up/d/f.bin", 0, &body[..1000], 2000, &[]));
    assert_eq!(r.status, 202);
    let last = piece(
        "/up/d/f.bin",
        1000,
        &body[1000..],
        2000,
        &[("Content-Digest", &wrong)],
    );
    let r = exchange(&server, &last);
    assert_eq!(r.status, 400);
    assert!(r.body_str().contains("Content-Digest mismatch"), "{r:?}");
    assert_eq!(std::fs::read(root.join("d/f.bin")).unwrap(), b"old");
    assert_eq!(names(&root.join("d")), ["f.bin"]);
    let r = exchange(&server, &probe("/up/d/f.bin", 2000));
    assert_eq!(offset(&r), 0);
}

#[test]
fn malformed_or_misplaced_content_ranges_are_400() {
    let (server, root) = defaults("bad-range");
    for range in [
        "bytes 0-9",
        "bytes 0-9/*",
        "bytes 5-4/10",
        "bytes 0-10/10",
        "items 0-9/10",
    ] {
        let r = exchange(
            &server,
            &request(
                "PUT",
                "/up/d/f.bin",
                &[("Content-Range", range)],
                b"0123456789",
            ),
        );
        assert_eq!(r.status, 400, "{range}");
        assert!(r.body_str().contains("Content-Range"), "{r:?}");
    }
    let range = [("Content-Range", "bytes 0-9/20")];
    // Only a PUT of a file takes pieces.
    let r = exchange(
        &server,
        &request("POST", "/up/d/f.bin", &range, b"0123456789"),
    );
    assert_eq!(r.status, 400);
    let r = exchange(
        &server,
        &request("PUT", "/up/d/dir/", &range, b"0123456789"),
    );
    assert_eq!(r.status, 400);
    // The body is exactly the bytes named; a probe has none.
    let r = exchange(
        &server,
        &request("PUT", "/up/d/f.bin", &range, b"012345678"),
    );
    assert_eq!(r.status, 400);
    let chunked = b"PUT /up/d/f.bin HTTP/1.1\r\nHost: test\r\nContent-Range: bytes 0-9/20\r\n\
        Transfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n0\r\n\r\n";
    assert_eq!(exchange(&server, chunked).status, 400);
    let r = exchange(
        &server,
        &request(
            "PUT",
            "/up/d/f.bin",
            &[("Content-Range", "bytes */20")],
            b"x",
        ),
    );
    assert_eq!(r.status, 400);
    let r = exchange(
        &server,
        &piece(
            "/up/d/f.bin",
            0,
            b"0123456789",
            20,
            &[("Content-Digest", "sha-256=:AA:")],
        ),
    );
    assert_eq!(r.status, 400);
    assert_eq!(names(&root.join("d")), Vec::<String>::new());
}

#[test]
fn a_total_above_the_upload_limit_is_413() {
    let (server, root) = upload_server(
        "too-large",
        Limits {
            max_upload_bytes: Some(1000),
            ..config().limits
        },
    );
    let r = exchange(&server, &piece("/up/d/f.bin", 0, b"0123456789", 1001, &[]));
    assert_eq!(r.status, 413);
    let r = exchange(&server, &probe("/up/d/f.bin", 1001));
    assert_eq!(r.status, 413);
    assert_eq!(names(&root.join("d")), Vec::<String>::new());
    let r = exchange(&server, &piece("/up/d/f.bin", 0, b"0123456789", 1000, &[]));
    assert_eq!((r.status, offset(&r)), (202, 10));
}

#[test]
fn partials_untouched_for_their_lifetime_go_when_the_next_upload_starts() {
    let lifetime = Duration::from_secs(60);
    let (server, root) = upload_server(
        "sweep",
        Limits {
            partial_upload_lifetime: lifetime,
            ..config().limits
        },
    );
    let (dir, other) = (root.join("d"), root.join("other"));
    std::fs::create_dir(&other).unwrap();
    // Starts an upload of 100 bytes at `path`: the partial file it made in `dir`.
    let start_upload = |path: &str, dir: &Path| -> PathBuf {
        let before = reserved(dir);
        let r = exchange(&server, &piece(path, 0, b"0123456789", 100, &[]));
        assert_eq!(r.status, 202, "{r:?}");
        reserved(dir)
            .into_iter()
            .find(|p| !before.contains(p))
            .unwrap()
    };
    let aged = |path: &Path, age: Duration| {
        let file = std::fs::File::options().write(true).open(path).unwrap();
        file.set_modified(SystemTime::now() - age).unwrap();
    };
    let stale = start_upload("/up/d/stale.bin", &dir);
    let recent = start_upload("/up/d/recent.bin", &dir);
    let elsewhere = start_upload("/up/other/x.bin", &other);
    aged(&stale, lifetime + Duration::from_secs(5));
    aged(&elsewhere, lifetime * 2);
    // A piece that continues an upload starts nothing: nothing is swept.
    let r = exchange(&server, &piece("/up/d/recent.bin", 10, b"x", 100, &[]));
    assert_eq!((r.status, offset(&r)), (202, 11));
    assert!(stale.exists());
    aged(&recent, lifetime - Duration::from_secs(10));
    // A new upload into `d` starts: the stale partial goes, the others stay.
    let third = start_upload("/up/d/third.bin", &dir);
    assert!(!stale.exists(), "untouched past its lifetime");
    assert!(recent.exists() && third.exists() && elsewhere.exists());
    let r = exchange(&server, &probe("/up/d/stale.bin", 100));
    assert_eq!(offset(&r), 0);
    let r = exchange(&server, &probe("/up/d/recent.bin", 100));
    assert_eq!(offset(&r), 11);
}

#[test]
fn repr_digest_is_sent_when_asked_for_the_whole_representation() {
    let (server, root) = defaults("repr");
    let text = content(200_000);
    std::fs::write(root.join("d/page.js"), &text).unwrap();
    let gz = b"\x1f\x8b pretend gzip bytes".to_vec();
    std::fs::write(root.join("d/app.css"), "plain css").unwrap();
    std::fs::write(root.join("d/app.css.gz"), &gz).unwrap();
    let want = "Want-Repr-Digest: sha-512=3, sha-256=5\r\n";
    let ask = |path: &str, extra: &str| -> Vec<u8> {
        format!("GET {path} HTTP/1.1\r\nHost: test\r\n{extra}\r\n").into_bytes()
    };
    let mut c = Client::connect(&server);
    c.send(&ask("/fs/d/page.js", want));
    let r = c.response();
    assert_eq!((r.status, r.body.len()), (200, text.len()));
    assert_eq!(r.header("repr-digest"), Some(digest_of(&text).as_str()));
    // A range gets the digest of the whole file, not of the range.
    c.send(&ask(
        "/fs/d/page.js",
        &format!("{want}Range: bytes=10-19\r\n"),
    ));
    let r = c.response();
    assert_eq!((r.status, &r.body[..]), (206, &text[10..20]));
    assert_eq!(r.header("repr-digest"), Some(digest_of(&text).as_str()));
    // HEAD says the same.
    c.send(format!("HEAD /fs/d/page.js HTTP/1.1\r\nHost: test\r\n{want}\r\n").as_bytes());
    let r = c.head_response();
    assert_eq!(r.header("repr-digest"), Some(digest_of(&text).as_str()));
    // The .gz served is the representation.
    c.send(&ask(
        "/fs/d/app.css",
        &format!("{want}Accept-Encoding: gzip\r\n"),
    ));
    let r = c.response();
    assert_eq!((r.header("content-encoding"), &r.body), (Some("gzip"), &gz));
    assert_eq!(r.header("repr-digest"), Some(digest_of(&gz).as_str()));
    // Not asked, or sha-256 refused, or a malformed field: no digest.
    for extra in [
        "",
        "Want-Repr-Digest: sha-256=0, sha-512=5\r\n",
        "Want-Repr-Digest: sha-256=5,\r\n",
    ] {
        c.send(&ask("/fs/d/page.js", extra));
        let r = c.response();
        assert_eq!(
            (r.status, r.header("repr-digest")),
            (200, None),
            "{extra:?}"
        );
    }
    // Not on what is not a file.
    c.send(&ask("/fs/d/", want));
    assert_eq!(c.response().header("repr-digest"), None);
}

#[test]
fn every_piece_checks_the_preconditions_and_a_412_writes_nothing() {
    let (server, root) = defaults("piece-preconditions");
    std::fs::write(root.join("d/f.bin"), "old").unwrap();
    let body = content(2_000);
    let create_only = [("If-None-Match", "*")];
    let r = exchange(
        &server,
        &piece("/up/d/f.bin", 0, &body[..1_000], 2_000, &create_only),
    );
    assert_eq!(r.status, 412, "{r:?}");
    assert!(
        reserved(&root.join("d")).is_empty(),
        "a refused piece starts no partial"
    );
    let r = exchange(
        &server,
        &piece("/up/d/g.bin", 0, &body[..1_000], 2_000, &create_only),
    );
    assert_eq!((r.status, offset(&r)), (202, 1_000), "{r:?}");
    // The target appeared meanwhile: the next piece is refused and holds.
    std::fs::write(root.join("d/g.bin"), "theirs").unwrap();
    let r = exchange(
        &server,
        &piece("/up/d/g.bin", 1_000, &body[1_000..], 2_000, &create_only),
    );
    assert_eq!(r.status, 412, "{r:?}");
    assert_eq!(std::fs::read(root.join("d/g.bin")).unwrap(), b"theirs");
    let r = exchange(&server, &probe("/up/d/g.bin", 2_000));
    assert_eq!((r.status, offset(&r)), (202, 1_000), "{r:?}");
}

#[test]
fn a_landed_upload_answers_with_the_etag_a_get_of_it_sends() {
    let (server, _root) = defaults("landed-etag");
    let etag_of_get = |path: &str| {
        let r = exchange(&server, &get(path));
        assert_eq!(r.status, 200, "{r:?}");
        r.header("etag").expect("GET sends an ETag").to_string()
    };
    let r = exchange(&server, &request("PUT", "/up/d/whole.txt", &[], b"whole"));
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(
        r.header("etag"),
        Some(etag_of_get("/fs/d/whole.txt").as_str())
    );
    // The editor's next save, conditional on what it wrote, holds.
    let etag = r.header("etag").unwrap().to_string();
    let again = request("PUT", "/up/d/whole.txt", &[("If-Match", &etag)], b"again");
    let r = exchange(&server, &again);
    assert_eq!(r.status, 204, "{r:?}");
    assert_eq!(
        r.header("etag"),
        Some(etag_of_get("/fs/d/whole.txt").as_str())
    );
    let body = content(3_000);
    exchange(
        &server,
        &piece("/up/d/pieces.bin", 0, &body[..1_000], 3_000, &[]),
    );
    let r = exchange(
        &server,
        &piece("/up/d/pieces.bin", 1_000, &body[1_000..], 3_000, &[]),
    );
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(
        r.header("etag"),
        Some(etag_of_get("/fs/d/pieces.bin").as_str())
    );
}
