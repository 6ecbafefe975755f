//! The log viewer page: `GET`/`HEAD /view/<ACCESS_TOKEN>` on the reader
//! port (the token is checked by [`super::reader`]).
//!
//! One self-contained response: `assets/viewer/index.html` with its
//! stylesheet and script (the files of `assets/viewer/js/`, joined) inlined,
//! built once at startup. The page's
//! `Content-Security-Policy` allows exactly that script and that stylesheet
//! (by their SHA-256), requests to its own origin only (the log's event
//! stream and one `HEAD`), and nothing else. `assets/viewer/README.md` is the
//! contract between the page and this module.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Response, StatusCode};
use http_body_util::{BodyExt, Full};

use super::{ResponseBody, empty, plain};

const INDEX: &str = include_str!("../../assets/viewer/index.html");
const CSS: &str = include_str!("../../assets/viewer/viewer.css");
/// The page's one script: the files of `assets/viewer/js/`, one per job, in
/// this order, as the body of one function. One script keeps one hash in
/// the policy and the page one response (`assets/viewer/README.md` says why);
/// one function keeps the files' shared declarations out of the page's
/// global scope; `concat!` needs no bundler.
const JS: &str = concat!(
    "'use strict';\n\n(() => {\n",
    include_str!("../../assets/viewer/js/ansi.js"),
    include_str!("../../assets/viewer/js/screen.js"),
    include_str!("../../assets/viewer/js/page.js"),
    include_str!("../../assets/viewer/js/rows.js"),
    include_str!("../../assets/viewer/js/time.js"),
    include_str!("../../assets/viewer/js/outline.js"),
    include_str!("../../assets/viewer/js/render.js"),
    include_str!("../../assets/viewer/js/links.js"),
    include_str!("../../assets/viewer/js/search.js"),
    include_str!("../../assets/viewer/js/streams.js"),
    include_str!("../../assets/viewer/js/start.js"),
    "})();\n",
);

/// The page, and the policy that lets it run.
#[derive(Debug, Clone)]
pub struct Viewer {
    page: Bytes,
    csp: HeaderValue,
}

impl Default for Viewer {
    fn default() -> Self {
        Self::new()
    }
}

impl Viewer {
    /// Assembles the page and hashes its script and stylesheet (once, at
    /// startup: two SHA-256 digests of ~50 KiB).
    pub fn new() -> Self {
        let page = INDEX
            .replacen("<!--viewer.css-->", &format!("<style>{CSS}</style>"), 1)
            .replacen("<!--viewer.js-->", &format!("<script>{JS}</script>"), 1);
        let csp = format!(
            "default-src 'none'; script-src 'sha256-{}'; style-src 'sha256-{}'; \
             connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; \
             frame-ancestors 'none'; require-trusted-types-for 'script'; trusted-types 'none'",
            sha256_base64(JS),
            sha256_base64(CSS),
        );
        Viewer {
            page: Bytes::from(page),
            // ASCII only: keywords, hashes in base64.
            csp: HeaderValue::from_str(&csp)
                .unwrap_or(HeaderValue::from_static("default-src 'none'")),
        }
    }

    /// The answer to `method` on `/view/<ACCESS_TOKEN>` (token already
    /// checked): the page for `GET`, its head for `HEAD`, `405` otherwise.
    pub fn respond(&self, method: &Method) -> Response<ResponseBody> {
        if method != Method::GET && method != Method::HEAD {
            let mut resp = plain(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed: open the viewer with GET\n",
            );
            resp.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return resp;
        }
        let body = if method == Method::HEAD {
            empty()
        } else {
            Full::new(self.page.clone())
                .map_err(|never| match never {})
                .boxed_unsync()
        };
        let mut resp = Response::new(body);
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        h.insert(header::CONTENT_SECURITY_POLICY, self.csp.clone());
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert(
            header::HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        );
        h.insert(
            header::HeaderName::from_static("cross-origin-resource-policy"),
            HeaderValue::from_static("same-origin"),
        );
        // The URL holds the token: nothing may keep the page.
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(self.page.len()));
        resp
    }
}

/// Standard base64 (with padding) of the SHA-256 of `text`'s UTF-8 bytes,
/// as a CSP hash source wants it.
fn sha256_base64(text: &str) -> String {
    BASE64.encode(ring::digest::digest(&ring::digest::SHA256, text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inlined_files_cannot_end_their_own_element() {
        // The HTML parser ends a <script> or <style> at the first `</script`
        // or `</style` (any case), whatever JavaScript or CSS means there.
        for (name, text) in [("the script (js/*.js)", JS), ("viewer.css", CSS)] {
            let lower = text.to_ascii_lowercase();
            assert!(
                !lower.contains("</script") && !lower.contains("</style"),
                "{name} contains </script or </style"
            );
        }
        for marker in ["<!--viewer.css-->", "<!--viewer.js-->"] {
            assert_eq!(INDEX.matches(marker).count(), 1, "{marker} in index.html");
        }
    }

    #[test]
    fn the_policy_hashes_exactly_the_inlined_script_and_style() {
        assert_eq!(
            sha256_base64(""),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        let v = Viewer::new();
        let page = std::str::from_utf8(&v.page).unwrap();
        assert!(page.contains(&format!("<script>{JS}</script>")));
        assert!(page.contains(&format!("<style>{CSS}</style>")));
        assert!(!page.contains("<!--viewer."));
        let csp = v.csp.to_str().unwrap();
        assert!(csp.contains(&format!("script-src 'sha256-{}'", sha256_base64(JS))));
        assert!(csp.contains(&format!("style-src 'sha256-{}'", sha256_base64(CSS))));
        assert!(csp.starts_with("default-src 'none'; "));
    }
}
