//! What a test process logs, recorded so a test can wait on a line (its
//! hosts run in-process, so their `tracing` output lands here).

use std::sync::{Arc, Mutex, OnceLock};

/// The log so far.
#[derive(Clone)]
pub struct Log(Arc<Mutex<Vec<u8>>>);

impl Log {
    /// Whether a line so far contains `text`.
    pub fn contains(&self, text: &str) -> bool {
        self.0
            .lock()
            .is_ok_and(|l| String::from_utf8_lossy(&l).contains(text))
    }

    /// The lines so far that contain `text`.
    pub fn lines_with(&self, text: &str) -> Vec<String> {
        self.0.lock().map_or(Vec::new(), |l| {
            String::from_utf8_lossy(&l)
                .lines()
                .filter(|line| line.contains(text))
                .map(str::to_owned)
                .collect()
        })
    }

    /// How many lines so far contain `text`.
    pub fn count(&self, text: &str) -> usize {
        self.0.lock().map_or(0, |l| {
            String::from_utf8_lossy(&l)
                .lines()
                .filter(|line| line.contains(text))
                .count()
        })
    }
}

impl std::io::Write for Log {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut log = self
            .0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?;
        log.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Starts recording what the process logs (once; later calls share it).
pub fn capture() -> Log {
    static LOG: OnceLock<Log> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Log(Arc::default());
        let sink = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish();
        // Another subscriber set first would leave this one unused, and
        // the wait on the log fails saying what it waited for.
        let _ = tracing::subscriber::set_global_default(subscriber);
        log
    })
    .clone()
}
