//! keyId builders: each bank's signature profile says what it expects in the
//! `keyId` parameter.

use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::x509::{X509NameRef, X509Ref};

use super::error::SignError;

/// What a bank expects as `keyId`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyIdFormat {
    /// The OAuth `client_id`, i.e. the QSEAL organisation identifier. BPCE
    /// (and Société Générale, with its app id) use this.
    ClientId,
    /// The STET wording ("an URL aiming to provide the relevant Qualified
    /// Certificate"): the given URL, `_`, then the lowercase hex SHA-256
    /// fingerprint of the QSEAL certificate's DER encoding. Lowercase because
    /// that is what `sha256sum` and most tooling print, so operators can
    /// compare by eye.
    CertUrl(String),
    /// The Berlin Group form `SN=<serial hex>,CA=<issuer DN>`; see
    /// [`serial_hex`] and [`issuer_dn`] for the exact spelling.
    SnCa,
}

/// Builds the keyId for `format` from the OAuth `client_id` and the QSEAL
/// certificate.
///
/// The result is checked to be non-empty printable ASCII so that it can be
/// sent as a quoted header parameter.
pub fn key_id(
    format: &KeyIdFormat,
    client_id: &str,
    qseal_cert: &X509Ref,
) -> Result<String, SignError> {
    let id = match format {
        KeyIdFormat::ClientId => client_id.to_owned(),
        KeyIdFormat::CertUrl(url) => format!("{url}_{}", certificate_fingerprint(qseal_cert)?),
        KeyIdFormat::SnCa => format!(
            "SN={},CA={}",
            serial_hex(qseal_cert)?,
            issuer_dn(qseal_cert)?
        ),
    };
    check_key_id(&id)?;
    Ok(id)
}

/// Lowercase hex SHA-256 of the certificate's DER encoding (64 characters).
pub fn certificate_fingerprint(cert: &X509Ref) -> Result<String, SignError> {
    let digest = cert
        .digest(MessageDigest::sha256())
        .map_err(|source| SignError::Certificate {
            what: "SHA-256 fingerprint",
            source,
        })?;
    Ok(hex::encode(digest))
}

/// The serial number in uppercase hex, two digits per byte, as
/// `openssl x509 -noout -serial` prints it (e.g. `9FA1`, `0FA1`).
pub fn serial_hex(cert: &X509Ref) -> Result<String, SignError> {
    let certificate = |source| SignError::Certificate {
        what: "serial number",
        source,
    };
    let serial = cert.serial_number().to_bn().map_err(certificate)?;
    let hex = serial.to_hex_str().map_err(certificate)?;
    Ok(hex.to_string())
}

/// The issuer distinguished name as an RFC 4514 string, most specific RDN
/// first: `CN=Passerelle Dev CA,O=Passerelle,C=FR`.
///
/// Attribute types use OpenSSL's short names (`CN`, `O`, `OU`, `C`, `L`,
/// `ST`, `organizationIdentifier`, …), or the dotted OID when OpenSSL does
/// not know the attribute. Values are escaped per RFC 4514 §2.4; in addition,
/// non-ASCII and control characters are written as `\XX` UTF-8 byte escapes
/// (also valid RFC 4514) so the keyId stays ASCII in the HTTP header. Each
/// name entry is treated as its own RDN: the openssl crate does not expose
/// multi-valued RDN grouping, and CA certificates do not use it in practice.
pub fn issuer_dn(cert: &X509Ref) -> Result<String, SignError> {
    distinguished_name(cert.issuer_name())
}

fn distinguished_name(name: &X509NameRef) -> Result<String, SignError> {
    // X.509 stores RDNs from the root down (C, O, CN); RFC 4514 writes them
    // the other way round.
    let entries: Vec<_> = name.entries().collect();
    let mut out = String::new();
    for entry in entries.iter().rev() {
        if !out.is_empty() {
            out.push(',');
        }
        let object = entry.object();
        match object.nid().short_name() {
            Ok(short) if object.nid() != Nid::UNDEF => out.push_str(short),
            _ => out.push_str(&object.to_string()),
        }
        out.push('=');
        let value = entry
            .data()
            .to_string()
            .map_err(|source| SignError::Certificate {
                what: "issuer name",
                source,
            })?;
        escape_dn_value(&value, &mut out);
    }
    Ok(out)
}

