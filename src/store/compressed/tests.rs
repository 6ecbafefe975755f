//! Tests of the compressed copies: once per coding, live lines flushed,
//! a broken log without a stream end.

use std::io::Write;
use std::time::Duration;

use bytes::Bytes;

use super::*;
use crate::store::{Phase, ReadError, StoreLimits};

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
        out.extend_from_slice(format!("line {i}: compiling crate number {}\n", i % 97).as_bytes());
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
