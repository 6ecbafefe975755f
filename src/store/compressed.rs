//! The log's compressed copies: compress once, serve many.
//!
//! Every reader of the whole log receives the same bytes, so the compressed
//! representation is the same for all of them too: it is computed once per
//! coding, not once per reader. For each [`Codec`] there is at most one
//! compressor per log, started by the first reader that asks for that coding
//! ([`Encodings::start`]). It follows the log like a reader (a [`Cursor`],
//! at its own pace, so it never holds back the upload) and appends what it
//! produces to a second [`LogStore`], with its own ring and temp file
//! (which nothing outlives, as the log's). Compressed readers are ordinary
//! cursors of that store: no compressor state and no compression CPU per
//! reader.
//!
//! * At the head of the log (nothing more stored yet) the compressor does a
//!   sync flush, so a line just written reaches compressed readers at once.
//!   When it is behind, it compresses everything already stored before it
//!   flushes: a better ratio and fewer appends.
//! * When the log completes, it writes the end of the stream (gzip trailer,
//!   zstd frame end with its checksum) and finishes its store. When the log
//!   breaks, it drops its [`Upload`] unfinished, so the compressed store is
//!   broken too: its readers get every compressed byte stored, then an
//!   incomplete end, and no trailer that would make the stream look whole.
//! * It runs on a thread of its own with a current-thread runtime, so
//!   compressing never occupies a runtime worker that serves readers.

use std::fmt;
use std::io::{self, Write};
use std::path::Path;
use std::sync::Once;

use bytes::Bytes;

use super::{Cursor, LogStore, Phase, ReadError, Upload};

/// gzip compression level (zlib's 1–9).
///
/// Chosen with `LIVELOG_BENCH_SCENARIOS=levels cargo bench --bench
/// compression` on this project's own `cargo build -vv --color always`
/// output, fed in 64 KiB pieces with a sync flush after each: level 4 gives
/// 95% of level 6's ratio (9.8× against 10.4×) at 1.3–1.6× its speed (two
/// runs), and level 9 gains 2% more at about 60% of level 6's speed.
pub const GZIP_LEVEL: u32 = 4;

/// zstd compression level.
///
/// Chosen as [`GZIP_LEVEL`] was: level 3 (zstd's default) compresses the
/// build log better than gzip 9 (11.5×) at 2.6–3× gzip 4's speed; level 6
/// gains 15% at a third of the speed. Its window, 2 MiB, is well within the
/// 8 MiB browsers accept for `Content-Encoding: zstd` (RFC 9659).
pub const ZSTD_LEVEL: i32 = 3;

/// Each compressed store's ring holds `LIVELOG_RING_BYTES` divided by this.
///
/// Compressed bytes are 5–20× fewer than the log's, so a quarter of the
/// ring still holds more of the log than the raw ring does, and both
/// compressed rings together add half of `LIVELOG_RING_BYTES`.
pub const RING_SHARE_DIVISOR: usize = 4;

/// Compressed output is appended to the store once this much has
/// accumulated, also while the compressor is behind (at the head it is
/// appended at once, after a sync flush), in bytes.
const APPEND_BYTES: usize = 64 * 1024;

/// A content coding livelog can serve (RFC 9110 §8.4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    /// `gzip` (RFC 1952).
    Gzip,
    /// `zstd` (RFC 8878).
    Zstd,
}

impl Codec {
    /// Every codec livelog has.
    pub const ALL: [Codec; 2] = [Codec::Gzip, Codec::Zstd];

