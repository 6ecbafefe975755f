//! Uploads: a raw HTTP/1.1 chunked upload we control byte by byte
//! ([`Uploader`]), and `curl -T` as a user runs it ([`curl_upload`]).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A raw HTTP/1.1 chunked upload over a plain TCP socket, for exact control
/// of framing (good chunks, bad chunks, aborts).
pub struct Uploader {
    pub stream: TcpStream,
}

impl Uploader {
    /// Connects and sends the request head of a chunked `PUT /log`.
    pub fn start(put: SocketAddr) -> Uploader {
        let mut stream = TcpStream::connect(put).expect("connect to upload port");
        stream.set_nodelay(true).unwrap();
        write!(
            stream,
            "PUT /log HTTP/1.1\r\nHost: {put}\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        .unwrap();
        Uploader { stream }
    }

    /// Sends one chunk, framed, in one write (one segment for a small chunk:
    /// the latency benchmark sends each line this way).
    pub fn chunk(&mut self, data: &[u8]) {
        if data.is_empty() {
            return; // an empty chunk would be the last one
        }
        let mut framed = Vec::with_capacity(data.len() + 16);
        write!(framed, "{:x}\r\n", data.len()).unwrap();
        framed.extend_from_slice(data);
        framed.extend_from_slice(b"\r\n");
        self.stream.write_all(&framed).unwrap();
    }

    /// Sends the last chunk and returns the response's status code and body.
    pub fn finish(mut self) -> (u16, String) {
        self.stream.write_all(b"0\r\n\r\n").unwrap();
        read_response(&mut self.stream)
    }

    /// Drops the connection mid-upload (no last chunk).
    pub fn abort(self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

/// Reads one HTTP/1.1 response with a Content-Length body (as livelog's
/// short replies have) and returns `(status, body)`.
pub fn read_response(stream: &mut TcpStream) -> (u16, String) {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).unwrap();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap();
            }
        }
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// How [`curl_upload`] hands the file to curl.
#[derive(Clone, Copy, Debug)]
pub enum UploadFrom {
    /// `curl -T - < file`: curl does not know the size and sends the body
    /// chunked, as the README's streamed upload does.
    Stdin,
    /// `curl -T file`: curl sends a `Content-Length`.
    File,
}

/// What [`curl_upload`] saw.
#[derive(Debug)]
pub struct CurlUpload {
    /// curl's exit code.
    pub code: i32,
    /// The response status (0 if there was none).
    pub status: u16,
    /// The response body (livelog's one-line reason).
    pub body: String,
    /// curl's own messages (`-sS`: errors only).
    pub stderr: String,
    /// How long curl ran.
    pub took: Duration,
}

/// Uploads `file` to `put_url` with `curl -sS -T`, as a user would.
pub fn curl_upload(put_url: &str, file: &Path, from: UploadFrom) -> CurlUpload {
    // The status goes after the body, on a line of its own.
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "-w", "\n%{http_code}", "-T"]);
    match from {
        UploadFrom::Stdin => {
            cmd.arg("-")
                .stdin(std::fs::File::open(file).expect("upload file"));
        }
        UploadFrom::File => {
            cmd.arg(file).stdin(Stdio::null());
        }
    }
    let started = Instant::now();
    let out = cmd.arg(put_url).output().expect("curl is installed");
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = stdout.rsplit_once('\n').unwrap_or(("", &stdout));
    CurlUpload {
        code: out.status.code().unwrap_or(-1),
        status: status.trim().parse().unwrap_or(0),
        body: body.to_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took,
    }
}
