//! Each variable's text into its typed value, or a [`ConfigError`] naming
//! the variable: ports with the Go livelog's exit codes, addresses, bounded
//! whole numbers, the TLS file pair.

use std::fmt;
use std::net::IpAddr;

use super::{TlsFiles, VARIABLES};

/// HTTPS needs both files or neither.
pub(super) fn tls_files(
    cert: Option<String>,
    key: Option<String>,
) -> Result<Option<TlsFiles>, ConfigError> {
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(Some(TlsFiles {
            cert: cert.into(),
            key: key.into(),
        })),
        (None, None) => Ok(None),
        (Some(_), None) => Err(ConfigError::new(
            "SERVER_CRT_FILE is set but SERVER_KEY_FILE is not: set both for HTTPS, or neither",
        )),
        (None, Some(_)) => Err(ConfigError::new(
            "SERVER_KEY_FILE is set but SERVER_CRT_FILE is not: set both for HTTPS, or neither",
        )),
    }
}

/// Whether `name` is one of livelog's [`VARIABLES`], as `envy` matches them
/// (ignoring ASCII case).
pub(super) fn is_livelogs(name: &str) -> bool {
    VARIABLES
        .iter()
        .any(|(own, _)| own.eq_ignore_ascii_case(name))
}

/// An IP address (no port, no name: livelog does no name lookups).
pub(super) fn parse_host(name: &str, value: &str, examples: &str) -> Result<IpAddr, ConfigError> {
    value.trim().parse().map_err(|_| {
        ConfigError::new(format!(
            "{name}={value:?} is not an IP address (e.g. {examples})"
        ))
    })
}

pub(super) fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

/// A port: not a number → `nan_code`, outside 0..=65535 → `range_code` (the
/// Go livelog's exit codes: 64/65 for PUT, 66/67 for GET).
pub(super) fn parse_port(
    name: &str,
    value: &str,
    nan_code: i32,
    range_code: i32,
) -> Result<u16, ConfigError> {
    let n: i128 = value.trim().parse().map_err(|_| ConfigError {
        message: format!("{name}={value:?} is not a number: give a port in 0..=65535"),
        exit_code: nan_code,
    })?;
    u16::try_from(n).map_err(|_| ConfigError {
        message: format!("{name}={value:?} is out of range: give a port in 0..=65535"),
        exit_code: range_code,
    })
}

/// A whole number in `min..=max`, else an error naming the variable and
/// the range.
pub(super) fn parse_number<T>(name: &str, value: &str, min: T, max: T) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
{
    match value.trim().parse::<T>() {
        Ok(n) if n >= min && n <= max => Ok(n),
        _ => Err(ConfigError::new(format!(
            "{name}={value:?} is not a whole number in {min}..={max}"
        ))),
    }
}

/// A bad configuration: a one-line message naming the variable, and the
/// process exit code to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// One line, naming the variable and what is wrong with it.
    pub message: String,
    /// 64/65 (`LIVELOG_PUT_PORT` not a number / out of range), 66/67 (same
    /// for `LIVELOG_GET_PORT`), else 1.
    pub exit_code: i32,
}

impl ConfigError {
    pub(super) fn new(message: impl Into<String>) -> Self {
        ConfigError {
            message: message.into(),
            exit_code: 1,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}
