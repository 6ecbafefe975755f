//! `GET /log/<ACCESS_TOKEN>/search?q=TEXT`: the lines of the whole log that
//! hold `TEXT` (or, with `&regex=true`, match it as a `regex` crate regular
//! expression), as newline-delimited JSON, one matching line each:
//!
//! ```json
//! {"line": 120, "offset": 5190, "text": "error: linking failed"}
//! {"total": 1, "complete": true, "bytes": 65536}
//! ```
//!
//! The last line says how many lines matched, whether the log was complete,
//! and how many bytes were searched. Without `&follow=true` the search
//! covers the log as stored when the request arrived; with it, it goes on
//! with every new line until the upload ends, like `tail -f | grep`.
//!
//! The search's CPU work runs on a scan thread of livelog's own, at low
//! priority, holding a scan slot (`scans.rs`: a search past the slots gets
//! `503` or `429` with `Retry-After`), and never on the runtime threads
//! that serve the live log; it reads the log through the store's cursor
//! like a reader that catches up: from the temp file within the shared
//! catch-up budget, never holding back the upload or another reader
//! (`search_scan.rs`). It searches each chunk whole (`memchr::memmem` for
//! text, the regex's own literal prefilter for a pattern) rather than line
//! by line, and counts lines only up to each match. Only whole lines are
//! searched: the start of a line still being written waits for its end (or
//! the log's).
//!
//! The answer is in the content coding the request's `Accept-Encoding`
//! chooses, by the log's rules (`http/encoding.rs`, RFC 9110 §12.5.3), with
//! `Vary: Accept-Encoding`: compressed on the scan thread, a sync flush
//! after each batch of results, so a browser decodes each as it arrives.

use futures_util::stream;
use http::{Method, Response, StatusCode, header};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use tokio::sync::mpsc;

use super::head::{X_ACCEL_BUFFERING, insert, with_cors};
use super::scans::SharedSlot;
use super::search_matcher::Matcher;
use super::search_scan::{BATCHES_AHEAD, Batch, Framer, Search, scan};
use super::slots::Admitted;
use super::{Ask, ReadHandler};
use crate::error::Chain;
use crate::http::encoding;
use crate::http::query::Query;
use crate::http::{BoxError, ResponseBody, empty, plain};

impl ReadHandler {
    /// A search of the log (see the module documentation).
    pub(super) fn search<B>(&self, ask: &Ask<'_, B>) -> Response<ResponseBody> {
        let req = ask.req;
        let query = Query::of(req.uri().query());
        let (matcher, follow) =
            match Matcher::of(&query).and_then(|m| Ok((m, query.flag("follow")?))) {
                Ok(found) => found,
                Err(bad) => return with_cors(plain(StatusCode::BAD_REQUEST, &format!("{bad}\n"))),
            };
        self.metrics.searches.inc();
        // The answer's coding, as for the log (`http/encoding.rs`): browsers
        // ask for one, and a search can answer with as many bytes as the
        // log holds.
        let mut coding = encoding::choose(req.headers());
        let body = if req.method() == Method::HEAD {
            empty()
        } else {
            // A scan slot for the work, then a reader slot for the response
            // as every reader (in this order, a search refused a scan slot
            // is not counted as a reader served).
            let (slot, scan_threads) = match self.scans.take(ask.client) {
                Ok(taken) => taken,
                Err(refused) => return self.scans.refuse(refused),
            };
            let admitted = match self.slots.take(ask.client, req.version(), "search") {
                Ok(admitted) => admitted,
                Err(refused) => return self.slots.refuse(refused),
            };
            let end = (!follow).then(|| self.store.progress().len);
            let search = Search::new(self.store.cursor(0, end), matcher);
            let framer = Framer::new(coding).unwrap_or_else(|err| {
                // Not compressing is always an answer the client can read.
                tracing::warn!("search answered uncompressed: {}", Chain(&err));
                coding = None;
                Framer::identity()
            });
            let (tx, rx) = mpsc::channel(BATCHES_AHEAD);
            let slot = SharedSlot::new(slot);
            scan_threads.spawn(scan(search, slot.clone(), follow, framer, tx));
            body(
                rx,
                Held {
                    _admitted: admitted,
                    slot,
                },
            )
        };
        let mut resp = Response::new(body);
        insert(&mut resp, header::CONTENT_TYPE, "application/x-ndjson");
        if let Some(codec) = coding {
            insert(&mut resp, header::CONTENT_ENCODING, codec.name());
        }
        insert(&mut resp, header::VARY, "Accept-Encoding");
        insert(&mut resp, header::CACHE_CONTROL, "no-store");
        insert(&mut resp, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
        insert(&mut resp, X_ACCEL_BUFFERING, "no");
        with_cors(resp)
    }
}

/// What a search's response body holds until it is dropped: its reader
/// slot, and its share of the scan slot (given back then, if the scan has
/// not given it back already).
struct Held {
    _admitted: Admitted,
    slot: SharedSlot,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.slot.release();
    }
}

/// The response body: the batches the scan sends, until the last. Dropping
/// it gives back what it `held` and closes the channel, which stops the
/// scan.
fn body(rx: mpsc::Receiver<Batch>, held: Held) -> ResponseBody {
    let frames = stream::unfold((rx, held, false), |(mut rx, held, ended)| async move {
        if ended {
            return None;
        }
        let frame = match rx.recv().await {
            Some(Batch::Results(bytes)) => {
                return Some((Ok(Frame::data(bytes)), (rx, held, false)));
            }
            Some(Batch::Last(bytes)) => Ok(Frame::data(bytes)),
            Some(Batch::Failed(err)) => Err(err),
            // The scan was dropped before its end (livelog is stopping):
            // the response must end incomplete, not look whole.
            None => Err(BoxError::from(
                "the search stopped before the end of the log",
            )),
        };
        Some((frame, (rx, held, true)))
    });
    StreamBody::new(frames).boxed_unsync()
}
