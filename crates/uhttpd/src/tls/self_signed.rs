//! A self-signed certificate for a device console with none: made once
//! (ECDSA P-256, rcgen), kept as `cert.pem` and `key.pem` in a directory of
//! the user's, and reused while it is valid and names every address asked for.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair, PKCS_ECDSA_P256_SHA256};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use time::{Duration, OffsetDateTime};
use x509_parser::extensions::GeneralName;
use x509_parser::time::ASN1Time;

use crate::error::{Error, Result};

/// Validity of a certificate made here: 825 days, the longest Apple's
/// platforms accept for a TLS server certificate.
pub const VALIDITY_DAYS: i64 = 825;

/// A kept certificate this close to its end is replaced rather than reused,
/// so a console started today still works next week.
pub const RENEW_BEFORE_DAYS: i64 = 30;

/// File names inside the directory.
pub const CERT_FILE: &str = "cert.pem";
/// See [`CERT_FILE`].
pub const KEY_FILE: &str = "key.pem";

/// The names a console's certificate covers: `localhost`, `127.0.0.1`,
/// `::1`, this machine's host name, and `host` unless it is a wildcard
/// address (`0.0.0.0`, `::`) or empty.
pub fn default_names(host: &str) -> Vec<String> {
    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".into(),
        "::1".into(),
        host_name(),
    ];
    let wildcard = host.parse::<IpAddr>().is_ok_and(|ip| ip.is_unspecified());
    if !host.is_empty() && !wildcard {
        names.push(host.to_string());
    }
    names
}

/// This machine's host name (`uname -n`).
fn host_name() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

/// The certificate and key in `dir` when they are valid for another
/// [`RENEW_BEFORE_DAYS`] and cover `names`; else new ones, written there
/// (the directory made owner-only, the key file 0600). Names that are
/// neither an IP address nor a valid DNS name are left out.
pub fn ensure(dir: &Path, names: &[String]) -> Result<(PathBuf, PathBuf)> {
    let (certfile, keyfile) = (dir.join(CERT_FILE), dir.join(KEY_FILE));
    let wanted = normalized(names);
    if keyfile.is_file() && covers(&certfile, &wanted) {
        return Ok((certfile, keyfile));
    }
    let (cert_pem, key_pem) = generate(&wanted)?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| unwritable(dir, source))?;
    write_private(&keyfile, key_pem.as_bytes())?;
    write_private(&certfile, cert_pem.as_bytes())?;
    log::info!(
        target: "uhttpd",
        "made a self-signed certificate for {} in {}",
        wanted.iter().cloned().collect::<Vec<_>>().join(", "),
        dir.display()
    );
    Ok((certfile, keyfile))
}

/// Names in one spelling (IP addresses as Rust prints them), invalid ones dropped.
fn normalized(names: &[String]) -> BTreeSet<String> {
    names
        .iter()
        .filter_map(|name| match name.parse::<IpAddr>() {
            Ok(ip) => Some(ip.to_string()),
            Err(_) if ServerName::try_from(name.as_str()).is_ok() => Some(name.to_lowercase()),
            Err(_) => {
                log::info!(target: "uhttpd", "{name:?} is not a host name: left out of the certificate");
                None
            }
        })
        .collect()
}

