//! HTTPS on the server's port: requests over TLS with a verifying rustls
//! client, plain HTTP and TLS sent to the wrong kind of port, and the bad
//! input a TLS port must survive (a handshake that never ends, garbage).
#![cfg(feature = "tls")]

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use uhttpd::tls::{self_signed, TlsIdentity};
use uhttpd::{Config, Limits, Methods, Server};

/// A certificate made for this test binary, and the identity loaded from it.
fn identity(name: &str) -> (TlsIdentity, PathBuf) {
    let dir = std::env::temp_dir().join(format!("uhttpd-tls-it-{name}-{}", std::process::id()));
    let (cert, key) = self_signed::ensure(&dir, &self_signed::default_names("127.0.0.1")).unwrap();
    (TlsIdentity::from_pem_files(&cert, &key).unwrap(), cert)
}

fn tls_server(name: &str, limits: Limits) -> (Server, PathBuf) {
    let (identity, cert) = identity(name);
    let server = start(Config {
        tls: Some(identity),
        limits,
        ..config()
    });
    counted_route(&server, "/hello", Methods::GET, "hello over tls");
    (server, cert)
}

type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A TLS server with `root`'s files (and listings) at `/fs`.
fn tls_file_server(name: &str, root: &std::path::Path) -> (Server, PathBuf) {
    let (identity, cert) = identity(name);
    let server = start(Config {
        tls: Some(identity),
        root: root.to_path_buf(),
        ..config()
    });
    server.serve(Some("/fs"), None, true, false).unwrap();
    (server, cert)
}

/// A verifying TLS client that trusts only `cert`.
fn tls_client(server: &Server, cert: &PathBuf) -> Client<TlsStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(cert).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let tcp = Client::connect(server).stream;
    Client::over(rustls::StreamOwned::new(conn, tcp))
}

#[test]
fn requests_over_tls_keep_alive_and_the_fingerprint_is_the_served_certificate() {
    let (server, cert) = tls_server("get", config().limits);
    let mut client = tls_client(&server, &cert);
    for _ in 0..2 {
        client.send(&get("/hello"));
        let r = client.response();
        assert_eq!((r.status, r.body_str().as_str()), (200, "hello over tls"));
    }
    let served = client.stream.conn.peer_certificates().unwrap()[0].clone();
    assert_eq!(
        server.tls_fingerprint(),
        Some(uhttpd::tls::fingerprint(&served).as_str())
    );
}

