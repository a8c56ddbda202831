//! Errors raised while loading the bank registry.

/// Why the bank registry could not be loaded.
///
/// Every message starts with the file or folder at fault (`bank-registry/<id>.toml` for a
/// built-in profile, the path as given for extra folders) so an operator can fix it
/// without a debugger. The underlying errors are folded into the message rather than
/// chained as sources, so that `{:#}` does not print them twice.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// An extra registry folder could not be listed.
    #[error("{dir}: cannot read bank registry folder: {reason}")]
    ReadDir {
        /// The folder, as given.
        dir: String,
        /// The I/O error.
        reason: String,
    },

    /// A profile file could not be read (missing permission, not UTF-8, …).
    #[error("{file}: cannot read bank profile: {reason}")]
    ReadFile {
        /// The file.
        file: String,
        /// The I/O error.
        reason: String,
    },

    /// A profile is not valid TOML or does not match the schema: unknown key, missing key,
    /// wrong type, unknown enum value.
    #[error("{file}: {}{message}", at_line(.line))]
    Parse {
        /// The file.
        file: String,
        /// 1-based line of the problem, when known.
        line: Option<usize>,
        /// The parser's message, e.g. "unknown field `bogus`, expected one of …".
        message: String,
    },

    /// A key has a value the schema allows but the registry rejects (bad URL, bad bank
    /// code, zero history depth, …).
    #[error("{file}: `{key}`: {reason}")]
    Invalid {
        /// The file.
        file: String,
        /// Dotted key, e.g. `endpoints.live.token`.
        key: String,
        /// What is wrong and what is expected.
        reason: String,
    },

    /// Two profiles (in any folders) have the same id.
    #[error("{file}: bank id `{id}` is already defined by {other}")]
    DuplicateId {
        /// The file loaded second.
        file: String,
        /// The id.
        id: String,
        /// The file that defined it first.
        other: String,
    },

    /// An extra profile reuses the id of a built-in one.
    #[error(
        "{file}: bank id `{id}` belongs to the built-in profile {builtin}; \
         extra registry files cannot redefine built-in banks, pick another id"
    )]
    BuiltinId {
        /// The extra file.
        file: String,
        /// The id.
        id: String,
        /// The built-in file with that id.
        builtin: String,
    },

    /// The sandbox listen address cannot be put in a URL.
    #[error("sandbox listen address `{addr}` is not a valid host:port: {reason}")]
    SandboxListen {
        /// The address, as given.
        addr: String,
        /// What is wrong.
        reason: String,
    },
}

fn at_line(line: &Option<usize>) -> String {
    line.map(|l| format!("line {l}: ")).unwrap_or_default()
}
