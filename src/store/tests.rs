//! Tests of the store: readers behind the ring, broken and closed logs.

use bytes::Bytes;

use super::*;

/// A complete log of `len` bytes behind a 64 KiB ring.
fn complete_log(len: usize) -> (LogStore, Vec<u8>) {
    let file = tempfile::tempfile().unwrap();
    let store = LogStore::with_file(file, StoreLimits::from_ring_bytes(64 * 1024));
    let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    let mut upload = store.begin_upload().unwrap();
    for piece in data.chunks(100_000) {
        upload.append(Bytes::copy_from_slice(piece)).unwrap();
    }
    upload.finish();
    (store, data)
}

async fn read_to_end(mut cursor: Cursor) -> Result<Vec<u8>, ReadError> {
    let mut got = Vec::new();
    while let Some(chunk) = cursor.next_chunk().await? {
        got.extend_from_slice(&chunk);
    }
    Ok(got)
}

#[tokio::test]
async fn a_reader_behind_the_ring_gets_every_byte() {
    let (store, data) = complete_log(4 << 20);
    let got = read_to_end(store.cursor(0, None)).await.unwrap();
    assert!(got == data, "got {} of {} bytes", got.len(), data.len());
    let part = read_to_end(store.cursor(1000, Some(5000))).await.unwrap();
    assert_eq!(part, data[1000..5000]);
}

#[tokio::test]
async fn a_dropped_upload_breaks_the_log_and_readers_end_incomplete() {
    let store = LogStore::with_file(
        tempfile::tempfile().unwrap(),
        StoreLimits::from_ring_bytes(1024),
    );
    let mut upload = store.begin_upload().unwrap();
    upload.append(Bytes::from_static(b"partial")).unwrap();
    let reader = tokio::spawn(read_to_end(store.cursor(0, None)));
    drop(upload);
    match reader.await.unwrap() {
        Err(ReadError::Incomplete(Incomplete { stored: 7 })) => {}
        other => panic!("{other:?}"),
    }
    assert!(store.begin_upload().is_err(), "a log is written once");
}

#[tokio::test]
async fn closing_a_store_awaiting_its_upload_ends_waiting_readers() {
    let store = LogStore::with_file(
        tempfile::tempfile().unwrap(),
        StoreLimits::from_ring_bytes(1024),
    );
    let reader = tokio::spawn(read_to_end(store.cursor(0, None)));
    assert_eq!(store.close_if_awaiting(), Phase::Broken);
    assert!(matches!(
        reader.await.unwrap(),
        Err(ReadError::Incomplete(Incomplete { stored: 0 }))
    ));
    let (complete, _) = complete_log(10);
    assert_eq!(complete.close_if_awaiting(), Phase::Complete);
}
