//! The PSD2 parts of the QWAC and QSEAL: the organisation identifier (ETSI TS 119 495 §5.2.1)
//! and the qcStatements extension (RFC 3739, ETSI EN 319 412-5) that carries the PSP roles and
//! the NCA, DER-encoded by hand since OpenSSL has no builder for it.

use super::*;

/// A PSD2 organisation identifier split per ETSI TS 119 495 §5.2.1.
pub(super) struct Psd2OrganizationId<'a> {
    /// The whole identifier, e.g. `PSDFR-ACPR-99999`.
    pub(super) value: &'a str,
    /// ISO 3166-1 alpha-2 country of the NCA, e.g. `FR`.
    pub(super) country: &'a str,
    /// NCA short name, e.g. `ACPR`.
    pub(super) nca: &'a str,
}

impl<'a> Psd2OrganizationId<'a> {
    /// `PSD` + 2-letter country + `-` + 2–8 letter NCA + `-` + the NCA's authorisation number.
    pub(super) fn parse(value: &'a str) -> Result<Self, CertError> {
        let invalid = || CertError::InvalidOrganizationIdentifier {
            value: value.to_owned(),
        };
        let rest = value.strip_prefix("PSD").ok_or_else(invalid)?;
        let mut parts = rest.splitn(3, '-');
        let (Some(country), Some(nca), Some(number)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        let upper = |s: &str| s.bytes().all(|b| b.is_ascii_uppercase());
        let valid = country.len() == 2
            && upper(country)
            && (2..=8).contains(&nca.len())
            && upper(nca)
            && !number.is_empty()
            // Authorisation numbers vary by NCA (digits, dots, letters…) but never hold spaces.
            && number.bytes().all(|b| b.is_ascii_graphic());
        if !valid {
            return Err(invalid());
        }
        Ok(Self {
            value,
            country,
            nca,
        })
    }
}

/// ETSI EN 319 412-5 QcType of the certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum QcType {
    /// Electronic seal (QSEAL).
    ESeal,
    /// Website authentication (QWAC).
    Web,
}

/// OIDs of the statements, as arcs so that they are encoded without parsing.
pub(super) mod qc_oid {
    /// `id-etsi-qcs-QcCompliance`: issued as a qualified certificate.
    pub(super) const QC_COMPLIANCE: &[u32] = &[0, 4, 0, 1862, 1, 1];
    /// `id-etsi-qcs-QcType`.
    pub(super) const QC_TYPE: &[u32] = &[0, 4, 0, 1862, 1, 6];
    /// `id-etsi-qct-eseal`.
    pub(super) const QCT_ESEAL: &[u32] = &[0, 4, 0, 1862, 1, 6, 2];
    /// `id-etsi-qct-web`.
    pub(super) const QCT_WEB: &[u32] = &[0, 4, 0, 1862, 1, 6, 3];
    /// `id-etsi-psd2-qcStatement`.
    pub(super) const PSD2: &[u32] = &[0, 4, 0, 19495, 2];
    /// `id-psd2-role-psp-pi`: payment initiation.
    pub(super) const ROLE_PSP_PI: &[u32] = &[0, 4, 0, 19495, 1, 2];
    /// `id-psd2-role-psp-ai`: account information.
    pub(super) const ROLE_PSP_AI: &[u32] = &[0, 4, 0, 19495, 1, 3];
}

/// The qcStatements extension (RFC 3739) with QcCompliance, QcType and the ETSI TS 119 495 PSD2
/// statement (roles PSP_AI and PSP_PI, NCA name and id), DER-encoded by hand because OpenSSL has
/// no configuration syntax for it.
pub(super) fn qc_statements(
    qc_type: QcType,
    org_id: &Psd2OrganizationId<'_>,
) -> Result<X509Extension, CertError> {
    let der = qc_statements_der(qc_type, org_id);
    let oid = Asn1Object::from_str(QC_STATEMENTS_OID)
        .map_err(openssl_error("build the qcStatements extension"))?;
    let value = Asn1OctetString::new_from_bytes(&der)
        .map_err(openssl_error("build the qcStatements extension"))?;
    // Non-critical, as RFC 3739 recommends, so software that does not know it still accepts it.
    X509Extension::new_from_der(&oid, false, &value)
        .map_err(openssl_error("build the qcStatements extension"))
}

