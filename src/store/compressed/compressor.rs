//! One codec's compressor: it follows the log like a reader and appends
//! what it produces to the codec's store (see the module above for why and
//! when it flushes).

use bytes::Bytes;

use super::{APPEND_BYTES, Codec, Encoder};
use crate::error::Chain;
use crate::runtime_thread::{OwnRuntime, RuntimeThread};
use crate::store::{Cursor, LogStore, Phase, ReadError, Upload};

/// Starts `codec`'s compressor on a thread of its own, from `raw` into
/// `out`, its events in `span`. Whatever fails leaves `out`'s upload dropped
/// unfinished, so its readers end incomplete instead of waiting for ever;
/// the failure is logged and `None` returned.
pub(super) fn start(
    codec: Codec,
    raw: &LogStore,
    out: &LogStore,
    span: tracing::Span,
) -> Option<RuntimeThread> {
    // Each compressed store is written by its one compressor only.
    let upload = out.begin_upload().ok()?;
    let encoder = match Encoder::new(codec) {
        Ok(encoder) => encoder,
        Err(err) => {
            tracing::error!("cannot start the {codec} compressor: {}", Chain(&err));
            return None;
        }
    };
    let compressor = Compressor {
        codec,
        raw: raw.clone(),
        cursor: raw.cursor(0, None),
        upload,
        encoder,
    };
    let _in_span = span.enter();
    tracing::info!("compressing the log for {codec} readers");
    let started = OwnRuntime::new(format!("livelog-{codec}"), span.clone())
        .and_then(|runtime| runtime.run(compressor.run()));
    match started {
        Ok(thread) => Some(thread),
        Err(err) => {
            tracing::error!(
                "cannot start the {codec} compressor's thread: {}",
                Chain(&err)
            );
            None
        }
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
                        tracing::error!("{codec} compression failed: {}", Chain(&err));
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
                            tracing::error!("{codec} compression failed: {}", Chain(&err));
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
                    tracing::error!("{codec} compressor cannot read the log: {}", Chain(&err));
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
