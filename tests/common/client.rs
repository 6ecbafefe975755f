//! Clients: `curl` as a user runs it (one-shot, or a reader the test
//! watches), a raw HTTP/1.1 reader over a plain socket (exact control of
//! reading and of the receive buffer), reqwest, and a self-signed
//! certificate for the TLS reader port.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::body::{Ended, Sink, Streamed};
use super::{SOON, TOKEN, wait_until};

/// Runs `curl` with `args`; returns (exit code, stdout bytes, stderr text).
pub fn curl(args: &[&str]) -> (i32, Vec<u8>, String) {
    let out = Command::new("curl")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("curl is installed");
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A `curl` running in the background, its stdout read as it streams (a
/// [`Streamed`] body) and its `-v` trace collected, so a test can wait until
/// curl has the response head ([`CurlReader::wait_head`]) or the first bytes
/// ([`Streamed::wait_len`] on `out`) instead of sleeping.
pub struct CurlReader<S: Sink = Vec<u8>> {
    child: Child,
    /// curl's stdout: the response body as it arrives.
    pub out: Streamed<S>,
    trace: Streamed<Vec<u8>>,
}

impl CurlReader<Vec<u8>> {
    /// `curl -v <args>`, keeping the body's bytes.
    pub fn spawn(args: &[&str]) -> Self {
        CurlReader::into_sink(args, Vec::new())
    }
}

impl<S: Sink> CurlReader<S> {
    /// `curl -v <args>`, the body fed to `sink` (e.g. a [`super::Checker`]).
    pub fn into_sink(args: &[&str], sink: S) -> Self {
        let mut child = Command::new("curl")
            .arg("-v")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("curl is installed");
        let out = Streamed::into_sink(child.stdout.take().unwrap(), sink);
        let trace = Streamed::new(child.stderr.take().unwrap());
        CurlReader { child, out, trace }
    }

    /// Waits (up to [`SOON`]) until curl has received a whole response head
    /// (`-v` prints it as `< ` lines, ending with an empty one): from then
    /// on, the daemon is serving this reader.
    pub fn wait_head(&self) {
        let has_head = || {
            let trace = String::from_utf8_lossy(&self.trace.bytes()).into_owned();
            trace
                .find("\n< HTTP/")
                .is_some_and(|at| trace[at..].contains("\n< \r\n"))
        };
        assert!(
            wait_until(SOON, has_head),
            "curl got no response head within {SOON:?}; its trace:\n{}",
            String::from_utf8_lossy(&self.trace.bytes())
        );
    }

    /// Whether curl is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits (up to [`SOON`]) for curl to exit; returns its exit code and the
    /// body (whatever ended it, curl's exit code says whether it was whole).
    pub fn finish(mut self) -> (i32, S) {
        let exited = wait_until(SOON, || self.child.try_wait().unwrap().is_some());
        if !exited {
            let _ = self.child.kill();
        }
        let code = self.child.wait().unwrap().code().unwrap_or(-1);
        assert!(
            exited,
            "curl did not exit within {SOON:?}; its trace:\n{}",
            String::from_utf8_lossy(&self.trace.bytes())
        );
        (code, self.out.finish().data)
    }

    /// Waits for curl to exit, however long that takes (a reader of a big
    /// upload); returns its exit code and the body.
    pub fn join(self) -> (i32, S) {
        let (code, end) = self.join_ended();
        (code, end.data)
    }

    /// [`CurlReader::join`], with when the body ended.
    pub fn join_ended(mut self) -> (i32, Ended<S>) {
        let code = self.child.wait().unwrap().code().unwrap_or(-1);
        (code, self.out.finish())
    }
}

/// Sends a raw request (bytes as given) on a fresh connection and returns
/// the whole raw response (until the server closes or 10 s pass). The
/// request is written on another thread, so a server that answers early and
/// stops reading (a refusal) is still heard even if the writes then fail.
pub fn raw_exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let stream = TcpStream::connect(addr).expect("connect");
    let writer = {
        let mut stream = stream.try_clone().unwrap();
        let request = request.to_vec();
        std::thread::spawn(move || {
            let _ = stream.write_all(&request);
        })
    };
    let mut reader = stream;
    reader
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match reader.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    let _ = reader.shutdown(std::net::Shutdown::Both);
    writer.join().unwrap();
    out
}

/// A reader on a raw TCP socket, so the caller controls exactly when (and
/// whether) it reads, and how small its receive buffer is.
pub struct RawReader {
    pub reader: BufReader<TcpStream>,
    headers: Vec<(String, String)>,
}

impl RawReader {
    /// Connects (with `SO_RCVBUF` set to `rcvbuf` bytes before connecting, if
    /// given, so the TCP window stays tiny) and sends `GET /log/<token>`.
    pub fn connect(get: SocketAddr, rcvbuf: Option<usize>) -> RawReader {
        RawReader::connect_with(get, rcvbuf, &format!("/log/{TOKEN}"), "")
    }

    /// [`RawReader::connect`], sending `GET <target>` with `headers` (whole
    /// lines, each ending in `\r\n`) added to the request.
    pub fn connect_with(
        get: SocketAddr,
        rcvbuf: Option<usize>,
        target: &str,
        headers: &str,
    ) -> RawReader {
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        if let Some(size) = rcvbuf {
            socket.set_recv_buffer_size(size).unwrap();
        }
        socket.connect(&get.into()).unwrap();
        let mut stream: TcpStream = socket.into();
        write!(
            stream,
            "GET {target} HTTP/1.1\r\nHost: {get}\r\n{headers}Connection: close\r\n\r\n"
        )
        .unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        RawReader {
            reader: BufReader::with_capacity(256 * 1024, stream),
            headers: vec![],
        }
    }

    /// This end's address (to find the connection in `/proc/net/tcp`).
    pub fn local_addr(&self) -> SocketAddr {
        self.reader.get_ref().local_addr().unwrap()
    }

    /// Reads the response head: (status, lower-cased header lines).
    pub fn head(&mut self) -> (u16, Vec<(String, String)>) {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {line:?}"));
        let mut headers = vec![];
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        self.headers = headers.clone();
        (status, headers)
    }

    /// The body (after [`RawReader::head`]), decoded as its headers say:
    /// chunked, `Content-Length`, or until the server closes. A body cut
    /// short reads as an error, as in any HTTP client.
    pub fn body(self) -> impl Read + Send + 'static {
        let header = |name: &str| {
            self.headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.to_ascii_lowercase())
        };
        let framing = if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            Framing::Chunked {
                left: 0,
                done: false,
            }
        } else if let Some(len) = header("content-length") {
            Framing::Length(len.parse().expect("Content-Length"))
        } else {
            Framing::UntilClose
        };
        Decoded {
            inner: self.reader,
            framing,
        }
    }
}

