//! TLS verification for registries with certificates the user gave
//! (`--ca-cert`, `ca_cert` in the config file, `certs.d`).
//!
//! Each given certificate is trusted two ways: as a CA (normal WebPKI
//! checks against the system roots plus the given ones), and pinned as
//! itself: a server presenting exactly that certificate is accepted if the
//! name and validity checks pass, even when it is self-signed and marked
//! `CA:TRUE` (what `openssl req -x509` makes, and what WebPKI refuses as an
//! end-entity certificate). Every other certificate goes through the
//! normal checks only.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

/// A rustls client configuration trusting `certs` as CAs and as pinned
/// server certificates, on top of the system roots.
pub(crate) fn client_config(
    certs: Vec<CertificateDer<'static>>,
) -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let webpki =
        rustls_platform_verifier::Verifier::new_with_extra_roots(certs.clone(), provider.clone())?;
    let verifier = PinningVerifier {
        pinned: certs,
        webpki,
        provider: provider.clone(),
    };
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

#[derive(Debug)]
struct PinningVerifier {
    pinned: Vec<CertificateDer<'static>>,
    webpki: rustls_platform_verifier::Verifier,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinningVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let normal = self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        match normal {
            Ok(v) => Ok(v),
            Err(e) => {
                if self
                    .pinned
                    .iter()
                    .any(|p| p.as_ref() == end_entity.as_ref())
                {
                    check_pinned(end_entity, server_name, now)?;
                    Ok(ServerCertVerified::assertion())
                } else {
                    Err(e)
                }
            }
        }
    }

    // The handshake signature is checked with the presented certificate's
    // key whichever way the certificate was trusted.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The checks left for a pinned certificate: it names the server (in its
/// subject alternative names, as WebPKI and Go require) and is within its
/// validity period.
fn check_pinned(
    cert: &CertificateDer<'_>,
    server_name: &ServerName<'_>,
    now: UnixTime,
) -> Result<(), rustls::Error> {
    let invalid = rustls::Error::InvalidCertificate;
    let parsed = webpki::EndEntityCert::try_from(cert)
        .map_err(|_| invalid(CertificateError::BadEncoding))?;
    parsed
        .verify_is_valid_for_subject_name(server_name)
        .map_err(|_| invalid(CertificateError::NotValidForName))?;
    let (not_before, not_after) =
        validity(cert.as_ref()).ok_or(invalid(CertificateError::BadEncoding))?;
    let now = UNIX_EPOCH + std::time::Duration::from_secs(now.as_secs());
    if now < not_before {
        return Err(invalid(CertificateError::NotValidYet));
    }
    if now > not_after {
        return Err(invalid(CertificateError::Expired));
    }
    Ok(())
}

/// One DER element: (tag, contents, what follows).
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

const SEQUENCE: u8 = 0x30;
const VERSION: u8 = 0xa0;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;

/// `notBefore` and `notAfter` of an X.509 certificate (RFC 5280 4.1).
fn validity(cert: &[u8]) -> Option<(SystemTime, SystemTime)> {
    let (SEQUENCE, certificate, _) = der_element(cert)? else {
        return None;
    };
    let (SEQUENCE, tbs, _) = der_element(certificate)? else {
        return None;
    };
    let mut rest = tbs;
    let (tag, _, after) = der_element(rest)?;
    if tag == VERSION {
        rest = after;
    }
    // serialNumber, signature, issuer.
    for _ in 0..3 {
        rest = der_element(rest)?.2;
    }
    let (SEQUENCE, validity, _) = der_element(rest)? else {
        return None;
    };
    let (t1, not_before, rest) = der_element(validity)?;
    let (t2, not_after, _) = der_element(rest)?;
    Some((der_time(t1, not_before)?, der_time(t2, not_after)?))
}

/// UTCTime `YYMMDDHHMMSSZ` or GeneralizedTime `YYYYMMDDHHMMSSZ`.
fn der_time(tag: u8, value: &[u8]) -> Option<SystemTime> {
    let s = std::str::from_utf8(value).ok()?.strip_suffix('Z')?;
    let full = match tag {
        UTC_TIME if s.len() == 12 => {
            let yy: u32 = s.get(..2)?.parse().ok()?;
            let century = if yy >= 50 { "19" } else { "20" };
            format!("{century}{s}")
        }
        GENERALIZED_TIME if s.len() == 14 => s.to_owned(),
        _ => return None,
    };
    if !full.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let rfc3339 = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &full[..4],
        &full[4..6],
        &full[6..8],
        &full[8..10],
        &full[10..12],
        &full[12..14]
    );
    humantime::parse_rfc3339(&rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_times_in_both_encodings() {
        let t = der_time(UTC_TIME, b"240102030405Z").unwrap();
        assert_eq!(t, humantime::parse_rfc3339("2024-01-02T03:04:05Z").unwrap());
        let t = der_time(UTC_TIME, b"991231235959Z").unwrap();
        assert_eq!(t, humantime::parse_rfc3339("1999-12-31T23:59:59Z").unwrap());
        let t = der_time(GENERALIZED_TIME, b"20510101000000Z").unwrap();
        assert_eq!(t, humantime::parse_rfc3339("2051-01-01T00:00:00Z").unwrap());
        assert_eq!(der_time(UTC_TIME, b"2401020304Z"), None);
        assert_eq!(der_time(UTC_TIME, b"24010203040xZ"), None);
        assert_eq!(der_time(0x04, b"240102030405Z"), None);
    }

    #[test]
    fn truncated_or_garbage_der_is_refused_without_panicking() {
        assert_eq!(validity(b""), None);
        assert_eq!(validity(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
        assert_eq!(validity(&[0x30, 0x03, 0x30, 0x01]), None);
        for n in 0..64u8 {
            let junk: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37) ^ 0x30).collect();
            let _ = validity(&junk);
        }
    }
}