#[test]
fn a_file_larger_than_a_tls_record_arrives_whole() {
    let root = std::env::temp_dir().join(format!("uhttpd-tls-it-root-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    let data: Vec<u8> = (0..3 * 1024 * 1024 + 7)
        .map(|i| (i * 31 % 251) as u8)
        .collect();
    std::fs::write(root.join("big.bin"), &data).unwrap();
    let (server, cert) = tls_file_server("file", &root);
    let mut client = tls_client(&server, &cert);
    client.send(&get("/fs/big.bin"));
    let r = client.response();
    assert_eq!(r.status, 200);
    assert!(
        r.body == data,
        "{} bytes came, {} sent",
        r.body.len(),
        data.len()
    );
}

#[test]
fn a_folder_zip_arrives_whole_over_tls() {
    let root = std::env::temp_dir().join(format!("uhttpd-tls-it-zip-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("site/css")).unwrap();
    let data: Vec<u8> = (0..3 * 1024 * 1024 + 7)
        .map(|i| (i * 31 % 251) as u8)
        .collect();
    std::fs::write(root.join("site/big.bin"), &data).unwrap();
    std::fs::write(root.join("site/css/a.css"), "p {}").unwrap();
    let (server, cert) = tls_file_server("zip", &root);
    let mut client = tls_client(&server, &cert);
    client.send(&get("/fs/site/?zip"));
    let r = client.response();
    assert_eq!(r.status, 200);
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(r.body)).unwrap();
    let mut names: Vec<&str> = archive.file_names().collect();
    names.sort();
    assert_eq!(names, ["big.bin", "css/", "css/a.css"]);
    let mut big = Vec::new();
    std::io::Read::read_to_end(&mut archive.by_name("big.bin").unwrap(), &mut big).unwrap();
    assert!(big == data, "{} bytes came, {} sent", big.len(), data.len());
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn stats_count_the_bytes_before_encryption() {
    let (server, cert) = tls_server("stats", config().limits);
    let mut client = tls_client(&server, &cert);
    let request = b"GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    client.send(request);
    let reply = client.read_to_close();
    assert!(reply.starts_with(b"HTTP/1.1 200"));
    assert!(wait_for(TIMEOUT, || {
        let stats = server.stats();
        stats.requests == 1 && stats.connections == 0
    }));
    let stats = server.stats();
    // The handshake and the records' framing are left out.
    assert_eq!(
        (stats.bytes_in, stats.bytes_out),
        (request.len() as u64, reply.len() as u64)
    );
}

#[test]
fn plain_http_on_the_tls_port_is_told_to_use_https() {
    let (server, cert) = tls_server("plain", config().limits);
    let mut client = Client::connect(&server);
    client.send(b"GET /hello?x=1 HTTP/1.1\r\nHost: pi.local:8443\r\n\r\n");
    let r = client.response();
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body_str(),
        "400 Bad Request: this port speaks HTTPS. Use https://pi.local:8443/hello?x=1\n"
    );
    client.expect_closed();
    // HTTPS goes on.
    let mut tls = tls_client(&server, &cert);
    tls.send(&get("/hello"));
    assert_eq!(tls.response().status, 200);
}

#[test]
fn a_handshake_that_never_finishes_ends_at_the_header_timeout_and_frees_its_slot() {
    let limits = Limits {
        header_timeout: Duration::from_millis(600),
        max_connections: 1,
        ..config().limits
    };
    let (server, cert) = tls_server("stall", limits);
    let mut stalled = Client::connect(&server);
    let started = Instant::now();
    stalled.send(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]);
    stalled.expect_closed();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(500) && waited < TIMEOUT,
        "closed after {waited:?}"
    );
    // The one connection slot is free again.
    let served = wait_for(TIMEOUT, || {
        let mut tls = tls_client(&server, &cert);
        tls.send(&get("/hello"));
        tls.response().status == 200
    });
    assert!(served);
}

#[test]
fn garbage_after_a_handshake_byte_closes_that_connection_only() {
    let (server, cert) = tls_server("garbage", config().limits);
    let mut open = tls_client(&server, &cert);
    open.send(&get("/hello"));
    assert_eq!(open.response().status, 200);
    for garbage in [
        &b"\x16\x03\x01\x00\x05hello"[..],
        &b"\x16\xff\xff\xff\xff\xff\xff\xff\xff"[..],
        &[0x16; 300][..],
    ] {
        let mut client = Client::connect(&server);
        let _ = client.try_send(garbage);
        // Whatever comes back (a TLS alert at most) is not HTTP, then the close.
        let reply = client.read_to_close();
        assert!(
            reply.is_empty() || reply[0] == 0x15,
            "{garbage:?} got {reply:?}"
        );
    }
    // A truncated ClientHello, then the client closes.
    let mut truncated = TcpStream::connect(addr(&server)).unwrap();
    truncated
        .write_all(&[0x16, 0x03, 0x01, 0x00, 0x40, 0x01])
        .unwrap();
    drop(truncated);
    // The connection opened before is unaffected, and new ones are served.
    open.send(&get("/hello"));
    assert_eq!(open.response().status, 200);
    let mut fresh = tls_client(&server, &cert);
    fresh.send(&get("/hello"));
    assert_eq!(fresh.response().status, 200);
}

#[test]
fn bad_identity_files_are_refused_naming_the_file() {
    let (_, cert) = identity("files");
    let key = cert.with_file_name(self_signed::KEY_FILE);
    let missing = cert.with_file_name("missing.pem");
    let err = TlsIdentity::from_pem_files(&missing, &key).unwrap_err();
    assert!(matches!(err.class(), uhttpd::ErrorClass::Os(Some(2))));
    assert!(err.message().contains("missing.pem"), "{}", err.message());
    let err = TlsIdentity::from_pem_files(&key, &key).unwrap_err();
    assert_eq!(err.class(), uhttpd::ErrorClass::Value);
    assert!(
        err.message().contains("no PEM CERTIFICATE"),
        "{}",
        err.message()
    );
    // Another certificate's key.
    let (_, other) = identity("other-key");
    let other_key = other.with_file_name(self_signed::KEY_FILE);
    let err = TlsIdentity::from_pem_files(&cert, &other_key).unwrap_err();
    assert!(
        err.message().contains("is not the key of the certificate"),
        "{}",
        err.message()
    );
}
