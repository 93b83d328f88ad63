//! The uploader's MOVE (WebDAV, RFC 4918 §9.9) and the preconditions
//! (`If-Match`, `If-None-Match`, RFC 9110 §13) of uploads, DELETE and MOVE,
//! over raw bytes on loopback.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use uhttpd::{AclDecision, Config, FileChange, Observation, Server};

/// A fresh directory to play the device's `/`: `a.txt`, `b.txt` and `dir/in.txt`.
fn root(name: &str) -> PathBuf {
    let root = std::env::temp_dir().join(format!("uhttpd-moves-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("dir")).unwrap();
    std::fs::write(root.join("a.txt"), "a").unwrap();
    std::fs::write(root.join("b.txt"), "b").unwrap();
    std::fs::write(root.join("dir/in.txt"), "in").unwrap();
    root
}

/// The file server and the uploader (with `delete=True`) both on `/fs`.
fn console(name: &str) -> (Server, PathBuf) {
    let root = root(name);
    let server = start(Config {
        root: root.clone(),
        ..config()
    });
    server.serve(Some("/fs"), None, true, false).unwrap();
    server.receive(true, Some("/fs"), false, true).unwrap();
    (server, root)
}

/// One request on a connection of its own.
fn send(server: &Server, req: &str) -> Response {
    let mut c = Client::connect(server);
    c.send(req.as_bytes());
    c.response()
}

/// `MOVE path` to `destination`, with more header lines (each ending in CRLF).
fn move_to(server: &Server, path: &str, destination: &str, more: &str) -> Response {
    send(
        server,
        &format!("MOVE {path} HTTP/1.1\r\nHost: test\r\nDestination: {destination}\r\n{more}\r\n"),
    )
}

fn put(server: &Server, path: &str, body: &str, more: &str) -> Response {
    send(
        server,
        &format!(
            "PUT {path} HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n{more}\r\n{body}",
            body.len()
        ),
    )
}

fn delete(server: &Server, path: &str, more: &str) -> Response {
    send(
        server,
        &format!("DELETE {path} HTTP/1.1\r\nHost: test\r\n{more}\r\n"),
    )
}

fn fetch(server: &Server, path: &str) -> Response {
    let mut c = Client::connect(server);
    c.send(&get(path));
    c.response()
}

/// The ETag a GET gives.
fn etag(server: &Server, path: &str) -> String {
    let r = fetch(server, path);
    assert_eq!(r.status, 200, "{path}");
    r.header("ETag").expect("an ETag").to_string()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn a_move_answers_201_when_new_and_204_when_it_replaced_a_file() {
    let (server, root) = console("statuses");
    let r = move_to(&server, "/fs/a.txt", "/fs/new.txt", "");
    assert_eq!((r.status, r.body_str()), (201, "201 Created\n".into()));
    assert_eq!(read(&root.join("new.txt")), "a");
    assert!(!root.join("a.txt").exists());
    assert_eq!(fetch(&server, "/fs/a.txt").status, 404);
    assert_eq!(fetch(&server, "/fs/new.txt").body, b"a");
    let r = move_to(&server, "/fs/new.txt", "/fs/b.txt", "Overwrite: T\r\n");
    assert_eq!(r.status, 204);
    assert_eq!(read(&root.join("b.txt")), "a");
    assert!(!root.join("new.txt").exists());
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn the_destination_is_a_path_or_a_uri_on_this_host_percent_encoded() {
    let (server, root) = console("destination");
    let r = move_to(&server, "/fs/a.txt", "http://test/fs/caf%C3%A9%20x.txt", "");
    assert_eq!(r.status, 201);
    assert_eq!(read(&root.join("café x.txt")), "a");
    let r = move_to(
        &server,
        "/fs/caf%C3%A9%20x.txt",
        "/fs/dir/%E6%97%A5.txt?ignored=1",
        "",
    );
    assert_eq!(r.status, 201);
    assert_eq!(read(&root.join("dir/日.txt")), "a");
    // Another host: this server cannot move a file there.
    let r = move_to(&server, "/fs/b.txt", "http://elsewhere/fs/x.txt", "");
    assert_eq!(r.status, 502);
    // Outside the uploader's prefix, or the root itself.
    assert_eq!(
        move_to(&server, "/fs/b.txt", "/other/x.txt", "").status,
        403
    );
    assert_eq!(move_to(&server, "/fs/b.txt", "/fsx/x.txt", "").status, 403);
    assert_eq!(move_to(&server, "/fs/b.txt", "/fs/", "").status, 403);
    // Malformed: no Destination, a relative one, a hostile path, a bad Overwrite.
    let r = send(&server, "MOVE /fs/b.txt HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_eq!(r.status, 400);
    assert_eq!(move_to(&server, "/fs/b.txt", "x.txt", "").status, 400);
    assert_eq!(
        move_to(&server, "/fs/b.txt", "/fs/%2e%2e/x", "").status,
        400
    );
    assert_eq!(
        move_to(&server, "/fs/b.txt", "/fs/x.txt", "Overwrite: maybe\r\n").status,
        400
    );
    assert_eq!(read(&root.join("b.txt")), "b");
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn what_cannot_move_is_404_409_412_or_403() {
    let (server, root) = console("refused");
    assert_eq!(move_to(&server, "/fs/missing", "/fs/x", "").status, 404);
    assert_eq!(move_to(&server, "/fs/a.txt/", "/fs/x", "").status, 404);
    // The destination's parent is missing: nothing is made.
    assert_eq!(
        move_to(&server, "/fs/a.txt", "/fs/no/x.txt", "").status,
        409
    );
    assert!(!root.join("no").exists());
    // A folder into itself.
    assert_eq!(move_to(&server, "/fs/dir/", "/fs/dir/sub/", "").status, 409);
    // Overwrite: F and the destination exists: both stay as they were.
    let r = move_to(&server, "/fs/a.txt", "/fs/b.txt", "Overwrite: F\r\n");
    assert_eq!(r.status, 412);
    assert_eq!(
        (read(&root.join("a.txt")), read(&root.join("b.txt"))),
        ("a".into(), "b".into())
    );
    // A folder over a non-empty folder.
    std::fs::create_dir_all(root.join("full")).unwrap();
    std::fs::write(root.join("full/x"), "x").unwrap();
    assert_eq!(move_to(&server, "/fs/dir/", "/fs/full/", "").status, 409);
    // The same name, and reserved names on either side.
    assert_eq!(move_to(&server, "/fs/a.txt", "/fs/a.txt", "").status, 403);
    let temp = format!(".{}.uhttpd-tmp", "0".repeat(32));
    assert_eq!(
        move_to(&server, "/fs/a.txt", &format!("/fs/{temp}"), "").status,
        403
    );
    std::fs::write(root.join(&temp), "t").unwrap();
    assert_eq!(
        move_to(&server, &format!("/fs/{temp}"), "/fs/t.txt", "").status,
        403
    );
    assert!(root.join("a.txt").exists() && root.join(&temp).exists());
    assert_eq!(read(&root.join("dir/in.txt")), "in");
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_folder_moves_with_everything_in_it() {
    let (server, root) = console("folder");
    let r = move_to(&server, "/fs/dir/", "/fs/renamed/", "");
    assert_eq!(r.status, 201);
    assert_eq!(read(&root.join("renamed/in.txt")), "in");
    assert!(!root.join("dir").exists());
    // Without its slash too, over an empty folder.
    std::fs::create_dir(root.join("empty")).unwrap();
    assert_eq!(move_to(&server, "/fs/renamed", "/fs/empty", "").status, 204);
    assert_eq!(read(&root.join("empty/in.txt")), "in");
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_link_is_moved_never_followed() {
    let (server, root) = console("link");
    std::os::unix::fs::symlink("dir", root.join("link")).unwrap();
    let r = move_to(&server, "/fs/link", "/fs/moved-link", "");
    assert_eq!(r.status, 201);
    let moved = std::fs::symlink_metadata(root.join("moved-link")).unwrap();
    assert!(moved.file_type().is_symlink());
    assert_eq!(
        std::fs::read_link(root.join("moved-link")).unwrap(),
        Path::new("dir")
    );
    assert_eq!(read(&root.join("dir/in.txt")), "in");
    // `name/` names a folder; a link to one is not.
    assert_eq!(
        move_to(&server, "/fs/moved-link/", "/fs/x/", "").status,
        404
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn move_needs_delete_true_and_a_dynamic_receiver() {
    let root = root("verbs");
    let server = start(Config {
        root: root.clone(),
        ..config()
    });
    server.receive(true, Some("/up"), false, false).unwrap();
    server.receive(false, Some("/static"), false, true).unwrap();
    let r = move_to(&server, "/up/a.txt", "/up/x.txt", "");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("Allow"), Some("POST, PUT, OPTIONS"));
    let r = move_to(&server, "/static", "/static", "");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("Allow"), Some("POST, DELETE, PUT, OPTIONS"));
    assert!(root.join("a.txt").exists());
    // No extra slot: receive(delete=True) takes two, MOVE included.
    assert!(server.route_accounting().contains("receive /static 2"));
    let (server, root2) = console("verbs-allowed");
    let r = send(&server, "OPTIONS /fs/a.txt HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_eq!(
        r.header("Allow"),
        Some("GET, HEAD, POST, DELETE, PUT, MOVE, OPTIONS")
    );
    assert!(server.route_accounting().contains("receive /fs/* 2"));
    for dir in [root, root2] {
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn extonly_keeps_the_destination_in_the_ext_mount() {
    let root = root("extonly");
    std::fs::create_dir_all(root.join("sd")).unwrap();
    std::fs::write(root.join("sd/card.txt"), "card").unwrap();
    let server = start(Config {
        root: root.clone(),
        ext: Some("/sd".into()),
        ..config()
    });
    server.receive(true, Some("/up"), true, true).unwrap();
    assert_eq!(
        move_to(&server, "/up/sd/card.txt", "/up/card.txt", "").status,
        403
    );
    assert_eq!(
        move_to(&server, "/up/a.txt", "/up/sd/a.txt", "").status,
        403
    );
    assert_eq!(
        move_to(&server, "/up/sd/card.txt", "/up/sd/c.txt", "").status,
        201
    );
    assert_eq!(read(&root.join("sd/c.txt")), "card");
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn the_file_acl_is_asked_about_both_paths_and_every_entry_of_a_folder() {
    let (server, root) = console("acl");
    std::fs::create_dir_all(root.join("ro")).unwrap();
    std::fs::write(root.join("ro/keep.txt"), "keep").unwrap();
    std::fs::create_dir_all(root.join("tree/ro")).unwrap();
    std::fs::write(root.join("tree/ro/deep.txt"), "deep").unwrap();
    let asked = Arc::new(Mutex::new(Vec::new()));
    let seen = asked.clone();
    server.set_file_acl(Some(Arc::new(move |path: &str| {
        seen.lock().unwrap().push(path.to_string());
        if path.contains("/ro/") {
            AclDecision::Grant(uhttpd::ACL_RO)
        } else {
            AclDecision::Grant(uhttpd::ACL_RW)
        }
    })));
    // The source refused, then the destination.
    assert_eq!(
        move_to(&server, "/fs/ro/keep.txt", "/fs/kept.txt", "").status,
        403
    );
    assert_eq!(
        move_to(&server, "/fs/a.txt", "/fs/ro/a.txt", "").status,
        403
    );
    // A folder whose entry is read-only does not move.
    assert_eq!(move_to(&server, "/fs/tree/", "/fs/moved/", "").status, 403);
    assert!(asked.lock().unwrap().contains(&"/tree/ro/".to_string()));
    assert_eq!(read(&root.join("ro/keep.txt")), "keep");
    assert_eq!(read(&root.join("a.txt")), "a");
    assert_eq!(read(&root.join("tree/ro/deep.txt")), "deep");
    assert!(!root.join("moved").exists() && !root.join("kept.txt").exists());
    // Allowed both ways: asked about the source and the destination.
    asked.lock().unwrap().clear();
    assert_eq!(move_to(&server, "/fs/dir/", "/fs/moved/", "").status, 201);
    let mut asked = asked.lock().unwrap().clone();
    asked.sort();
    asked.dedup();
    assert_eq!(asked, ["/dir/", "/dir/in.txt", "/moved/", "/moved/in.txt"]);
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn if_match_takes_the_etag_get_gave_and_a_stale_one_is_412() {
    let (server, root) = console("if-match");
    let seen = etag(&server, "/fs/a.txt");
    // Someone else changes the file (its size, hence its ETag).
    std::fs::write(root.join("a.txt"), "changed").unwrap();
    let stale = format!("If-Match: {seen}\r\n");
    let r = put(&server, "/fs/a.txt", "mine", &stale);
    assert_eq!(
        (r.status, r.body_str()),
        (412, "412 Precondition Failed\n".into())
    );
    assert_eq!(delete(&server, "/fs/a.txt", &stale).status, 412);
    assert_eq!(
        move_to(&server, "/fs/a.txt", "/fs/x.txt", &stale).status,
        412
    );
    assert_eq!(read(&root.join("a.txt")), "changed");
    assert!(!root.join("x.txt").exists());
    // The current one goes through, on each verb.
    let current = format!("If-Match: {}\r\n", etag(&server, "/fs/a.txt"));
    assert_eq!(put(&server, "/fs/a.txt", "mine", &current).status, 204);
    assert_eq!(read(&root.join("a.txt")), "mine");
    let current = format!("If-Match: \"other\", {}\r\n", etag(&server, "/fs/a.txt"));
    assert_eq!(
        move_to(&server, "/fs/a.txt", "/fs/x.txt", &current).status,
        201
    );
    let current = format!("If-Match: {}\r\n", etag(&server, "/fs/x.txt"));
    assert_eq!(delete(&server, "/fs/x.txt", &current).status, 204);
    assert!(!root.join("x.txt").exists());
    // A weak tag never matches.
    let weak = format!("If-Match: W/{}\r\n", etag(&server, "/fs/b.txt"));
    assert_eq!(put(&server, "/fs/b.txt", "w", &weak).status, 412);
    assert_eq!(read(&root.join("b.txt")), "b");
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn if_match_any_needs_the_file_and_if_none_match_any_creates_only() {
    let (server, root) = console("any");
    let any = "If-Match: *\r\n";
    assert_eq!(put(&server, "/fs/new.txt", "n", any).status, 412);
    assert_eq!(delete(&server, "/fs/new.txt", any).status, 412);
    assert_eq!(move_to(&server, "/fs/new.txt", "/fs/x", any).status, 412);
    assert!(!root.join("new.txt").exists());
    assert_eq!(put(&server, "/fs/a.txt", "A", any).status, 204);
    assert_eq!(move_to(&server, "/fs/dir/", "/fs/d2/", any).status, 201);
    let create_only = "If-None-Match: *\r\n";
    assert_eq!(put(&server, "/fs/b.txt", "B", create_only).status, 412);
    assert_eq!(read(&root.join("b.txt")), "b");
    assert_eq!(put(&server, "/fs/fresh.txt", "f", create_only).status, 201);
    assert_eq!(read(&root.join("fresh.txt")), "f");
    assert_eq!(
        send(
            &server,
            &format!("POST /fs/d2/ HTTP/1.1\r\nHost: test\r\n{create_only}\r\n")
        )
        .status,
        412
    );
    // The tag GET gave, in If-None-Match: the file is still that one.
    let same = format!("If-None-Match: {}\r\n", etag(&server, "/fs/a.txt"));
    assert_eq!(put(&server, "/fs/a.txt", "again", &same).status, 412);
    assert_eq!(read(&root.join("a.txt")), "A");
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_precondition_is_asked_after_the_acl() {
    let (server, root) = console("acl-first");
    server.set_file_acl(Some(Arc::new(|_: &str| AclDecision::Deny(451))));
    // The ACL's answer, not a 412 that would tell whether the file is there.
    assert_eq!(
        put(&server, "/fs/a.txt", "x", "If-Match: \"nope\"\r\n").status,
        451
    );
    assert_eq!(
        move_to(&server, "/fs/missing", "/fs/x", "If-Match: *\r\n").status,
        451
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_move_is_observed_with_its_destination() {
    let (server, root) = console("observed");
    server.observations(Duration::ZERO);
    assert_eq!(
        move_to(&server, "/fs/a.txt", "/fs/c%20d.txt", "").status,
        201
    );
    assert_eq!(
        move_to(&server, "/fs/c%20d.txt", "/fs/b.txt", "").status,
        204
    );
    assert_eq!(move_to(&server, "/fs/dir", "/fs/moved", "").status, 201);
    assert_eq!(move_to(&server, "/fs/missing", "/fs/x", "").status, 404);
    let mut changes = Vec::new();
    for _ in 0..30 {
        if changes.len() >= 3 {
            break;
        }
        let seen = server.observations(Duration::from_millis(100));
        changes.extend(seen.into_iter().filter_map(|o| match o {
            Observation::File { path, change } => Some((path, change)),
            Observation::Request { .. } => None,
        }));
    }
    let moved = |destination: &str, replaced| FileChange::Moved {
        destination: destination.into(),
        replaced,
    };
    assert_eq!(
        changes,
        [
            ("/a.txt".to_string(), moved("/c d.txt", false)),
            ("/c d.txt".to_string(), moved("/b.txt", true)),
            ("/dir/".to_string(), moved("/moved/", false)),
        ]
    );
    std::fs::remove_dir_all(&root).unwrap();
}
