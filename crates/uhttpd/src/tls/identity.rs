//! A server's TLS identity, loaded from PEM files and checked at once: a
//! missing file, a file without a certificate or key, a key that is not the
//! certificate's, or a certificate out of its validity period is refused
//! naming the file, before the server binds.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use x509_parser::time::ASN1Time;

use crate::error::{Error, Result};

/// The certificate chain and key a TLS server presents; cheap to clone.
#[derive(Clone)]
pub struct TlsIdentity {
    config: Arc<ServerConfig>,
    fingerprint: String,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

const CERTIFICATE: &str = "certificate file";
const KEY: &str = "key file";

impl TlsIdentity {
    /// Loads `certfile` (PEM: the server's certificate first, then any
    /// intermediates) and `keyfile` (PEM: PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem_files(certfile: &Path, keyfile: &Path) -> Result<TlsIdentity> {
        let cert_pem = read(CERTIFICATE, certfile)?;
        let chain = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid(CERTIFICATE, certfile, format!("bad PEM: {e}")))?;
        let Some(leaf) = chain.first() else {
            return Err(invalid(
                CERTIFICATE,
                certfile,
                "no PEM CERTIFICATE block".into(),
            ));
        };
        check_validity(leaf, certfile)?;
        let fingerprint = super::fingerprint(leaf);
        let key_pem = read(KEY, keyfile)?;
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| {
            invalid(
                KEY,
                keyfile,
                "no PEM private key (PKCS#8, PKCS#1 or SEC1)".into(),
            )
        })?;
        let config = server_config(chain, key).map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => invalid(
                KEY,
                keyfile,
                format!(
                    "is not the key of the certificate in {}",
                    certfile.display()
                ),
            ),
            other => invalid(KEY, keyfile, other.to_string()),
        })?;
        Ok(TlsIdentity {
            config: Arc::new(config),
            fingerprint,
        })
    }

    /// The SHA-256 fingerprint of the certificate served, `AB:CD:…`.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.config.clone())
    }
}

/// TLS 1.3 and 1.2 with ring's cipher suites; HTTP/1.1 offered by ALPN so
/// clients that also speak h2 settle on it at once.
fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<ServerConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// A certificate that clients would refuse as expired (or not yet valid) is
/// refused here, where its owner sees why.
fn check_validity(leaf: &CertificateDer<'_>, certfile: &Path) -> Result<()> {
    let (_, cert) = x509_parser::parse_x509_certificate(leaf)
        .map_err(|e| invalid(CERTIFICATE, certfile, format!("bad certificate: {e}")))?;
    let validity = cert.validity();
    let now = ASN1Time::now();
    if now > validity.not_after {
        let when = validity.not_after.to_rfc2822().unwrap_or_default();
        return Err(invalid(CERTIFICATE, certfile, format!("expired on {when}")));
    }
    if now < validity.not_before {
        let when = validity.not_before.to_rfc2822().unwrap_or_default();
        return Err(invalid(
            CERTIFICATE,
            certfile,
            format!("is not valid before {when}"),
        ));
    }
    Ok(())
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::TlsFileAccess {
        what,
        path: path.to_path_buf(),
        source,
    })
}

fn invalid(what: &'static str, path: &Path, why: String) -> Error {
    Error::TlsFileInvalid {
        what,
        path: PathBuf::from(path),
        why,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, KeyPair};
    use time::{Duration, OffsetDateTime};

    /// Writes a certificate valid from `not_before` to `not_after` and its key.
    fn pair(
        name: &str,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> (PathBuf, PathBuf) {
        let dir =
            std::env::temp_dir().join(format!("uhttpd-identity-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params.not_before = not_before;
        params.not_after = not_after;
        let cert = params.self_signed(&key).unwrap();
        let (certfile, keyfile) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&certfile, cert.pem()).unwrap();
        std::fs::write(&keyfile, key.serialize_pem()).unwrap();
        (certfile, keyfile)
    }

    #[test]
    fn an_expired_certificate_is_refused_with_its_date() {
        let now = OffsetDateTime::now_utc();
        let (cert, key) = pair("expired", now - Duration::days(30), now - Duration::days(1));
        let err = TlsIdentity::from_pem_files(&cert, &key).unwrap_err();
        assert!(err.message().contains("expired on"), "{}", err.message());
        assert!(err.message().contains("cert.pem"), "{}", err.message());
    }

    #[test]
    fn a_certificate_not_yet_valid_is_refused() {
        let now = OffsetDateTime::now_utc();
        let (cert, key) = pair("future", now + Duration::days(2), now + Duration::days(30));
        let err = TlsIdentity::from_pem_files(&cert, &key).unwrap_err();
        assert!(
            err.message().contains("is not valid before"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn a_valid_pair_loads() {
        let now = OffsetDateTime::now_utc();
        let (cert, key) = pair("valid", now - Duration::days(1), now + Duration::days(30));
        assert!(TlsIdentity::from_pem_files(&cert, &key).is_ok());
    }
}