enum Framing {
    Chunked { left: usize, done: bool },
    Length(u64),
    UntilClose,
}

/// An HTTP/1.1 body, de-framed.
struct Decoded {
    inner: BufReader<TcpStream>,
    framing: Framing,
}

fn cut_short(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, what.to_string())
}

impl Read for Decoded {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.framing {
            Framing::UntilClose => self.inner.read(buf),
            Framing::Length(left) => {
                if *left == 0 {
                    return Ok(0);
                }
                let want = buf.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                let n = self.inner.read(&mut buf[..want])?;
                if n == 0 {
                    return Err(cut_short("body shorter than its Content-Length"));
                }
                *left -= n as u64;
                Ok(n)
            }
            Framing::Chunked { left, done } => {
                if *done {
                    return Ok(0);
                }
                if *left == 0 {
                    let mut size = String::new();
                    if self.inner.read_line(&mut size)? == 0 {
                        return Err(cut_short("no last chunk"));
                    }
                    let size = size.trim();
                    let size = size.split(';').next().unwrap_or_default();
                    *left = usize::from_str_radix(size, 16)
                        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "chunk size"))?;
                    if *left == 0 {
                        // The last chunk: the body is complete.
                        *done = true;
                        return Ok(0);
                    }
                }
                let want = buf.len().min(*left);
                let n = self.inner.read(&mut buf[..want])?;
                if n == 0 {
                    return Err(cut_short("chunk cut short"));
                }
                *left -= n;
                if *left == 0 {
                    let mut crlf = [0; 2];
                    self.inner.read_exact(&mut crlf)?;
                }
                Ok(n)
            }
        }
    }
}

/// A self-signed certificate for `localhost` (rcgen): returns the directory
/// holding `cert.pem` and `key.pem`, their paths, and the certificate PEM.
pub fn self_signed_cert() -> (tempfile::TempDir, PathBuf, PathBuf, String) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    let cert_pem = cert.cert.pem();
    std::fs::write(&cert_path, &cert_pem).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    (dir, cert_path, key_path, cert_pem)
}

/// A blocking reqwest client with no timeouts of its own.
pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
}
