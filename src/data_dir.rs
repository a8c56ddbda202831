//! The data directory (`PASSERELLE_DATA_DIR`): the SQLite database with IBANs and raw bank
//! answers, development keys and certificates. It is created private to the user (0700); an
//! existing one that others may read is tightened, and one that others may write is refused,
//! since whoever can write there can swap the database or the keys under Passerelle.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Why the data directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// It could not be created, read or tightened.
    #[error("PASSERELLE_DATA_DIR: cannot {operation} {path}: {source}")]
    Io {
        /// What was attempted.
        operation: &'static str,
        /// The directory or file.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: io::Error,
    },
    /// Users other than its owner may write to it.
    #[error(
        "PASSERELLE_DATA_DIR: {path} is writable by other users (mode {mode:o}); \
         run `chmod 700 {path}` or choose another directory"
    )]
    OthersCanWrite {
        /// The directory.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

/// Creates `dir` (and missing parents) private to the user, or checks an existing one: refused
/// when group or others may write to it, tightened to 0700 when they may only read it.
pub fn prepare(dir: &Path) -> Result<(), DataDirError> {
    let io_error = |operation, source| DataDirError::Io {
        operation,
        path: dir.to_path_buf(),
        source,
    };
    create_private_dir(dir).map_err(|e| io_error("create", e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir)
            .map_err(|e| io_error("read the permissions of", e))?
            .permissions()
            .mode()
            & 0o7777;
        if mode & 0o022 != 0 {
            return Err(DataDirError::OthersCanWrite {
                path: dir.to_path_buf(),
                mode,
            });
        }
        if mode & 0o077 != 0 {
            tracing::warn!(dir = %dir.display(), mode = format!("{mode:o}"), "data directory readable by others: tightened to 0700");
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                .map_err(|e| io_error("tighten the permissions of", e))?;
        }
    }
    Ok(())
}

/// Creates a directory and its missing parents with mode 0700; an existing one is left as is.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.as_os_str().is_empty() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Makes an SQLite database and its `-wal` and `-shm` files readable by their owner only: the
/// database is created empty with mode 0600 when missing (SQLite gives the journal files the
/// database's mode), and existing files with wider modes are tightened.
pub fn private_sqlite_files(db: &Path) -> io::Result<()> {
    if let Some(dir) = db.parent() {
        create_private_dir(dir)?;
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(db) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut name = db.as_os_str().to_owned();
        let base = name.clone();
        for suffix in ["", "-wal", "-shm"] {
            name.clone_from(&base);
            name.push(suffix);
            let path = Path::new(&name);
            match fs::metadata(path) {
                Ok(meta) if meta.permissions().mode() & 0o077 != 0 => {
                    fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}
