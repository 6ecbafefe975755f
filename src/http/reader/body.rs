//! A reader's response body: the cursor's chunks, one frame each, as the
//! store hands them out (from the ring at the head, from the temp file
//! behind it), and what the reader holds while it streams.

use std::sync::Arc;

use futures_util::stream;
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};

use super::slots::Admitted;
use crate::http::{BoxError, ResponseBody};
use crate::metrics::Metrics;
use crate::store::Cursor;

/// One admitted reader of the log's bytes: its cursor, and its slot.
pub(super) struct Reader {
    pub(super) cursor: Cursor,
    pub(super) _admitted: Admitted,
    pub(super) metrics: Arc<Metrics>,
}

/// The body of one reader: the cursor's chunks, one frame each, ending
/// cleanly at the cursor's end and with an error if the upload broke.
pub(super) fn stream_body(reader: Reader) -> ResponseBody {
    // The state is `None` once the body failed, so it ends there instead of
    // reporting the same error again.
    let chunks = stream::unfold(Some(reader), |state| async move {
        let mut reader = state?;
        match reader.cursor.next_chunk().await {
            Ok(Some(chunk)) => {
                reader.metrics.sent_bytes.inc_by(chunk.len() as u64);
                Some((Ok(Frame::data(chunk)), Some(reader)))
            }
            Ok(None) => None,
            Err(err) => {
                reader.metrics.readers_incomplete.inc();
                Some((Err(BoxError::from(err)), None))
            }
        }
    });
    StreamBody::new(chunks).boxed_unsync()
}