    /// The content-coding name, as `Content-Encoding` says it.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Gzip => "gzip",
            Codec::Zstd => "zstd",
        }
    }

    fn index(self) -> usize {
        match self {
            Codec::Gzip => 0,
            Codec::Zstd => 1,
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The log's compressed copies, one store per [`Codec`], each filled by one
/// compressor once a reader asks for it.
#[derive(Debug)]
pub struct Encodings {
    raw: LogStore,
    coded: [Coded; 2],
}

#[derive(Debug)]
struct Coded {
    /// The compressed stream, readable like the log itself.
    store: LogStore,
    /// Starts the compressor once.
    started: Once,
}

impl Encodings {
    /// Creates a compressed store for each codec beside `raw`: temp files in
    /// `dir` (nothing outlives them; empty until a compressor starts), rings of
    /// `ring_bytes /` `RING_SHARE_DIVISOR`, and `raw`'s catch-up budget.
    /// No compressor runs yet.
    ///
    /// # Errors
    /// The I/O error from creating a temp file.
    pub fn create_in(raw: &LogStore, dir: &Path, ring_bytes: usize) -> io::Result<Self> {
        let ring_bytes = ring_bytes / RING_SHARE_DIVISOR;
        let coded = || -> io::Result<Coded> {
            Ok(Coded {
                store: raw.sibling_in(dir, ring_bytes)?,
                started: Once::new(),
            })
        };
        Ok(Encodings {
            raw: raw.clone(),
            // One per codec, in `Codec::index` order.
            coded: [coded()?, coded()?],
        })
    }

    /// The compressed store of `codec` as it stands, without starting its
    /// compressor (for `HEAD`): awaiting its upload until a reader starts it.
    pub fn store(&self, codec: Codec) -> &LogStore {
        &self.coded[codec.index()].store
    }

    /// The compressed store of `codec`, its compressor started if it was not
    /// yet. Returns at once; the compressor's upload has begun by then, so a
    /// cursor of the store follows it.
    pub fn start(&self, codec: Codec) -> &LogStore {
        let coded = &self.coded[codec.index()];
        coded
            .started
            .call_once(|| spawn_compressor(codec, &self.raw, &coded.store));
        &coded.store
    }
}

/// Starts `codec`'s compressor on its own thread, from `raw` into `out`.
/// Whatever fails leaves `out`'s upload dropped unfinished, so its readers
/// end incomplete instead of waiting for ever.
fn spawn_compressor(codec: Codec, raw: &LogStore, out: &LogStore) {
    let Ok(upload) = out.begin_upload() else {
        // Each compressed store is written by its one compressor only.
        return;
    };
    let encoder = match Encoder::new(codec) {
        Ok(encoder) => encoder,
        Err(err) => {
            tracing::error!("cannot start the {codec} compressor: {err}");
            return;
        }
    };
    let compressor = Compressor {
        codec,
        raw: raw.clone(),
        cursor: raw.cursor(0, None),
        upload,
        encoder,
    };
    tracing::info!("compressing the log for {codec} readers");
    let spawned = std::thread::Builder::new()
        .name(format!("livelog-{codec}"))
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(compressor.run()),
                Err(err) => tracing::error!("cannot start the {codec} compressor: {err}"),
            }
        });
    if let Err(err) = spawned {
        tracing::error!("cannot start the {codec} compressor's thread: {err}");
    }
}

/// One codec's compressor: reads the log, writes the compressed store.
struct Compressor {
    codec: Codec,
    raw: LogStore,
    cursor: Cursor,
    upload: Upload,
    encoder: Encoder,
}

impl Compressor {
    /// Compresses the log until it completes (then ends the stream) or
    /// breaks (then leaves the compressed store broken).
    async fn run(self) {
        let Compressor {
            codec,
            raw,
            mut cursor,
            mut upload,
            mut encoder,
        } = self;
        let mut consumed = 0u64;
        loop {
            match cursor.next_chunk().await {
                Ok(Some(chunk)) => {
                    consumed += chunk.len() as u64;
                    let now = raw.progress();
                    let at_head = now.len <= consumed;
                    let written = encoder.write(&chunk).and_then(|()| {
                        // At the head, readers get this chunk now; at the
                        // head of a complete log, the stream's end follows.
                        if at_head && now.phase != Phase::Complete {
                            encoder.flush()
                        } else {
                            Ok(())
                        }
                    });
                    if let Err(err) = written {
                        tracing::error!("{codec} compression failed: {err}");
                        return;
                    }
                    if (at_head || encoder.pending() >= APPEND_BYTES)
                        && !append(codec, &mut upload, encoder.take())
                    {
                        return;
                    }
                }
                Ok(None) => {
                    let tail = match encoder.finish() {
                        Ok(tail) => tail,
                        Err(err) => {
                            tracing::error!("{codec} compression failed: {err}");
                            return;
                        }
                    };
                    if !append(codec, &mut upload, tail) {
                        return;
                    }
                    let compressed = upload.stored();
                    upload.finish();
                    tracing::info!(
                        log = consumed,
                        compressed,
                        "{codec} stream complete: {:.1}x smaller",
                        consumed as f64 / compressed.max(1) as f64
                    );
                    return;
                }
                Err(ReadError::Incomplete(broke)) => {
                    // Dropping the upload unfinished breaks the compressed
                    // store: its readers end incomplete, with no trailer.
                    tracing::debug!("{codec} stream ends incomplete: {broke}");
                    return;
                }
                Err(ReadError::Io(err)) => {
                    tracing::error!("{codec} compressor cannot read the log: {err}");
                    return;
                }
            }
        }
    }
}