/// RFC 4514 §2.4 value escaping, plus `\XX` escapes for non-ASCII and controls.
fn escape_dn_value(value: &str, out: &mut String) {
    let last = value.len().saturating_sub(1);
    for (i, c) in value.char_indices() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            '#' if i == 0 => out.push_str("\\#"),
            c if c.is_ascii_control() || !c.is_ascii() => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push('\\');
                    out.push_str(&hex::encode_upper([b]));
                }
            }
            c => out.push(c),
        }
    }
}

/// A keyId goes inside a quoted header parameter: it must be non-empty and
/// printable ASCII (quotes and backslashes are escaped when formatting).
pub(crate) fn check_key_id(key_id: &str) -> Result<(), SignError> {
    if key_id.is_empty() {
        return Err(SignError::InvalidKeyId("it is empty"));
    }
    if !key_id.bytes().all(|b| (b' '..=b'~').contains(&b)) {
        return Err(SignError::InvalidKeyId(
            "it must be printable ASCII (no control or non-ASCII characters)",
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::pkey::PKey;
    use openssl::x509::{X509Name, X509};

    /// A self-signed certificate (issuer = subject) with the given serial and
    /// name entries, in X.509 (root-first) order.
    fn cert(serial_hex: &str, name: &[(&str, &str)]) -> X509 {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
        let mut n = X509Name::builder().unwrap();
        for (field, value) in name {
            n.append_entry_by_text(field, value).unwrap();
        }
        let n = n.build();
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        let serial = BigNum::from_hex_str(serial_hex).unwrap();
        b.set_serial_number(&serial.to_asn1_integer().unwrap())
            .unwrap();
        b.set_subject_name(&n).unwrap();
        b.set_issuer_name(&n).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        b.build()
    }

    fn dev_ca() -> X509 {
        cert(
            "9FA1",
            &[
                ("C", "FR"),
                ("O", "Passerelle"),
                ("CN", "Passerelle Dev CA"),
            ],
        )
    }

    #[test]
    fn client_id_format_is_the_client_id() {
        let id = key_id(&KeyIdFormat::ClientId, "PSDFR-ACPR-12345", &dev_ca()).unwrap();
        assert_eq!(id, "PSDFR-ACPR-12345");
        assert!(matches!(
            key_id(&KeyIdFormat::ClientId, "", &dev_ca()),
            Err(SignError::InvalidKeyId(_))
        ));
    }

    #[test]
    fn sn_ca_format_has_serial_and_rfc4514_issuer() {
        let id = key_id(&KeyIdFormat::SnCa, "unused", &dev_ca()).unwrap();
        assert_eq!(id, "SN=9FA1,CA=CN=Passerelle Dev CA,O=Passerelle,C=FR");
    }

    #[test]
    fn serial_keeps_byte_padding_like_openssl_cli() {
        assert_eq!(serial_hex(&cert("0FA1", &[("CN", "x")])).unwrap(), "0FA1");
    }

    #[test]
    fn issuer_dn_escapes_specials_and_non_ascii() {
        let c = cert(
            "01",
            &[
                ("C", "FR"),
                ("O", "Dupont, Fils + Cie"),
                ("OU", " #1 "),
                ("CN", "Société Générale"),
            ],
        );
        assert_eq!(
            issuer_dn(&c).unwrap(),
            r"CN=Soci\C3\A9t\C3\A9 G\C3\A9n\C3\A9rale,OU=\ #1\ ,O=Dupont\, Fils \+ Cie,C=FR"
        );
    }

    #[test]
    fn cert_url_format_appends_lowercase_sha256_fingerprint() {
        let c = dev_ca();
        let url = "https://passerelle.example/certs/qseal.pem";
        let id = key_id(&KeyIdFormat::CertUrl(url.to_owned()), "unused", &c).unwrap();
        let expected = hex::encode(openssl::sha::sha256(&c.to_der().unwrap()));
        assert_eq!(id, format!("{url}_{expected}"));
        let fingerprint = id.rsplit('_').next().unwrap();
        assert_eq!(fingerprint.len(), 64);
        assert!(fingerprint
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    }
}