fn generate(names: &BTreeSet<String>) -> Result<(String, String)> {
    let failed =
        |e: rcgen::Error| Error::InvalidArgument(format!("cannot make a certificate: {e}"));
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(failed)?;
    let mut params =
        CertificateParams::new(names.iter().cloned().collect::<Vec<_>>()).map_err(failed)?;
    params
        .distinguished_name
        .push(DnType::CommonName, format!("uhttpd on {}", host_name()));
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let now = OffsetDateTime::now_utc();
    // A day back, so a client whose clock is a little behind accepts it.
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(VALIDITY_DAYS);
    let cert = params.self_signed(&key).map_err(failed)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Whether the certificate at `certfile` is valid for a while yet and names all of `wanted`.
fn covers(certfile: &Path, wanted: &BTreeSet<String>) -> bool {
    let Ok(pem) = fs::read(certfile) else {
        return false;
    };
    let Ok(der) = CertificateDer::from_pem_slice(&pem) else {
        return false;
    };
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(&der) else {
        return false;
    };
    let renew_at = ASN1Time::now().timestamp() + RENEW_BEFORE_DAYS * 24 * 3600;
    if cert.validity().not_after.timestamp() < renew_at {
        return false;
    }
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return false;
    };
    let named: BTreeSet<String> = san
        .value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some(dns.to_lowercase()),
            GeneralName::IPAddress(&[a, b, c, d]) => Some(IpAddr::from([a, b, c, d]).to_string()),
            GeneralName::IPAddress(bytes) => <[u8; 16]>::try_from(*bytes)
                .ok()
                .map(|v6| IpAddr::from(v6).to_string()),
            _ => None,
        })
        .collect();
    wanted.is_subset(&named)
}

/// Writes `data` to a new owner-only file beside `path`, then renames it over
/// `path`: a reader sees the old file or the new one, never half of one.
fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    let partial = path.with_extension("pem.partial");
    let written = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)
        .and_then(|mut file| file.write_all(data).and_then(|()| file.sync_all()))
        .and_then(|()| fs::rename(&partial, path));
    written.map_err(|source| {
        let _ = fs::remove_file(&partial);
        unwritable(path, source)
    })
}

fn unwritable(path: &Path, source: std::io::Error) -> Error {
    Error::TlsFileAccess {
        what: "certificate directory",
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::TlsIdentity;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("uhttpd-tls-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn made_once_then_reused_and_loadable() {
        let dir = temp_dir("reuse");
        let names = default_names("127.0.0.1");
        let (cert, key) = ensure(&dir, &names).unwrap();
        let first = fs::read(&cert).unwrap();
        let identity = TlsIdentity::from_pem_files(&cert, &key).unwrap();
        assert_eq!(identity.fingerprint().len(), 32 * 3 - 1);
        ensure(&dir, &names).unwrap();
        assert_eq!(
            fs::read(&cert).unwrap(),
            first,
            "a valid certificate is reused"
        );
        let mode = fs::metadata(&key).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_new_address_makes_a_new_certificate() {
        let dir = temp_dir("names");
        let (cert, _) = ensure(&dir, &default_names("0.0.0.0")).unwrap();
        let first = fs::read(&cert).unwrap();
        ensure(&dir, &default_names("192.0.2.7")).unwrap();
        assert_ne!(fs::read(&cert).unwrap(), first);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn default_names_skip_wildcards() {
        let names = default_names("::");
        assert!(names.contains(&"localhost".to_string()) && names.contains(&"::1".to_string()));
        assert!(!names.contains(&"::".to_string()));
        assert!(default_names("10.0.0.2").contains(&"10.0.0.2".to_string()));
    }

    #[test]
    fn names_that_are_not_hosts_are_left_out() {
        let kept = normalized(&[
            "bad name!".to_string(),
            "::0:1".to_string(),
            "Pi.local".to_string(),
        ]);
        assert_eq!(kept.into_iter().collect::<Vec<_>>(), ["::1", "pi.local"]);
    }

    #[test]
    fn a_certificate_near_its_end_is_replaced() {
        let dir = temp_dir("renew");
        let names = default_names("127.0.0.1");
        let wanted = normalized(&names);
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params =
            CertificateParams::new(wanted.iter().cloned().collect::<Vec<_>>()).unwrap();
        params.not_after = OffsetDateTime::now_utc() + Duration::days(RENEW_BEFORE_DAYS - 1);
        let ending = params.self_signed(&key).unwrap().pem();
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(CERT_FILE), &ending).unwrap();
        fs::write(dir.join(KEY_FILE), key.serialize_pem()).unwrap();
        let (cert, _) = ensure(&dir, &names).unwrap();
        assert_ne!(fs::read_to_string(&cert).unwrap(), ending);
        fs::remove_dir_all(&dir).unwrap();
    }
}