/// Appends `bytes` to the compressed store; `false` if that failed (the
/// store is then broken).
fn append(codec: Codec, upload: &mut Upload, bytes: Vec<u8>) -> bool {
    if bytes.is_empty() {
        return true;
    }
    match upload.append(Bytes::from(bytes)) {
        Ok(()) => true,
        Err(err) => {
            tracing::error!(
                stored = upload.stored(),
                "cannot store the {codec} stream: {err}"
            );
            false
        }
    }
}

/// A streaming encoder writing into a growing buffer, taken from it as the
/// compressed store's next chunk.
enum Encoder {
    Gzip(flate2::write::GzEncoder<Vec<u8>>),
    Zstd(zstd::stream::write::Encoder<'static, Vec<u8>>),
}

impl Encoder {
    fn new(codec: Codec) -> io::Result<Self> {
        Ok(match codec {
            Codec::Gzip => Encoder::Gzip(flate2::write::GzEncoder::new(
                Vec::new(),
                flate2::Compression::new(GZIP_LEVEL),
            )),
            Codec::Zstd => {
                let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), ZSTD_LEVEL)?;
                // The frame ends with a checksum of the log, which decoders
                // check: a corrupted copy is an error, not a wrong log.
                encoder.include_checksum(true)?;
                Encoder::Zstd(encoder)
            }
        })
    }

    fn write(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Encoder::Gzip(e) => e.write_all(data),
            Encoder::Zstd(e) => e.write_all(data),
        }
    }

    /// A sync flush: everything written so far can be decoded from the
    /// output, and the stream goes on.
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::Gzip(e) => e.flush(),
            Encoder::Zstd(e) => e.flush(),
        }
    }

    /// Bytes of output waiting to be taken.
    fn pending(&self) -> usize {
        match self {
            Encoder::Gzip(e) => e.get_ref().len(),
            Encoder::Zstd(e) => e.get_ref().len(),
        }
    }

    /// The output so far, leaving the buffer empty.
    fn take(&mut self) -> Vec<u8> {
        match self {
            Encoder::Gzip(e) => std::mem::take(e.get_mut()),
            Encoder::Zstd(e) => std::mem::take(e.get_mut()),
        }
    }

    /// Ends the stream; returns the output not yet taken, its end included.
    fn finish(self) -> io::Result<Vec<u8>> {
        match self {
            Encoder::Gzip(e) => e.finish(),
            Encoder::Zstd(e) => e.finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::store::StoreLimits;

    fn stores() -> (LogStore, Encodings) {
        let raw = LogStore::with_file(
            tempfile::tempfile().unwrap(),
            StoreLimits::from_ring_bytes(64 * 1024),
        );
        let dir = tempfile::tempdir().unwrap();
        let encodings = Encodings::create_in(&raw, dir.path(), 64 * 1024).unwrap();
        (raw, encodings)
    }

    /// A log-like text of `len` bytes.
    fn text(len: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while out.len() < len {
            out.extend_from_slice(
                format!("line {i}: compiling crate number {}\n", i % 97).as_bytes(),
            );
            i += 1;
        }
        out.truncate(len);
        out
    }

    /// Everything `store` holds now and will hold, and how it ended.
    async fn read_all(store: &LogStore) -> (Vec<u8>, Result<(), ReadError>) {
        let mut cursor = store.cursor(0, None);
        let mut got = Vec::new();
        loop {
            match cursor.next_chunk().await {
                Ok(Some(chunk)) => got.extend_from_slice(&chunk),
                Ok(None) => return (got, Ok(())),
                Err(err) => return (got, Err(err)),
            }
        }
    }

    /// The bytes `store` holds now.
    async fn read_stored(store: &LogStore) -> Vec<u8> {
        let mut cursor = store.cursor(0, Some(store.progress().len));
        let mut got = Vec::new();
        while let Some(chunk) = cursor.next_chunk().await.unwrap() {
            got.extend_from_slice(&chunk);
        }
        got
    }

    /// Decodes `data` as far as it goes: (decoded bytes, whether the stream
    /// was complete).
    fn decode(codec: Codec, data: &[u8]) -> (Vec<u8>, bool) {
        match codec {
            Codec::Gzip => {
                let mut d = flate2::write::GzDecoder::new(Vec::new());
                d.write_all(data).unwrap();
                d.flush().unwrap();
                let complete = d.try_finish().is_ok();
                (d.get_ref().clone(), complete)
            }
            Codec::Zstd => {
                let mut d = zstd::stream::write::Decoder::new(Vec::new()).unwrap();
                d.write_all(data).unwrap();
                d.flush().unwrap();
                let out = d.get_ref().clone();
                let complete = d.finish().is_ok();
                (out, complete)
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_complete_log_compresses_once_to_a_complete_stream() {
        let (raw, encodings) = stores();
        let data = text(3 << 20);
        let mut upload = raw.begin_upload().unwrap();
        for piece in data.chunks(100_000) {
            upload.append(Bytes::copy_from_slice(piece)).unwrap();
        }
        upload.finish();
        for codec in Codec::ALL {
            assert_eq!(
                encodings.store(codec).progress().phase,
                Phase::AwaitingUpload
            );
            let store = encodings.start(codec);
            assert!(std::ptr::eq(store, encodings.start(codec)), "one store");
            let (compressed, end) = read_all(store).await;
            assert!(end.is_ok(), "{codec}: {end:?}");
            assert!(
                compressed.len() * 5 < data.len(),
                "{codec}: {}",
                compressed.len()
            );
            let (decoded, complete) = decode(codec, &compressed);
            assert!(complete, "{codec}");
            assert!(
                decoded == data,
                "{codec}: {} of {} bytes",
                decoded.len(),
                data.len()
            );
            assert_eq!(store.progress().phase, Phase::Complete);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_live_line_is_flushed_to_readers_and_a_broken_log_has_no_end() {
        let (raw, encodings) = stores();
        let mut upload = raw.begin_upload().unwrap();
        let first = text(200_000);
        upload.append(Bytes::copy_from_slice(&first)).unwrap();
        for codec in Codec::ALL {
            encodings.start(codec);
        }
        let line = b"a live line\n";
        upload.append(Bytes::from_static(line)).unwrap();
        let mut expected = first.clone();
        expected.extend_from_slice(line);
        for codec in Codec::ALL {
            // The line is decodable while the log is still live: flushed at
            // the head.
            let store = encodings.store(codec);
            let decodable = async {
                loop {
                    if decode(codec, &read_stored(store).await).0 == expected {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            };
            tokio::time::timeout(Duration::from_secs(30), decodable)
                .await
                .unwrap_or_else(|_| panic!("{codec}: the live line was not flushed"));
        }
        drop(upload);
        for codec in Codec::ALL {
            let (compressed, end) = read_all(encodings.store(codec)).await;
            assert!(
                matches!(end, Err(ReadError::Incomplete(_))),
                "{codec}: {end:?}"
            );
            let (decoded, complete) = decode(codec, &compressed);
            assert!(!complete, "{codec}: a broken log's stream has no end");
            assert_eq!(decoded, expected, "{codec}: every stored byte");
        }
    }
}
