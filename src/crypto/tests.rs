use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use secrecy::{ExposeSecret, SecretString};

use super::{key_id_of, CryptoError, Keyring};

const AAD: &[u8] = b"tokens:7b0c6a1e-0000-4000-8000-000000000001:refresh";
const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.refresh-token-that-must-never-leak";

/// Distinctive key bytes per id, so a leak of any of them is easy to spot.
fn key_bytes(seed: u8) -> [u8; 32] {
    std::array::from_fn(|i| seed.wrapping_mul(31).wrapping_add(i as u8 * 7))
}

fn entry(id: &str, seed: u8) -> String {
    format!("{id}:{}", STANDARD.encode(key_bytes(seed)))
}

fn keyring(spec: &str) -> Keyring {
    Keyring::parse(&SecretString::from(spec)).unwrap()
}

fn parse_err(spec: &str) -> CryptoError {
    Keyring::parse(&SecretString::from(spec)).unwrap_err()
}

/// Neither the message nor the debug form of `err` contains `secret`.
fn assert_no_leak(err: &CryptoError, secret: &str) {
    assert!(!err.to_string().contains(secret), "{err}");
    assert!(!format!("{err:?}").contains(secret), "{err:?}");
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn sealed_bytes_open_to_the_same_bytes() {
    let ring = keyring(&entry("k1", 1));
    for plaintext in [&b""[..], b"x", TOKEN.as_bytes(), &[0u8; 1000]] {
        let sealed = ring.seal(plaintext, AAD).unwrap();
        assert_eq!(ring.open(&sealed, AAD).unwrap().expose_secret(), plaintext);
    }
}

#[test]
fn sealed_string_opens_to_the_same_string() {
    let ring = keyring(&entry("k1", 1));
    let sealed = ring.seal_str(TOKEN, AAD).unwrap();
    assert_eq!(ring.open_str(&sealed, AAD).unwrap().expose_secret(), TOKEN);
}

#[test]
fn blob_follows_the_documented_layout() {
    let ring = keyring(&entry("key-2024_01", 1));
    let sealed = ring.seal(TOKEN.as_bytes(), AAD).unwrap();
    let id = b"key-2024_01";
    assert_eq!(sealed[0], 1);
    assert_eq!(usize::from(sealed[1]), id.len());
    assert_eq!(&sealed[2..2 + id.len()], id);
    assert_eq!(sealed.len(), 2 + id.len() + 12 + TOKEN.len() + 16);
    assert_eq!(key_id_of(&sealed).unwrap(), "key-2024_01");
}

#[test]
fn blob_never_contains_the_plaintext() {
    let ring = keyring(&entry("k1", 1));
    let sealed = ring.seal_str(TOKEN, AAD).unwrap();
    assert!(!contains(&sealed, TOKEN.as_bytes()));
    assert!(!contains(&sealed, b"refresh-token"));
}

#[test]
fn sealing_twice_gives_different_blobs() {
    let ring = keyring(&entry("k1", 1));
    let a = ring.seal_str(TOKEN, AAD).unwrap();
    let b = ring.seal_str(TOKEN, AAD).unwrap();
    assert_ne!(a, b);
    // The difference is the nonce (bytes 4..16 for id "k1"), not only the ciphertext.
    assert_ne!(a[4..16], b[4..16]);
}

#[test]
fn blob_copied_to_another_row_does_not_open() {
    let ring = keyring(&entry("k1", 1));
    let sealed = ring.seal_str(TOKEN, AAD).unwrap();
    for other in [
        &b"tokens:7b0c6a1e-0000-4000-8000-000000000002:refresh"[..],
        b"tokens:7b0c6a1e-0000-4000-8000-000000000001:access",
        b"",
    ] {
        assert!(matches!(
            ring.open_str(&sealed, other),
            Err(CryptoError::AuthenticationFailed)
        ));
    }
}

#[test]
fn any_changed_byte_makes_the_blob_fail_to_open() {
    // Same bytes under two ids, so that rewriting the id to the other one is only caught by
    // the header being authenticated.
    let spec = format!("ka:{0},kb:{0}", STANDARD.encode(key_bytes(1)));
    let ring = keyring(&spec);
    let sealed = ring.seal_str(TOKEN, AAD).unwrap();
    for i in 0..sealed.len() {
        for flip in [0x01, 0x80] {
            let mut tampered = sealed.clone();
            tampered[i] ^= flip;
            assert!(ring.open(&tampered, AAD).is_err(), "byte {i} ^ {flip:#x}");
        }
    }

    let mut other_id = sealed.clone();
    other_id[3] = b'b';
    assert_eq!(key_id_of(&other_id).unwrap(), "kb");
    assert!(matches!(
        ring.open(&other_id, AAD),
        Err(CryptoError::AuthenticationFailed)
    ));

    let tag_start = sealed.len() - 16;
    for (region, index) in [("nonce", 4), ("ciphertext", 16), ("tag", tag_start)] {
        let mut tampered = sealed.clone();
        tampered[index] ^= 0x01;
        assert!(
            matches!(
                ring.open(&tampered, AAD),
                Err(CryptoError::AuthenticationFailed)
            ),
            "{region}"
        );
    }
}

#[test]
fn truncated_blob_is_a_typed_error_at_every_length() {
    let ring = keyring(&entry("k1", 1));
    let sealed = ring.seal_str(TOKEN, AAD).unwrap();
    // Shorter than header + nonce + tag: the parser says so.
    for len in 0..(4 + 12 + 16) {
        assert!(
            matches!(
                ring.open(&sealed[..len], AAD),
                Err(CryptoError::Truncated { len: l }) if l == len
            ),
            "length {len}"
        );
        assert!(key_id_of(&sealed[..len]).is_err());
    }
    // Long enough to parse but cut: the tag no longer verifies.
    for len in (4 + 12 + 16)..sealed.len() {
        assert!(matches!(
            ring.open(&sealed[..len], AAD),
            Err(CryptoError::AuthenticationFailed)
        ));
    }
}

#[test]
fn unknown_version_is_a_typed_error() {
    let ring = keyring(&entry("k1", 1));
    let mut sealed = ring.seal_str(TOKEN, AAD).unwrap();
    for version in [0, 2, 255] {
        sealed[0] = version;
        assert!(matches!(
            ring.open(&sealed, AAD),
            Err(CryptoError::UnsupportedVersion(v)) if v == version
        ));
        assert!(matches!(
            key_id_of(&sealed),
            Err(CryptoError::UnsupportedVersion(_))
        ));
    }
}

#[test]
fn malformed_key_id_in_blob_is_a_typed_error() {
    let ring = keyring(&entry("k1", 1));
    let sealed = ring.seal_str(TOKEN, AAD).unwrap();
    let mut bad_char = sealed.clone();
    bad_char[2] = b' ';
    let mut zero_len = sealed.clone();
    zero_len[1] = 0;
    for blob in [bad_char, zero_len] {
        assert!(matches!(
            ring.open(&blob, AAD),
            Err(CryptoError::MalformedBlobKeyId)
        ));
    }
}

#[test]
fn blob_under_a_key_not_in_the_keyring_is_refused() {
    let old = keyring(&entry("old", 1));
    let new = keyring(&entry("new", 2));
    let sealed = old.seal_str(TOKEN, AAD).unwrap();
    let err = new.open_str(&sealed, AAD).unwrap_err();
    assert!(matches!(&err, CryptoError::UnknownKeyId(id) if id == "old"));
    assert!(err.to_string().contains("`old`"));
}

#[test]
fn same_key_id_with_other_bytes_does_not_open() {
    let sealed = keyring(&entry("k1", 1)).seal_str(TOKEN, AAD).unwrap();
    assert!(matches!(
        keyring(&entry("k1", 2)).open_str(&sealed, AAD),
        Err(CryptoError::AuthenticationFailed)
    ));
}

#[test]
fn non_utf8_plaintext_is_refused_by_open_str() {
    let ring = keyring(&entry("k1", 1));
    let sealed = ring.seal(&[0xff, 0xfe], AAD).unwrap();
    assert!(matches!(
        ring.open_str(&sealed, AAD),
        Err(CryptoError::NotUtf8)
    ));
}

#[test]
fn rotation_reseals_old_blobs_under_the_active_key() {
    let before = keyring(&entry("a", 1));
    let old_blob = before.seal_str(TOKEN, AAD).unwrap();

    let during = keyring(&format!("{},{}", entry("b", 2), entry("a", 1)));
    assert_eq!(during.active_id(), "b");
    assert_eq!(
        during.open_str(&old_blob, AAD).unwrap().expose_secret(),
        TOKEN
    );

    let new_blob = during.reseal(&old_blob, AAD).unwrap().unwrap();
    assert_eq!(key_id_of(&new_blob).unwrap(), "b");
    assert_eq!(during.reseal(&new_blob, AAD).unwrap(), None);
    assert_eq!(
        during
            .reseal(&during.seal_str(TOKEN, AAD).unwrap(), AAD)
            .unwrap(),
        None
    );

    // Once every row is resealed, the old key can go.
    let after = keyring(&entry("b", 2));
    assert_eq!(
        after.open_str(&new_blob, AAD).unwrap().expose_secret(),
        TOKEN
    );
    assert!(matches!(
        after.open_str(&old_blob, AAD),
        Err(CryptoError::UnknownKeyId(_))
    ));
}

#[test]
fn reseal_still_checks_the_row_and_the_key() {
    let old_blob = keyring(&entry("a", 1)).seal_str(TOKEN, AAD).unwrap();
    let during = keyring(&format!("{},{}", entry("b", 2), entry("a", 1)));
    assert!(matches!(
        during.reseal(&old_blob, b"tokens:other:refresh"),
        Err(CryptoError::AuthenticationFailed)
    ));
    let stranger = keyring(&entry("c", 3)).seal_str(TOKEN, AAD).unwrap();
    assert!(matches!(
        during.reseal(&stranger, AAD),
        Err(CryptoError::UnknownKeyId(_))
    ));
    assert!(matches!(
        during.reseal(&[], AAD),
        Err(CryptoError::Truncated { .. })
    ));
}

#[test]
fn first_key_is_active_and_whitespace_is_tolerated() {
    let ring = keyring(&format!(
        " {} ,\n{} : {}\n",
        entry("new", 2),
        "old",
        STANDARD.encode(key_bytes(1))
    ));
    assert_eq!(ring.active_id(), "new");
    assert_eq!(ring.key_ids().collect::<Vec<_>>(), ["new", "old"]);
}

#[test]
fn empty_spec_is_refused() {
    for spec in ["", "   ", "\n"] {
        assert!(matches!(parse_err(spec), CryptoError::NoKeys));
    }
}

#[test]
fn malformed_entries_are_named_by_position_without_key_material() {
    let key = STANDARD.encode(key_bytes(1));
    let cases = [
        (key.clone(), 1),                   // id forgotten
        (format!("{},", entry("a", 2)), 2), // trailing comma
        (format!("{},,{}", entry("a", 2), entry("b", 3)), 2),
    ];
    for (spec, expected) in cases {
        let err = parse_err(&spec);
        assert!(
            matches!(err, CryptoError::MalformedKeyEntry { position } if position == expected),
            "{spec}: {err:?}"
        );
        assert_no_leak(&err, &key);
    }
}

#[test]
fn bad_key_ids_are_refused_without_echoing_them() {
    let key = STANDARD.encode(key_bytes(1));
    let long = "k".repeat(33);
    let bad_ids = ["", "has space", "dot.ted", "é", "a/b", long.as_str()];
    for id in bad_ids {
        let err = parse_err(&format!("{},{id}:{key}", entry("ok", 2)));
        assert!(
            matches!(err, CryptoError::InvalidKeyId { position: 2 }),
            "{id:?}: {err:?}"
        );
        assert_no_leak(&err, &key);
    }
    // Key and id swapped: the "id" is key material and must not be echoed.
    let err = parse_err(&format!("{key}:k1"));
    assert!(matches!(err, CryptoError::InvalidKeyId { position: 1 }));
    assert_no_leak(&err, &key);
    assert_no_leak(&err, &key[..16]);
    // 32 characters is the limit, not over it.
    assert_eq!(keyring(&entry(&"k".repeat(32), 1)).active_id().len(), 32);
}

#[test]
fn bad_base64_is_refused_without_echoing_the_key() {
    let material = "c2VjcmV0LWtleS1tYXRlcmlhbA!!";
    for key in [material, "c2VjcmV0LWtleS1tYXRlcmlhbA", "c2Vj cmV0"] {
        let err = parse_err(&format!("k1:{key}"));
        assert!(
            matches!(&err, CryptoError::KeyNotBase64 { key_id } if key_id == "k1"),
            "{key}: {err:?}"
        );
        assert!(err.to_string().contains("`k1`"));
        assert_no_leak(&err, key);
        assert_no_leak(&err, "c2Vj");
    }
}

#[test]
fn key_of_wrong_length_is_refused_without_echoing_it() {
    for len in [0, 16, 31, 33, 64] {
        let key = STANDARD.encode(vec![0x5a; len]);
        let err = parse_err(&format!("{},k2:{key}", entry("k1", 1)));
        assert!(
            matches!(&err, CryptoError::KeyWrongLength { key_id, len: l } if key_id == "k2" && *l == len),
            "{len}: {err:?}"
        );
        if !key.is_empty() {
            assert_no_leak(&err, &key);
        }
    }
}

#[test]
fn duplicate_key_id_is_refused() {
    let err = parse_err(&format!("{},{}", entry("k1", 1), entry("k1", 2)));
    assert!(matches!(&err, CryptoError::DuplicateKeyId { key_id } if key_id == "k1"));
    assert_no_leak(&err, &STANDARD.encode(key_bytes(1)));
    assert_no_leak(&err, &STANDARD.encode(key_bytes(2)));
}

#[test]
fn debug_shows_key_ids_and_never_key_bytes() {
    let ring = keyring(&format!("{},{}", entry("current", 1), entry("previous", 2)));
    let debug = format!("{ring:?}");
    let pretty = format!("{ring:#?}");
    for out in [&debug, &pretty] {
        assert!(out.contains("current") && out.contains("previous"), "{out}");
        for seed in [1, 2] {
            let bytes = key_bytes(seed);
            assert!(!out.contains(&STANDARD.encode(bytes)), "{out}");
            assert!(!out.contains(&hex::encode(bytes)), "{out}");
            let listed = format!("{:?}", &bytes[..4]);
            assert!(!out.contains(listed.trim_matches(&['[', ']'][..])), "{out}");
        }
    }
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn dev_keyring_is_created_private_and_reloaded_with_the_same_key() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("data/keys/sealing.key");

    let first = Keyring::generate_dev(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    let content = std::fs::read_to_string(&path).unwrap();
    assert!(content.starts_with(&format!("{}:", first.active_id())));
    assert_eq!(content.lines().count(), 1);
    // Only the keyring file is left behind, no temporary file.
    assert_eq!(
        std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
        1
    );

    let sealed = first.seal_str(TOKEN, AAD).unwrap();
    let second = Keyring::generate_dev(&path).unwrap();
    assert_eq!(second.active_id(), first.active_id());
    assert_eq!(
        second.open_str(&sealed, AAD).unwrap().expose_secret(),
        TOKEN
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), content);
}

#[test]
fn dev_keyrings_started_concurrently_agree_on_one_key() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("sealing.key");
    let rings: Vec<Keyring> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| Keyring::generate_dev(&path).unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let sealed = rings[0].seal_str(TOKEN, AAD).unwrap();
    for ring in &rings {
        assert_eq!(ring.open_str(&sealed, AAD).unwrap().expose_secret(), TOKEN);
    }
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
}

#[test]
fn invalid_dev_keyring_file_is_an_error_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("sealing.key");
    let material = STANDARD.encode([7u8; 16]);
    std::fs::write(&path, format!("dev:{material}\n")).unwrap();
    let err = Keyring::generate_dev(&path).unwrap_err();
    assert!(matches!(
        &err,
        CryptoError::DevKeyringInvalid { source, .. }
            if matches!(**source, CryptoError::KeyWrongLength { len: 16, .. })
    ));
    assert!(err.to_string().contains("sealing.key"));
    assert_no_leak(&err, &material);
    // The broken file is reported, not replaced.
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        format!("dev:{material}\n")
    );

    let err = Keyring::generate_dev(tmp.path()).unwrap_err();
    assert!(matches!(
        err,
        CryptoError::DevKeyringIo {
            operation: "read",
            ..
        }
    ));
}
