//! Every log line of a test binary, for the checks of what is (and is never) logged.

use std::sync::Mutex;

static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct LogSink;

impl std::io::Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs (once per binary) a subscriber that keeps every line, at debug level for
/// Passerelle.
pub fn capture() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info,passerelle=debug"))
        .with_writer(|| LogSink)
        .with_ansi(false)
        .try_init();
}

/// Everything logged so far.
pub fn text() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned()
}
