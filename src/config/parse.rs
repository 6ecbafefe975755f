//! Each kind of value a setting takes, from its text: ports (with the Go
//! livelog's exit codes), addresses, bounded whole numbers, seconds, the TLS
//! file pair, the log format. Every error is a [`ConfigError`] naming the
//! setting.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use super::error::ConfigError;
use super::setting::Setting;
use super::{Config, IpNet, LogFormat, MAX_TIMEOUT_SECS, TlsFiles};

/// `NAME="value" <why>`, with `exit_code`.
fn bad(setting: &Setting, value: &str, why: fmt::Arguments<'_>, exit_code: u8) -> ConfigError {
    ConfigError::with_code(format!("{}={value:?} {why}", setting.name), exit_code)
}

/// `value` unless it is empty: an empty variable counts as unset, as in the
/// Go livelog, for every setting the Go livelog has.
pub(super) fn non_empty(value: &str) -> Option<&str> {
    (!value.is_empty()).then_some(value)
}

/// A port in 0..=65535 (0: any free port); `None` when empty. Not a number
/// and out of range have the setting's two exit codes.
pub(super) fn port(setting: &Setting, value: &str) -> Result<Option<u16>, ConfigError> {
    let Some(text) = non_empty(value) else {
        return Ok(None);
    };
    let codes = setting.exit_codes;
    let n: i128 = text.trim().parse().map_err(|_| {
        let why = format_args!("is not a number: give a port in 0..=65535");
        bad(setting, value, why, codes.invalid)
    })?;
    u16::try_from(n).map(Some).map_err(|_| {
        let why = format_args!("is out of range: give a port in 0..=65535");
        bad(setting, value, why, codes.out_of_range)
    })
}

/// An IP address (no port, no name: livelog does no name lookups); `None`
/// when empty.
pub(super) fn host(
    setting: &Setting,
    value: &str,
    examples: &str,
) -> Result<Option<IpAddr>, ConfigError> {
    let Some(text) = non_empty(value) else {
        return Ok(None);
    };
    text.trim().parse().map(Some).map_err(|_| {
        let why = format_args!("is not an IP address (e.g. {examples})");
        bad(setting, value, why, setting.exit_codes.invalid)
    })
}

/// Addresses and networks (`10.0.0.0/8`, `::1`), separated by commas or
/// spaces; an address alone is a network of one.
pub(super) fn networks(setting: &Setting, value: &str) -> Result<Vec<IpNet>, ConfigError> {
    value
        .split([',', ' '])
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    let why = format_args!(
                        "holds {item:?}, which is not an IP address or network (e.g. 10.0.0.0/8, ::1)"
                    );
                    bad(setting, value, why, setting.exit_codes.invalid)
                })
        })
        .collect()
}

/// A whole number in `min..=max` (an empty value is not one).
pub(super) fn number<T>(setting: &Setting, value: &str, min: T, max: T) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
{
    match value.trim().parse::<T>() {
        Ok(n) if n >= min && n <= max => Ok(n),
        _ => {
            let why = format_args!("is not a whole number in {min}..={max}");
            Err(bad(setting, value, why, setting.exit_codes.invalid))
        }
    }
}

/// Whole seconds in 1..=[`MAX_TIMEOUT_SECS`].
pub(super) fn seconds(setting: &Setting, value: &str) -> Result<Duration, ConfigError> {
    number(setting, value, 1, MAX_TIMEOUT_SECS).map(Duration::from_secs)
}

/// `text` or `json`, any case; `None` when empty.
pub(super) fn log_format(setting: &Setting, value: &str) -> Result<Option<LogFormat>, ConfigError> {
    let Some(text) = non_empty(value) else {
        return Ok(None);
    };
    match text.trim().to_ascii_lowercase().as_str() {
        "text" => Ok(Some(LogFormat::Text)),
        "json" => Ok(Some(LogFormat::Json)),
        _ => {
            let why = format_args!("is not a log format: give text or json");
            Err(bad(setting, text, why, setting.exit_codes.invalid))
        }
    }
}

/// `on` or `off` (also `true`/`false`, `1`/`0`, any case); `None` when
/// empty.
pub(super) fn switch(setting: &Setting, value: &str) -> Result<Option<bool>, ConfigError> {
    let Some(text) = non_empty(value) else {
        return Ok(None);
    };
    match text.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "1" => Ok(Some(true)),
        "off" | "false" | "0" => Ok(Some(false)),
        _ => {
            let why = format_args!("is not on or off");
            Err(bad(setting, text, why, setting.exit_codes.invalid))
        }
    }
}

/// `SERVER_CRT_FILE`: the certificate half of the TLS pair (empty: unset).
pub(super) fn tls_cert(value: &str, config: &mut Config) {
    if let Some(path) = non_empty(value) {
        config.tls.get_or_insert_with(TlsFiles::default).cert = path.into();
    }
}

/// `SERVER_KEY_FILE`: the key half of the TLS pair (empty: unset).
pub(super) fn tls_key(value: &str, config: &mut Config) {
    if let Some(path) = non_empty(value) {
        config.tls.get_or_insert_with(TlsFiles::default).key = path.into();
    }
}

/// HTTPS needs both files or neither (a half read by [`tls_cert`] or
/// [`tls_key`] alone is empty).
pub(super) fn check_tls_pair(config: &Config) -> Result<(), ConfigError> {
    let Some(tls) = &config.tls else {
        return Ok(());
    };
    match (
        tls.cert.as_os_str().is_empty(),
        tls.key.as_os_str().is_empty(),
    ) {
        (false, false) => Ok(()),
        (false, true) => Err(ConfigError::new(
            "SERVER_CRT_FILE is set but SERVER_KEY_FILE is not: set both for HTTPS, or neither",
        )),
        _ => Err(ConfigError::new(
            "SERVER_KEY_FILE is set but SERVER_CRT_FILE is not: set both for HTTPS, or neither",
        )),
    }
}
