//! The hyper services of a connection: what each request is handed to. The
//! upload port's requests go to the [`UploadHandler`]; the reader port's to
//! the [`ReadHandler`](crate::http::reader::ReadHandler), their bodies
//! wrapped for how the connection sends them ([`FlushFirst`] on HTTP/1.1,
//! [`Watched`] on HTTP/2).

use std::convert::Infallible;
use std::future::{Future, Ready, ready};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::service::Service;

use super::context::ConnContext;
use super::h1_io::{FlushFirst, H1State};
use super::stall::Watched;
use crate::http::ResponseBody;
use crate::http::access_log::{AccessLogged, LoggedResponse};
use crate::http::upload::UploadHandler;

/// The upload port's service: every request goes to the [`UploadHandler`].
#[derive(Clone)]
pub(super) struct UploadService {
    pub(super) handler: UploadHandler,
    pub(super) state: Arc<H1State>,
    pub(super) peer: SocketAddr,
}

impl Service<Request<Incoming>> for UploadService {
    type Response = LoggedResponse;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<LoggedResponse, Infallible>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        self.state.request_seen();
        let handler = self.handler.clone();
        let peer = self.peer;
        Box::pin(async move { Ok(handler.call(req, peer).await) })
    }
}

/// The reader port's service on HTTP/1.1 ([`read_service`]).
pub(super) struct ReadService {
    pub(super) ctx: Arc<ConnContext>,
    pub(super) state: Arc<H1State>,
    pub(super) peer: SocketAddr,
}

type H1ReadResponse = Response<FlushFirst<AccessLogged<ResponseBody>>>;

impl Service<Request<Incoming>> for ReadService {
    type Response = H1ReadResponse;
    type Error = Infallible;
    type Future = Ready<Result<H1ReadResponse, Infallible>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        self.state.request_seen();
        let resp = self.ctx.read.call(&req, self.peer);
        ready(Ok(
            resp.map(|body| FlushFirst::new(body, Arc::clone(&self.state)))
        ))
    }
}

/// The reader port's service on HTTP/2; each body is [`Watched`] for stalls.
pub(super) struct H2ReadService {
    pub(super) ctx: Arc<ConnContext>,
    pub(super) got_request: Arc<AtomicBool>,
    pub(super) peer: SocketAddr,
}

type H2ReadResponse = Response<Watched<AccessLogged<ResponseBody>>>;

impl Service<Request<Incoming>> for H2ReadService {
    type Response = H2ReadResponse;
    type Error = Infallible;
    type Future = Ready<Result<H2ReadResponse, Infallible>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        self.got_request.store(true, Ordering::Relaxed);
        ready(Ok(self.ctx.read.call(&req, self.peer).map(Watched::new)))
    }
}
