//! A request's query string, decoded as browsers and `curl -G
//! --data-urlencode` write it (`application/x-www-form-urlencoded`: `+` is a
//! space, `%XX` a byte), and the parameters livelog's reader URLs take.
//! Every error is one line naming the parameter, for a `400`.

use std::fmt;

/// A decoded query: its `name=value` pairs, in order.
#[derive(Debug, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

/// A parameter livelog cannot use: the `400`'s one-line reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadQuery(pub String);

impl fmt::Display for BadQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad request: {}", self.0)
    }
}

impl Query {
    /// Decodes `query` (the part of the URI after `?`).
    pub fn of(query: Option<&str>) -> Self {
        let pairs = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
        Query { pairs }
    }

    /// Whether `name` is given at all.
    pub fn has(&self, name: &str) -> bool {
        self.pairs.iter().any(|(n, _)| n == name)
    }

    /// The value of `name`, if given once.
    ///
    /// # Errors
    /// [`BadQuery`] if it is given twice.
    pub fn get(&self, name: &str) -> Result<Option<&str>, BadQuery> {
        let mut values = self.pairs.iter().filter(|(n, _)| n == name);
        match (values.next(), values.next()) {
            (None, _) => Ok(None),
            (Some((_, value)), None) => Ok(Some(value)),
            (Some(_), Some(_)) => Err(BadQuery(format!("{name} is given twice: give it once"))),
        }
    }

    /// `name` as a flag: `true`/`1`/`yes`/`on` (or a bare `?name`) or
    /// `false`/`0`/`no`/`off`, in any case; absent is `false`.
    ///
    /// # Errors
    /// [`BadQuery`] for any other value.
    pub fn flag(&self, name: &str) -> Result<bool, BadQuery> {
        let Some(value) = self.get(name)? else {
            return Ok(false);
        };
        match value.to_ascii_lowercase().as_str() {
            "" | "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(BadQuery(format!("{name}={value:?} is not true or false"))),
        }
    }

    /// `name` as a whole number, if given.
    ///
    /// # Errors
    /// [`BadQuery`] if it is not one.
    pub fn number(&self, name: &str) -> Result<Option<u64>, BadQuery> {
        self.get(name)?
            .map(|value| {
                whole(value)
                    .ok_or_else(|| BadQuery(format!("{name}={value:?} is not a whole number")))
            })
            .transpose()
    }
}

/// Decimal digits only (no sign, no spaces), as a `u64`.
pub fn whole(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Which lines of the log a reader asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lines {
    /// `?tail=N`: the last `N` lines present when the request arrived, then
    /// every new line, as `tail -n N -f` does.
    Tail(u64),
    /// `?lines=A-B` (1-based, inclusive), `?lines=A-` (from `A` on, live),
    /// or `?lines=A` (that line).
    Range {
        /// The first line.
        first: u64,
        /// The last line; `None`: every line from `first` on.
        last: Option<u64>,
    },
}

/// A line view of the log: which lines, and whether each is prefixed with
/// its arrival time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineView {
    /// `None`: every line.
    pub lines: Option<Lines>,
    /// `?timestamps=true`: each line starts with its arrival time (RFC 3339,
    /// UTC, microseconds) and a space, as `kubectl logs --timestamps` does.
    pub timestamps: bool,
}

impl LineView {
    /// The line view `query` asks for, or `None` for the log's own bytes.
    ///
    /// # Errors
    /// [`BadQuery`] for a value that is not one, or `tail` with `lines`.
    pub fn of(query: &Query) -> Result<Option<LineView>, BadQuery> {
        let tail = query.number("tail")?;
        let lines = query.get("lines")?.map(range).transpose()?;
        let timestamps = query.flag("timestamps")?;
        let lines = match (tail, lines) {
            (Some(_), Some(_)) => {
                return Err(BadQuery(
                    "tail and lines do not go together: give one".into(),
                ));
            }
            (Some(n), None) => Some(Lines::Tail(n)),
            (None, lines) => lines,
        };
        Ok((lines.is_some() || timestamps).then_some(LineView { lines, timestamps }))
    }
}

/// `A-B`, `A-` or `A`: 1-based, `A <= B`.
fn range(value: &str) -> Result<Lines, BadQuery> {
    let bad = || {
        BadQuery(format!(
            "lines={value:?} is not a line range: give A-B, A- or A (1-based, A <= B)"
        ))
    };
    let (first, last) = match value.split_once('-') {
        Some((first, "")) => (whole(first).ok_or_else(bad)?, None),
        Some((first, last)) => (
            whole(first).ok_or_else(bad)?,
            Some(whole(last).ok_or_else(bad)?),
        ),
        None => {
            let line = whole(value).ok_or_else(bad)?;
            (line, Some(line))
        }
    };
    if first == 0 || last.is_some_and(|last| last < first) {
        return Err(bad());
    }
    Ok(Lines::Range { first, last })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(q: &str) -> Result<Option<LineView>, BadQuery> {
        LineView::of(&Query::of(Some(q)))
    }

    #[test]
    fn line_views_and_their_errors() {
        assert_eq!(view(""), Ok(None));
        assert_eq!(view("from=10"), Ok(None));
        assert_eq!(
            view("tail=20"),
            Ok(Some(LineView {
                lines: Some(Lines::Tail(20)),
                timestamps: false
            }))
        );
        assert_eq!(
            view("lines=3-7&timestamps=true"),
            Ok(Some(LineView {
                lines: Some(Lines::Range {
                    first: 3,
                    last: Some(7)
                }),
                timestamps: true
            }))
        );
        assert_eq!(
            view("lines=3-").unwrap().unwrap().lines,
            Some(Lines::Range {
                first: 3,
                last: None
            })
        );
        assert_eq!(
            view("lines=9").unwrap().unwrap().lines,
            Some(Lines::Range {
                first: 9,
                last: Some(9)
            })
        );
        assert_eq!(view("timestamps=1").unwrap().unwrap().lines, None);
        for bad in [
            "tail=-1",
            "tail=x",
            "tail=1&tail=2",
            "lines=0-3",
            "lines=5-3",
            "lines=a-b",
            "lines=-3",
            "lines=",
            "timestamps=maybe",
            "tail=1&lines=1-2",
        ] {
            let err = view(bad).unwrap_err();
            assert!(err.to_string().starts_with("bad request: "), "{bad}: {err}");
        }
    }

    #[test]
    fn values_are_form_decoded() {
        let q = Query::of(Some("q=a+b%2Bc&regex=true"));
        assert_eq!(q.get("q").unwrap(), Some("a b+c"));
        assert!(q.flag("regex").unwrap());
        assert!(!q.flag("follow").unwrap());
    }
}
