//! Seeing what livelog is doing, where only the binary will do:
//! its JSON log lines (`LIVELOG_LOG_FORMAT=json`, set up by the binary's
//! `logging::init`). `/metrics`, `/status` and the text log are
//! `tests/protocol/observe.rs`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use crate::common::{TOKEN, Uploader, binary, curl};

/// `LIVELOG_LOG_FORMAT=json`: every line is one JSON object, with the same
/// fields as the text format.
#[test]
fn json_logs_are_one_object_per_line() {
    let mut child = Command::new(binary())
        .env_clear()
        .env("ACCESS_TOKEN", TOKEN)
        .env("LIVELOG_PUT_PORT", "0")
        .env("LIVELOG_GET_PORT", "0")
        .env("LIVELOG_LOG_FORMAT", "json")
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let ready: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert!(
        ready["message"]
            .as_str()
            .unwrap()
            .starts_with("livelog ready")
    );
    let put: SocketAddr = ready["put"].as_str().unwrap().parse().unwrap();
    let get: SocketAddr = ready["get"].as_str().unwrap().parse().unwrap();
    let get = SocketAddr::new([127, 0, 0, 1].into(), get.port());
    let mut up = Uploader::start(put);
    up.chunk(b"hello\n");
    assert_eq!(up.finish().0, 201);
    let (code, out, _) = curl(&["-s", &format!("http://{get}/log/{TOKEN}")]);
    assert_eq!((code, out.as_slice()), (0, &b"hello\n"[..]));

    let mut request = None;
    for line in lines.by_ref().take(10) {
        let line = line.unwrap();
        assert!(!line.contains(TOKEN));
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            v["timestamp"].is_string() && v["level"].is_string(),
            "{line}"
        );
        if v["message"] == "request" && v["listener"] == "reader" {
            request = Some(v);
            break;
        }
    }
    let r = request.expect("a request line");
    assert_eq!(r["method"], "GET");
    assert_eq!(r["path"], "/log/<redacted>");
    assert_eq!(r["status"], 200);
    assert_eq!(r["bytes"], 6);
    assert_eq!(r["outcome"], "complete");
    let _ = child.kill();
    let _ = child.wait();
}
