//! The file server's directory features over raw bytes on loopback: the
//! listing's `mtime`, and `GET <folder>/?zip` (what the archive holds and
//! leaves out, the file ACL, `dirs=True`, a client that stops reading or
//! goes away).

mod common;

use std::io::{Cursor, Read};
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use common::*;
use uhttpd::{AclDecision, Config, Server, ACL_RO};
use zip::ZipArchive;

/// A fresh directory beside the device's `/` (`outside/`), and the root
/// in it (`root/`).
fn scratch(name: &str) -> PathBuf {
    let base = std::env::temp_dir().join(format!("uhttpd-files-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(base.join("root")).unwrap();
    std::fs::create_dir_all(base.join("outside")).unwrap();
    std::fs::write(base.join("outside/secret.txt"), "SECRET").unwrap();
    base
}

/// Serves `base/root` at `/fs`, with or without `dirs`.
fn file_server(base: &Path, dirs: bool) -> Server {
    let server = start(Config {
        root: base.join("root"),
        ..config()
    });
    server.serve(Some("/fs"), None, dirs, false).unwrap();
    server
}

fn write(path: &Path, data: impl AsRef<[u8]>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
}

/// Sets the modification time of a file or directory.
fn set_mtime(path: &Path, unix_seconds: u64) {
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(unix_seconds);
    std::fs::File::open(path)
        .unwrap()
        .set_modified(when)
        .unwrap();
}

fn fetch(server: &Server, request: &[u8]) -> Response {
    let mut c = Client::connect(server);
    c.send(request);
    c.response()
}

#[test]
fn listing_entries_carry_their_modification_time() {
    let base = scratch("mtime");
    let top = base.join("root/top");
    write(&top.join("old.txt"), "old");
    write(&top.join("new.txt"), "new");
    std::fs::create_dir(top.join("dir")).unwrap();
    set_mtime(&top.join("old.txt"), 1_000_000_000);
    set_mtime(&top.join("dir"), 1_200_000_000);
    set_mtime(&top, 1_300_000_000);
    let server = file_server(&base, true);
    let r = fetch(&server, &get("/fs/top/"));
    assert_eq!(r.status, 200);
    let document: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let list = document["list"].as_array().unwrap();
    let mtime_of = |name: &str| {
        list.iter()
            .find(|e| e["path"] == name)
            .unwrap_or_else(|| panic!("{name} listed"))["mtime"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(mtime_of("old.txt"), 1_000_000_000);
    assert_eq!(mtime_of("dir"), 1_200_000_000);
    // `..` gets the listed directory's own.
    assert_eq!(mtime_of(".."), 1_300_000_000);
    let stat = std::fs::metadata(top.join("new.txt")).unwrap();
    assert_eq!(mtime_of("new.txt"), stat.mtime());
    // Nothing else changed: the seed's keys, then mtime.
    for entry in list {
        let keys: Vec<&str> = entry
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(keys, ["path", "type", "size", "mtime"]);
    }
    std::fs::remove_dir_all(&base).unwrap();
}

/// `tree/` with files, nested and empty folders, and what a zip leaves out:
/// a link out of root, a link inside it, a reserved name, a FIFO.
fn zip_tree(base: &Path) -> PathBuf {
    let tree = base.join("root/tree");
    write(&tree.join("a.txt"), "alpha");
    write(&tree.join("nested/deeper/c.bin"), [0u8, 1, 2, 255]);
    write(&tree.join("nested/b.txt"), "bee");
    write(&tree.join("secret/s.txt"), "refused");
    write(&tree.join("hidden.txt"), "refused too");
    std::fs::create_dir_all(tree.join("empty")).unwrap();
    write(&tree.join(".0123456789abcdef.uhttpd-tmp"), "partial");
    symlink(base.join("outside"), tree.join("out")).unwrap();
    symlink(base.join("outside/secret.txt"), tree.join("out.txt")).unwrap();
    symlink("a.txt", tree.join("inside-link")).unwrap();
    let fifo =
        std::ffi::CString::new(tree.join("pipe").into_os_string().into_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    set_mtime(&tree.join("a.txt"), 1_000_000_000);
    tree
}

fn unpack(body: Vec<u8>) -> ZipArchive<Cursor<Vec<u8>>> {
    ZipArchive::new(Cursor::new(body)).expect("a valid zip")
}

fn names(archive: &ZipArchive<Cursor<Vec<u8>>>) -> Vec<String> {
    let mut names: Vec<String> = archive.file_names().map(str::to_string).collect();
    names.sort();
    names
}

fn contents(archive: &mut ZipArchive<Cursor<Vec<u8>>>, name: &str) -> Vec<u8> {
    let mut data = Vec::new();
    archive
        .by_name(name)
        .unwrap()
        .read_to_end(&mut data)
        .unwrap();
    data
}

#[test]
fn a_folder_zip_holds_its_files_and_folders_and_nothing_else() {
    let base = scratch("zip");
    zip_tree(&base);
    let server = file_server(&base, true);
    let r = fetch(&server, &get("/fs/tree/?zip"));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/zip"));
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"tree.zip\"")
    );
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    let mut archive = unpack(r.body);
    assert_eq!(
        names(&archive),
        [
            "a.txt",
            "empty/",
            "hidden.txt",
            "nested/",
            "nested/b.txt",
            "nested/deeper/",
            "nested/deeper/c.bin",
            "secret/",
            "secret/s.txt",
        ]
    );
    assert_eq!(contents(&mut archive, "a.txt"), b"alpha");
    assert_eq!(contents(&mut archive, "nested/b.txt"), b"bee");
    assert_eq!(
        contents(&mut archive, "nested/deeper/c.bin"),
        [0u8, 1, 2, 255]
    );
    let a = archive.by_name("a.txt").unwrap();
    let kept = a.extra_data_fields().find_map(|field| match field {
        zip::ExtraField::ExtendedTimestamp(t) => t.mod_time(),
        _ => None,
    });
    assert_eq!(kept, Some(1_000_000_000));
    drop(a);
    assert!(archive.by_name("empty/").unwrap().is_dir());
    std::fs::remove_dir_all(&base).unwrap();
}

#[test]
fn the_top_zips_as_root_and_a_folder_without_its_slash_redirects_keeping_zip() {
    let base = scratch("zip-top");
    write(&base.join("root/f.txt"), "f");
    write(&base.join("root/d/g.txt"), "g");
    let server = file_server(&base, true);
    let r = fetch(&server, &get("/fs/?zip=1"));
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"root.zip\"")
    );
    assert_eq!(names(&unpack(r.body)), ["d/", "d/g.txt", "f.txt"]);
    let r = fetch(&server, &get("/fs/d?zip"));
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/fs/d/?zip"));
    // HEAD: the same head, no archive made.
    let mut c = Client::connect(&server);
    c.send(b"HEAD /fs/d/?zip HTTP/1.1\r\nHost: test\r\n\r\n");
    let head = c.head_response();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-type"), Some("application/zip"));
    // The connection stays usable after a zip.
    c.send(&get("/fs/d/?zip"));
    assert_eq!(names(&unpack(c.response().body)), ["g.txt"]);
    c.send(&get("/fs/f.txt"));
    assert_eq!(c.response().body, b"f");
    std::fs::remove_dir_all(&base).unwrap();
}

#[test]
fn without_dirs_a_zip_is_404_like_a_listing() {
    let base = scratch("zip-nodirs");
    write(&base.join("root/d/g.txt"), "g");
    let server = file_server(&base, false);
    let listing = fetch(&server, &get("/fs/d/"));
    let zip = fetch(&server, &get("/fs/d/?zip"));
    assert_eq!((listing.status, zip.status), (404, 404));
    assert_eq!(zip.body, listing.body);
    std::fs::remove_dir_all(&base).unwrap();
}

#[test]
fn file_acl_refusals_leave_entries_out_of_the_zip() {
    let base = scratch("zip-acl");
    zip_tree(&base);
    let server = file_server(&base, true);
    let asked = Arc::new(Mutex::new(Vec::new()));
    let record = asked.clone();
    server.set_file_acl(Some(Arc::new(move |path: &str| {
        record.lock().unwrap().push(path.to_string());
        if path == "/tree/secret/" || path == "/tree/hidden.txt" {
            AclDecision::Deny(403)
        } else {
            AclDecision::Grant(ACL_RO)
        }
    })));
    let r = fetch(&server, &get("/fs/tree/?zip"));
    assert_eq!(r.status, 200);
    assert_eq!(
        names(&unpack(r.body)),
        [
            "a.txt",
            "empty/",
            "nested/",
            "nested/b.txt",
            "nested/deeper/",
            "nested/deeper/c.bin",
        ]
    );
    // Every entry asked about once (the folder first), and nothing inside
    // a refused folder.
    let mut asked = asked.lock().unwrap().clone();
    asked.sort();
    assert_eq!(
        asked,
        [
            "/tree/",
            "/tree/a.txt",
            "/tree/empty/",
            "/tree/hidden.txt",
            "/tree/nested/",
            "/tree/nested/b.txt",
            "/tree/nested/deeper/",
            "/tree/nested/deeper/c.bin",
            "/tree/secret/",
        ]
    );
    std::fs::remove_dir_all(&base).unwrap();
}

/// Descriptors of this process open on `dir` or below it: the walk of a
/// zip holds its folders' while it runs.
fn descriptors_below(dir: &Path) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter(|fd| std::fs::read_link(fd.path()).is_ok_and(|target| target.starts_with(dir)))
        .count()
}

