//! Which resource a request path names, on either port: the one place that
//! knows livelog's paths. The reader port answers [`Route::Log`] and
//! [`Route::View`]; the upload port [`Route::Log`] without a token (the
//! upload), [`Route::Metrics`] and [`Route::Status`]. The access log writes
//! every path as its route's [`Route::redacted`] form, so no token a client
//! sends, right or wrong, on either port, is ever logged.

/// A resource beside the log, under its URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// `/outline`: sections and error lines (JSON, or Server-Sent Events).
    Outline,
    /// `/search`: matching lines (newline-delimited JSON).
    Search,
}

impl Part {
    /// The path segment that names it.
    pub fn segment(self) -> &'static str {
        match self {
            Part::Outline => "outline",
            Part::Search => "search",
        }
    }
}

/// A request path, parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route<'a> {
    /// `/` (or an empty path).
    Root,
    /// `/log` (`None`: the upload's path) or `/log/<token>` (the token as
    /// sent, still percent-encoded; possibly empty).
    Log(Option<&'a str>),
    /// `/log/<token>/outline` or `/log/<token>/search`: what livelog knows
    /// about the log's text.
    LogPart(&'a str, Part),
    /// `/view` or `/view/<token>`: the viewer page.
    View(Option<&'a str>),
    /// `/metrics`.
    Metrics,
    /// `/status`.
    Status,
    /// Anything else.
    Other,
}

impl<'a> Route<'a> {
    /// The route `path` names.
    pub fn of(path: &'a str) -> Route<'a> {
        let token = |prefix: &str| -> Option<Option<&'a str>> {
            let rest = path.strip_prefix(prefix)?;
            if rest.is_empty() {
                return Some(None);
            }
            rest.strip_prefix('/').map(Some)
        };
        match path {
            "" | "/" => Route::Root,
            "/metrics" => Route::Metrics,
            "/status" => Route::Status,
            _ => {
                if let Some(t) = token("/log") {
                    let part = |part: Part| {
                        let token = t?.strip_suffix(part.segment())?.strip_suffix('/')?;
                        Some(Route::LogPart(token, part))
                    };
                    part(Part::Outline)
                        .or_else(|| part(Part::Search))
                        .unwrap_or(Route::Log(t))
                } else if let Some(t) = token("/view") {
                    Route::View(t)
                } else {
                    Route::Other
                }
            }
        }
    }

    /// The path as it may be logged: one of ten fixed strings, any token
    /// (and any other path, which may be a mistyped or guessed token)
    /// replaced by `<redacted>`.
    pub fn redacted(self) -> &'static str {
        match self {
            Route::Root => "/",
            Route::Log(None) => "/log",
            Route::Log(Some(_)) => "/log/<redacted>",
            Route::LogPart(_, Part::Outline) => "/log/<redacted>/outline",
            Route::LogPart(_, Part::Search) => "/log/<redacted>/search",
            Route::View(None) => "/view",
            Route::View(Some(_)) => "/view/<redacted>",
            Route::Metrics => "/metrics",
            Route::Status => "/status",
            Route::Other => "/<redacted>",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_their_routes() {
        assert_eq!(Route::of("/log"), Route::Log(None));
        assert_eq!(Route::of("/log/"), Route::Log(Some("")));
        assert_eq!(Route::of("/log/a%2Fb"), Route::Log(Some("a%2Fb")));
        assert_eq!(Route::of("/logs"), Route::Other);
        assert_eq!(
            Route::of("/log/t/outline"),
            Route::LogPart("t", Part::Outline)
        );
        assert_eq!(Route::of("/log//search"), Route::LogPart("", Part::Search));
        assert_eq!(Route::of("/log/outline"), Route::Log(Some("outline")));
        assert_eq!(Route::of("/view/t"), Route::View(Some("t")));
        assert_eq!(Route::of("/viewt"), Route::Other);
        assert_eq!(Route::of(""), Route::Root);
        assert_eq!(Route::of("/metrics/"), Route::Other);
    }
}
