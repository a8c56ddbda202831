//! Writing the certificates and keys: a private directory, keys never readable by others, and
//! no half-written PEM after a crash.

use super::*;

/// Creates the directory, private to the user on unix since it holds private keys.
pub(super) fn create_private_dir(dir: &Path) -> Result<(), CertError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|error| CertError::CreateDir {
        path: dir.to_path_buf(),
        error,
    })
}

/// Writes a certificate (0644) and its PKCS#8 key (0600).
pub(super) fn write_identity(
    identity: &Identity,
    cert_path: &Path,
    key_path: &Path,
) -> Result<(), CertError> {
    let cert_pem = identity
        .cert
        .to_pem()
        .map_err(openssl_error("encode a certificate as PEM"))?;
    let key_pem = identity
        .key
        .private_key_to_pem_pkcs8()
        .map_err(openssl_error("encode a private key as PEM"))?;
    write_atomically(key_path, &key_pem, 0o600)?;
    write_atomically(cert_path, &cert_pem, 0o644)
}

/// Writes through a temporary file and a rename, so a crash never leaves a truncated PEM, and a
/// key file is never readable by others, not even for a moment.
fn write_atomically(path: &Path, contents: &[u8], mode: u32) -> Result<(), CertError> {
    let write_error = |error| CertError::Write {
        path: path.to_path_buf(),
        error,
    };
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{file_name}.tmp"));
    // A leftover from an interrupted run may have other permissions; start from a fresh file.
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(write_error(error)),
    }

    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;

    let result = options
        .open(&tmp)
        .and_then(|mut file| {
            file.write_all(contents)?;
            file.sync_all()
        })
        .and_then(|()| fs::rename(&tmp, path));
    if let Err(error) = result {
        // Best effort: the write error is what matters to the caller.
        let _ = fs::remove_file(&tmp);
        return Err(write_error(error));
    }
    Ok(())
}
