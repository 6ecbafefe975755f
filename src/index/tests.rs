//! Tests of the indexer over a real store: lines, arrival times, the
//! outline, a log that ends without a newline, and patterns split between
//! chunks.

use std::time::Duration;

use bytes::Bytes;

use super::*;
use crate::metrics::StoreMetrics;
use crate::store::StoreLimits;

fn store(dir: &Path) -> LogStore {
    LogStore::create_in(
        dir,
        StoreLimits::from_ring_bytes(64 * 1024),
        StoreMetrics::default(),
    )
    .unwrap()
}

async fn indexed(index: &LogIndex) -> Indexed {
    let done = async {
        loop {
            let now = index.indexed();
            if now.ended() {
                return now;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), done)
        .await
        .expect("the indexer finishes")
}

#[tokio::test]
async fn lines_and_outline_of_chunks_cut_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let index = LogIndex::create_in(&store, dir.path()).unwrap();
    let thread = index.start(tracing::Span::none()).unwrap();
    let log = "::group::Build\ncompiling\nerr".to_owned()
        + "or: oops\n::endgroup::\nlast line without newline";
    let mut upload = store.begin_upload().unwrap();
    // Cut into pieces that split lines and the error pattern itself.
    for piece in log.as_bytes().chunks(7) {
        upload.append(Bytes::copy_from_slice(piece)).unwrap();
    }
    upload.finish();
    let done = indexed(&index).await;
    assert_eq!(done.phase, Phase::Complete);
    assert_eq!(done.newlines, 4);
    let last_start = index.last_line_start(done).unwrap();
    assert_eq!(done.lines(last_start), 5);
    let starts: Vec<_> = (1..=6)
        .map(|n| index.lines().start_of(n).unwrap())
        .collect();
    assert_eq!(
        starts,
        [Some(0), Some(15), Some(25), Some(37), Some(50), None]
    );
    let (outline, _) = index.outline();
    assert_eq!(outline.sections.len(), 1);
    assert_eq!(outline.sections[0].name, "Build");
    assert_eq!(outline.sections[0].last_line, Some(4));
    assert_eq!(outline.error_total, 1);
    assert_eq!(outline.errors[0].line, 3);
    assert_eq!(outline.errors[0].text, "error: oops");
    thread.stop().await;
}

#[tokio::test]
async fn waiting_for_an_offset_returns_once_it_is_indexed_or_the_log_ends() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let index = LogIndex::create_in(&store, dir.path()).unwrap();
    let _thread = index.start(tracing::Span::none()).unwrap();
    let mut upload = store.begin_upload().unwrap();
    upload.append(Bytes::from_static(b"one\ntwo\n")).unwrap();
    let now = index.wait_for(8).await;
    assert_eq!((now.offset, now.newlines), (8, 2));
    let waiting = tokio::spawn({
        let index = index.clone();
        async move { index.wait_for(1000).await }
    });
    upload.abort();
    let ended = waiting.await.unwrap();
    assert_eq!(ended.phase, Phase::Broken);
    assert_eq!(ended.offset, 8);
}
