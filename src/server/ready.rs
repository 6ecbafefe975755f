//! Telling the world livelog is ready: the "livelog ready" log line, and,
//! with `LIVELOG_READY_FILE`, the bound addresses as one JSON object in a
//! file, so a worker that started livelog with ports 0 learns which ports
//! the kernel chose without parsing logs.
//!
//! The file appears whole or not at all: it is written beside its final
//! name and renamed over it (atomic within a directory on every platform
//! livelog runs on), so a worker polling for it never reads half of it. It
//! is removed when livelog stops gracefully, so a file that is there
//! describes a livelog that was running when it was written.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// The ready file's document.
#[derive(Debug, Serialize)]
pub struct Ready<'a> {
    /// The upload port's number.
    pub put_port: u16,
    /// The reader port's number.
    pub get_port: u16,
    /// Every address the upload port listens on (`127.0.0.1:PORT`, then
    /// `[::1]:PORT`, by default).
    pub put_addrs: &'a [SocketAddr],
    /// Every address the reader port listens on (`[::]:PORT`, taking IPv4
    /// too, by default).
    pub get_addrs: &'a [SocketAddr],
    /// Whether the reader port serves HTTPS.
    pub tls: bool,
    /// livelog's process id.
    pub pid: u32,
    /// livelog's version.
    pub version: &'static str,
}

impl Ready<'_> {
    /// The "livelog ready" line. Its `put` and `get` fields are the first
    /// address of each port (what tests and scripts read); the message lists
    /// every one (the reader's `[::]` takes IPv4 too).
    pub fn log(&self) {
        let urls = |scheme: &str, addrs: &[SocketAddr], path: &str| {
            let urls: Vec<String> = addrs
                .iter()
                .map(|addr| format!("{scheme}://{addr}{path}"))
                .collect();
            urls.join(" or ")
        };
        let scheme = if self.tls { "https" } else { "http" };
        let (Some(put), Some(get)) = (self.put_addrs.first(), self.get_addrs.first()) else {
            return;
        };
        tracing::info!(
            put = %put,
            get = %get,
            tls = %if self.tls { "on" } else { "off" },
            "livelog ready: upload with PUT {}, read with GET {}",
            urls("http", self.put_addrs, "/log"),
            urls(scheme, self.get_addrs, "/log/<ACCESS_TOKEN>"),
        );
    }

    /// Writes the document to `path` atomically (a sibling temp file,
    /// flushed, then renamed over `path`).
    ///
    /// # Errors
    /// The I/O error from creating, writing or renaming the file.
    pub fn write_to(&self, path: &Path) -> io::Result<()> {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let mut file = tempfile::Builder::new()
            .prefix(".livelog-ready")
            .tempfile_in(dir)?;
        serde_json::to_writer(&mut file, self)?;
        file.write_all(b"\n")?;
        file.as_file().sync_all()?;
        file.persist(path).map_err(|e| e.error)?;
        Ok(())
    }
}

/// The ready file, removed when dropped (livelog stopped).
#[derive(Debug)]
pub struct ReadyFile(pub PathBuf);

impl Drop for ReadyFile {
    fn drop(&mut self) {
        if let Err(err) = std::fs::remove_file(&self.0) {
            if err.kind() != io::ErrorKind::NotFound {
                tracing::warn!(
                    path = %self.0.display(),
                    "cannot remove LIVELOG_READY_FILE: {err}"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_holds_one_json_object_and_replaces_an_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ready.json");
        std::fs::write(&path, "stale").unwrap();
        let put = ["127.0.0.1:1234".parse().unwrap()];
        let get = ["[::]:5678".parse().unwrap()];
        let ready = Ready {
            put_port: 1234,
            get_port: 5678,
            put_addrs: &put,
            get_addrs: &get,
            tls: false,
            pid: 7,
            version: "0.1.0",
        };
        ready.write_to(&path).unwrap();
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(doc["put_port"], 1234);
        assert_eq!(doc["get_addrs"][0], "[::]:5678");
        // Nothing else left beside it.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        drop(ReadyFile(path.clone()));
        assert!(!path.exists());
    }
}