/// ```text
/// QCStatements ::= SEQUENCE OF QCStatement
/// QCStatement ::= SEQUENCE { statementId OBJECT IDENTIFIER, statementInfo ANY OPTIONAL }
/// QcType ::= SEQUENCE OF OBJECT IDENTIFIER
/// PSD2QcType ::= SEQUENCE { rolesOfPSP RolesOfPSP, nCAName NCAName, nCAId NCAId }
/// RolesOfPSP ::= SEQUENCE OF RoleOfPSP
/// RoleOfPSP ::= SEQUENCE { roleOfPspOid OBJECT IDENTIFIER, roleOfPspName UTF8String }
/// NCAName ::= UTF8String; NCAId ::= UTF8String
/// ```
fn qc_statements_der(qc_type: QcType, org_id: &Psd2OrganizationId<'_>) -> Vec<u8> {
    let qct = match qc_type {
        QcType::ESeal => qc_oid::QCT_ESEAL,
        QcType::Web => qc_oid::QCT_WEB,
    };
    let roles = der::sequence(&[
        der::sequence(&[der::oid(qc_oid::ROLE_PSP_AI), der::utf8_string("PSP_AI")]),
        der::sequence(&[der::oid(qc_oid::ROLE_PSP_PI), der::utf8_string("PSP_PI")]),
    ]);
    // The NCA id is `<country>-<NCA>` (e.g. FR-ACPR); the NCA's short name serves as its name.
    let psd2 = der::sequence(&[
        roles,
        der::utf8_string(org_id.nca),
        der::utf8_string(&format!("{}-{}", org_id.country, org_id.nca)),
    ]);
    der::sequence(&[
        der::sequence(&[der::oid(qc_oid::QC_COMPLIANCE)]),
        der::sequence(&[der::oid(qc_oid::QC_TYPE), der::sequence(&[der::oid(qct)])]),
        der::sequence(&[der::oid(qc_oid::PSD2), psd2]),
    ])
}

/// The few DER encodings the qcStatements extension needs (X.690).
pub(super) mod der {
    const TAG_SEQUENCE: u8 = 0x30;
    const TAG_OID: u8 = 0x06;
    const TAG_UTF8_STRING: u8 = 0x0c;

    /// Tag, definite length, content.
    pub(in crate::tls::certs) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(content.len() + 6);
        out.push(tag);
        match u8::try_from(content.len()) {
            Ok(short @ 0..=0x7f) => out.push(short),
            _ => {
                let len = content.len().to_be_bytes();
                let skip = len.iter().take_while(|b| **b == 0).count();
                let significant = &len[skip..];
                // At most size_of::<usize>() bytes, so the count fits in the 7 low bits.
                out.push(0x80 | significant.len() as u8);
                out.extend_from_slice(significant);
            }
        }
        out.extend_from_slice(content);
        out
    }

    /// SEQUENCE of already-encoded elements.
    pub(in crate::tls::certs) fn sequence(elements: &[Vec<u8>]) -> Vec<u8> {
        tlv(TAG_SEQUENCE, &elements.concat())
    }

    pub(in crate::tls::certs) fn utf8_string(value: &str) -> Vec<u8> {
        tlv(TAG_UTF8_STRING, value.as_bytes())
    }

    /// OBJECT IDENTIFIER from its arcs; the first two arcs share one subidentifier.
    pub(in crate::tls::certs) fn oid(arcs: &[u32]) -> Vec<u8> {
        let mut content = Vec::new();
        if let [first, second, rest @ ..] = arcs {
            push_base128(&mut content, first * 40 + second);
            for arc in rest {
                push_base128(&mut content, *arc);
            }
        }
        tlv(TAG_OID, &content)
    }

    /// Big-endian base 128, high bit set on every byte but the last.
    fn push_base128(out: &mut Vec<u8>, mut value: u32) {
        let mut groups = vec![(value & 0x7f) as u8];
        value >>= 7;
        while value > 0 {
            groups.push((value & 0x7f) as u8 | 0x80);
            value >>= 7;
        }
        out.extend(groups.iter().rev());
    }
}
