//! HTTPS and wss on the server's one port: the identity a server presents
//! (certificate chain and key, checked when loaded so a bad file fails at
//! start, naming the file), and self-signed certificates for a device console
//! that has none ([`self_signed`]). The handshake itself is done per
//! connection by the `io` layer.
//!
//! rustls with the *ring* provider, TLS 1.2 and 1.3 only.

mod identity;
pub mod self_signed;

pub use identity::TlsIdentity;

/// `AB:CD:…`: the SHA-256 of a DER certificate, as browsers and
/// `openssl x509 -fingerprint -sha256` show it.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let hex: Vec<String> = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    hex.join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_colon_separated_upper_hex() {
        // SHA-256 of the empty string, a well-known value.
        assert_eq!(
            fingerprint(b""),
            "E3:B0:C4:42:98:FC:1C:14:9A:FB:F4:C8:99:6F:B9:24:27:AE:41:E4:64:9B:93:4C:A4:95:99:1B:78:52:B8:55"
        );
    }
}
