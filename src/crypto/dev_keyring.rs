//! The dev keyring file: a sealing key generated on first start when none is configured, so
//! that `passerelle serve` works out of the box and keeps opening its own tokens across restarts.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use openssl::rand::rand_bytes;
use secrecy::zeroize::Zeroizing;

use super::key_spec;
use super::sealing_key::SealingKey;
use super::{CryptoError, Keyring};

/// The id of the generated key.
const DEV_KEY_ID: &str = "dev";

impl Keyring {
    /// Loads the dev keyring file at `path` (one `id:base64key` line, the format of
    /// `PASSERELLE_SEALING_KEYS`), or creates it with a fresh random key if it does not exist.
    ///
    /// The file is created with mode 0600 (its directory, if missing, with 0700), and is
    /// published atomically: a crash or a second process starting at the same moment never
    /// leaves a half-written file nor two different dev keys. For development only; production
    /// sets `PASSERELLE_SEALING_KEYS`.
    pub fn generate_dev(path: &Path) -> Result<Keyring, CryptoError> {
        match load(path) {
            Err(CryptoError::DevKeyringIo { source, .. })
                if source.kind() == io::ErrorKind::NotFound =>
            {
                create(path)
            }
            loaded => loaded,
        }
    }
}

/// Reads and parses an existing dev keyring file.
fn load(path: &Path) -> Result<Keyring, CryptoError> {
    let content = Zeroizing::new(fs::read_to_string(path).map_err(io_error("read", path))?);
    Keyring::parse(&content.as_str().into()).map_err(|e| CryptoError::DevKeyringInvalid {
        path: path.to_path_buf(),
        source: Box::new(e),
    })
}

/// Generates a key and publishes it at `path` unless another process got there first, in which
/// case that process's key is loaded instead.
fn create(path: &Path) -> Result<Keyring, CryptoError> {
    let file_name = path.file_name().ok_or_else(|| CryptoError::DevKeyringIo {
        operation: "create",
        path: path.to_path_buf(),
        source: io::Error::new(io::ErrorKind::InvalidInput, "the path has no file name"),
    })?;
    let dir = path.parent().unwrap_or(Path::new(""));
    if !dir.as_os_str().is_empty() {
        let mut builder = DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(dir)
            .map_err(io_error("create the directory of", path))?;
    }

    let key = SealingKey::random()?;
    let line = key_spec::format_entry(DEV_KEY_ID, &key);

    // Written in full to a private temporary file, then hard-linked into place: unlike a rename,
    // a link fails if the target exists, so a concurrent first start cannot replace a key that
    // the other process may already have sealed tokens with.
    let mut suffix = [0u8; 8];
    rand_bytes(&mut suffix).map_err(|source| CryptoError::OpenSsl {
        operation: "name a temporary file",
        source,
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(".{}.tmp", hex::encode(suffix)));
    let tmp = TempFile(dir.join(tmp_name));

    write_private(&tmp.0, line.as_bytes()).map_err(io_error("create", path))?;
    match fs::hard_link(&tmp.0, path) {
        Ok(()) => Ok(Keyring::single(DEV_KEY_ID.into(), key)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => load(path),
        Err(e) => Err(io_error("create", path)(e)),
    }
}

/// Creates `path` (which must not exist) readable by the owner only, and writes `content` to
/// disk before returning.
fn write_private(path: &Path, content: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(content)?;
    file.sync_all()
}

/// Maps an I/O error on the dev keyring file at `path` to a [`CryptoError`].
fn io_error<'a>(
    operation: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> CryptoError + 'a {
    move |source| CryptoError::DevKeyringIo {
        operation,
        path: path.to_path_buf(),
        source,
    }
}

/// A temporary file removed when dropped, whether or not it was linked into place.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        // Best effort: a leftover hidden `.tmp` file is as private (0600) as the keyring file.
        let _ = fs::remove_file(&self.0);
    }
}
