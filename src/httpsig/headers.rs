//! How the signer and verifier read request headers without depending on an
//! HTTP crate.
//!
//! The outbound side uses awc and the sandbox bank uses actix-web; both can
//! implement [`HeaderSource`] over their own header map (values as raw bytes,
//! so non-UTF-8 `obs-text` still signs exactly as sent), and tests can use a
//! plain slice of `(name, value)` pairs.

/// A request's headers, looked up by case-insensitive name.
pub trait HeaderSource {
    /// Calls `visit` once for every value of the header `name`, in the order
    /// the values are (or were) transmitted. `name` must be compared
    /// ASCII-case-insensitively. Not calling `visit` means the header is absent.
    fn visit_values(&self, name: &str, visit: &mut dyn FnMut(&[u8]));
}

impl<N: AsRef<str>, V: AsRef<[u8]>> HeaderSource for [(N, V)] {
    fn visit_values(&self, name: &str, visit: &mut dyn FnMut(&[u8])) {
        for (n, v) in self {
            if n.as_ref().eq_ignore_ascii_case(name) {
                visit(v.as_ref());
            }
        }
    }
}

impl<N: AsRef<str>, V: AsRef<[u8]>, const K: usize> HeaderSource for [(N, V); K] {
    fn visit_values(&self, name: &str, visit: &mut dyn FnMut(&[u8])) {
        self.as_slice().visit_values(name, visit);
    }
}

impl<N: AsRef<str>, V: AsRef<[u8]>> HeaderSource for Vec<(N, V)> {
    fn visit_values(&self, name: &str, visit: &mut dyn FnMut(&[u8])) {
        self.as_slice().visit_values(name, visit);
    }
}