#[test]
fn a_client_that_stops_reading_holds_the_walk_and_one_that_goes_away_ends_it() {
    let base = scratch("zip-gone");
    std::fs::create_dir(base.join("root/big")).unwrap();
    let tree = base.join("root/big").canonicalize().unwrap();
    const FILES: usize = 64;
    for n in 0..FILES {
        // Sparse: 4 MiB each to read, nothing on the disk.
        let file = std::fs::File::create(tree.join(format!("f{n:03}.bin"))).unwrap();
        file.set_len(4 << 20).unwrap();
    }
    let server = file_server(&base, true);
    let asked = counter();
    let count_asked = asked.clone();
    server.set_file_acl(Some(Arc::new(move |_: &str| {
        count_asked.fetch_add(1, Ordering::SeqCst);
        AclDecision::Grant(ACL_RO)
    })));
    let mut c = Client::connect(&server);
    c.send(&get("/fs/big/?zip"));
    // The head and a little of the archive, then nothing read: the writer
    // fills the socket and its queue, and waits.
    let _ = c.read_bytes(1024);
    let settled = wait_for(Duration::from_secs(5), || {
        let before = count(&asked);
        std::thread::sleep(Duration::from_millis(200));
        count(&asked) == before
    });
    assert!(settled, "the walk waits for the client");
    assert!(
        count(&asked) < FILES / 2,
        "{} of {FILES} asked",
        count(&asked)
    );
    assert!(descriptors_below(&tree) > 0, "the walk holds its folder");
    drop(c);
    assert!(
        wait_for(Duration::from_secs(5), || descriptors_below(&tree) == 0),
        "the walk ended and let its folder go"
    );
    assert!(
        count(&asked) < FILES / 2,
        "{} of {FILES} asked",
        count(&asked)
    );
    std::fs::remove_dir_all(&base).unwrap();
}
