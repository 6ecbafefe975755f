//! Tests of reading the environment into a `Config`.

use std::ffi::OsString;

use super::*;
use proptest::prelude::*;

fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

#[test]
fn token_is_required_and_non_empty() {
    for pairs in [&[][..], &[("ACCESS_TOKEN", "")][..]] {
        let err = cfg(pairs).unwrap_err();
        assert!(err.message.contains("ACCESS_TOKEN"), "{err}");
        assert_eq!(err.exit_code, 1);
    }
}

#[test]
fn defaults_match_the_go_livelog() {
    let c = cfg(&[("ACCESS_TOKEN", "t")]).unwrap();
    assert_eq!(c.put_port, 60022);
    assert_eq!(c.get_port, 60023);
    // Loopback in both families; every interface in both families.
    assert_eq!(c.put_host, None);
    assert_eq!(c.get_host, None);
    assert!(c.tls.is_none());
    assert!(!c.debug);
    assert_eq!(c.ring_bytes, DEFAULT_RING_BYTES);
    assert_eq!(c.heartbeat, Duration::from_secs(DEFAULT_HEARTBEAT_SECS));
}

#[test]
fn port_errors_use_the_go_exit_codes() {
    let cases = [
        ("LIVELOG_PUT_PORT", "abc", 64),
        ("LIVELOG_PUT_PORT", "65536", 65),
        ("LIVELOG_PUT_PORT", "-1", 65),
        ("LIVELOG_GET_PORT", "12x", 66),
        ("LIVELOG_GET_PORT", "99999999999", 67),
    ];
    for (var, value, code) in cases {
        let err = cfg(&[("ACCESS_TOKEN", "t"), (var, value)]).unwrap_err();
        assert_eq!(err.exit_code, code, "{var}={value}");
        assert!(err.message.contains(var), "{err}");
    }
    let c = cfg(&[
        ("ACCESS_TOKEN", "t"),
        ("LIVELOG_PUT_PORT", "0"),
        ("LIVELOG_GET_PORT", "65535"),
    ])
    .unwrap();
    assert_eq!((c.put_port, c.get_port), (0, 65535));
}

#[test]
fn tls_needs_both_files() {
    let err = cfg(&[("ACCESS_TOKEN", "t"), ("SERVER_CRT_FILE", "/a.crt")]).unwrap_err();
    assert!(err.message.contains("SERVER_KEY_FILE"), "{err}");
    let err = cfg(&[("ACCESS_TOKEN", "t"), ("SERVER_KEY_FILE", "/a.key")]).unwrap_err();
    assert!(err.message.contains("SERVER_CRT_FILE"), "{err}");
    let c = cfg(&[
        ("ACCESS_TOKEN", "t"),
        ("SERVER_CRT_FILE", "/a.crt"),
        ("SERVER_KEY_FILE", "/a.key"),
    ])
    .unwrap();
    assert_eq!(
        c.tls,
        Some(TlsFiles {
            cert: "/a.crt".into(),
            key: "/a.key".into()
        })
    );
}

#[test]
fn limits_are_checked_and_named() {
    for var in [
        "LIVELOG_RING_BYTES",
        "LIVELOG_STALL_TIMEOUT_SECS",
        "LIVELOG_MAX_READERS",
        "LIVELOG_HEADER_TIMEOUT_SECS",
    ] {
        let err = cfg(&[("ACCESS_TOKEN", "t"), (var, "lots")]).unwrap_err();
        assert!(err.message.contains(var), "{err}");
    }
    let err = cfg(&[("ACCESS_TOKEN", "t"), ("LIVELOG_MAX_READERS", "0")]).unwrap_err();
    assert!(err.message.contains("LIVELOG_MAX_READERS"), "{err}");
    let c = cfg(&[
        ("ACCESS_TOKEN", "t"),
        ("LIVELOG_RING_BYTES", "0"),
        ("LIVELOG_STALL_TIMEOUT_SECS", "7"),
        ("DEBUG", "*"),
        ("LIVELOG_PUT_HOST", "0.0.0.0"),
        ("LIVELOG_GET_HOST", " ::1 "),
    ])
    .unwrap();
    assert_eq!(c.ring_bytes, 0);
    assert_eq!(c.stall_timeout, Duration::from_secs(7));
    assert!(c.debug);
    assert_eq!(
        c.put_host,
        Some(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
    );
    assert_eq!(c.get_host, Some(IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)));
    for var in ["LIVELOG_PUT_HOST", "LIVELOG_GET_HOST"] {
        for bad in ["localhost", "[::1]", "127.0.0.1:80"] {
            let err = cfg(&[("ACCESS_TOKEN", "t"), (var, bad)]).unwrap_err();
            assert!(err.message.contains(var), "{err}");
            assert_eq!(err.exit_code, 1);
        }
    }
}

/// A string the platform's environment can hold that is not Unicode: a
/// byte that is not UTF-8 on Unix, a lone surrogate on Windows.
#[cfg(unix)]
fn not_unicode(prefix: &str) -> OsString {
    use std::os::unix::ffi::OsStringExt;
    let mut bytes = prefix.as_bytes().to_vec();
    bytes.push(0xff);
    OsString::from_vec(bytes)
}

#[cfg(windows)]
fn not_unicode(prefix: &str) -> OsString {
    use std::os::windows::ffi::OsStringExt;
    let mut wide: Vec<u16> = prefix.encode_utf16().collect();
    wide.push(0xd800);
    OsString::from_wide(&wide)
}

fn os_cfg(pairs: Vec<(OsString, OsString)>) -> Result<Config, ConfigError> {
    Config::from_os_pairs(pairs)
}

#[test]
fn variables_that_are_not_unicode_are_ignored_unless_they_are_livelogs() {
    let token = || ("ACCESS_TOKEN".into(), "t".into());
    // Someone else's: a name or a value that is not Unicode is ignored.
    let c = os_cfg(vec![
        (not_unicode("OTHER_"), "x".into()),
        ("LANG".into(), not_unicode("C.")),
        token(),
        ("LIVELOG_GET_PORT".into(), "1234".into()),
    ])
    .unwrap();
    assert_eq!(c.get_port, 1234);
    // livelog's own: an error naming it, with the port's exit code.
    for (var, code) in [
        ("ACCESS_TOKEN", 1),
        ("LIVELOG_PUT_PORT", 64),
        ("LIVELOG_GET_PORT", 66),
        ("LIVELOG_TEMP_DIR", 1),
        ("SERVER_CRT_FILE", 1),
        ("DEBUG", 1),
    ] {
        let err = os_cfg(vec![token(), (var.into(), not_unicode("a"))]).unwrap_err();
        assert_eq!(err.exit_code, code, "{var}");
        assert!(err.message.starts_with(var), "{err}");
        assert!(err.message.contains("not valid Unicode"), "{err}");
    }
}

#[test]
fn debug_output_never_shows_the_token() {
    let c = Config::new("secretpuppy");
    assert!(!format!("{c:?}").contains("secretpuppy"));
}

/// `(variable, min, max)` of every numeric limit.
const LIMITS: [(&str, u128, u128); 7] = [
    ("LIVELOG_PROGRESS_SECS", 1, MAX_TIMEOUT_SECS as u128),
    ("LIVELOG_RING_BYTES", 0, usize::MAX as u128),
    ("LIVELOG_STALL_TIMEOUT_SECS", 1, MAX_TIMEOUT_SECS as u128),
    ("LIVELOG_MAX_READERS", 1, MAX_READERS_LIMIT as u128),
    ("LIVELOG_MAX_CONNECTIONS", 1, MAX_CONNECTIONS_LIMIT as u128),
    ("LIVELOG_HEADER_TIMEOUT_SECS", 1, MAX_TIMEOUT_SECS as u128),
    ("LIVELOG_HEARTBEAT_SECS", 1, MAX_TIMEOUT_SECS as u128),
];

/// The value a parsed config holds for `var`.
fn limit_value(c: &Config, var: &str) -> u128 {
    match var {
        "LIVELOG_RING_BYTES" => c.ring_bytes as u128,
        "LIVELOG_STALL_TIMEOUT_SECS" => c.stall_timeout.as_secs() as u128,
        "LIVELOG_MAX_READERS" => c.max_readers as u128,
        "LIVELOG_MAX_CONNECTIONS" => c.max_connections as u128,
        "LIVELOG_PROGRESS_SECS" => c.progress_every.as_secs() as u128,
        "LIVELOG_HEARTBEAT_SECS" => c.heartbeat.as_secs() as u128,
        _ => c.header_timeout.as_secs() as u128,
    }
}

#[test]
fn limits_have_upper_bounds() {
    for (var, _, max) in LIMITS {
        let at_max = max.to_string();
        let c = cfg(&[("ACCESS_TOKEN", "t"), (var, &at_max)]).unwrap();
        assert_eq!(limit_value(&c, var), max, "{var}");
        let past = (max + 1).to_string();
        let err = cfg(&[("ACCESS_TOKEN", "t"), (var, &past)]).unwrap_err();
        assert!(err.message.contains(var), "{err}");
        assert_eq!(err.exit_code, 1);
    }
}

proptest! {
    /// Any value of a numeric limit (digits, signs, spaces, junk) either
    /// parses to the number it spells, within its range, or fails with
    /// exit code 1 and a message naming the variable.
    #[test]
    fn any_limit_value_is_parsed_or_named(
        which in 0..LIMITS.len(),
        value in prop_oneof!["[ +-]?[0-9]{1,22}[ ]?", "\\PC{0,24}"],
    ) {
        let (var, min, max) = LIMITS[which];
        match cfg(&[("ACCESS_TOKEN", "t"), (var, &value)]) {
            Ok(c) => {
                let n: u128 = value.trim().parse().expect("accepted values are numbers");
                prop_assert!(n >= min && n <= max, "{}={:?} accepted", var, value);
                prop_assert_eq!(limit_value(&c, var), n);
            }
            Err(e) => {
                prop_assert_eq!(e.exit_code, 1);
                prop_assert!(e.message.contains(var), "{}", e.message);
                let n = value.trim().parse::<u128>().ok();
                prop_assert!(
                    n.is_none_or(|n| n < min || n > max),
                    "{}={:?} refused: {}", var, value, e.message
                );
            }
        }
    }
}

proptest! {
    /// Any port string either parses to the number it spells or fails
    /// with one of the two codes for its variable, naming it.
    #[test]
    fn any_port_value_is_parsed_or_named(value in "\\PC{0,12}") {
        match cfg(&[("ACCESS_TOKEN", "t"), ("LIVELOG_GET_PORT", &value)]) {
            Ok(c) => {
                // An empty variable counts as unset, as in the Go livelog.
                let want = if value.is_empty() { Some(DEFAULT_GET_PORT) } else { value.trim().parse::<u16>().ok() };
                prop_assert_eq!(Some(c.get_port), want);
            }
            Err(e) => {
                prop_assert!(e.exit_code == 66 || e.exit_code == 67);
                prop_assert!(e.message.contains("LIVELOG_GET_PORT"));
            }
        }
    }
}

#[test]
fn log_format_is_text_or_json() {
    assert_eq!(
        cfg(&[("ACCESS_TOKEN", "t")]).unwrap().log_format,
        LogFormat::Text
    );
    let c = cfg(&[("ACCESS_TOKEN", "t"), ("LIVELOG_LOG_FORMAT", "JSON")]).unwrap();
    assert_eq!(c.log_format, LogFormat::Json);
    let err = cfg(&[("ACCESS_TOKEN", "t"), ("LIVELOG_LOG_FORMAT", "xml")]).unwrap_err();
    assert!(err.message.contains("LIVELOG_LOG_FORMAT"), "{err}");
    assert_eq!(err.exit_code, 1);
}

#[test]
fn defaults_parse() {
    // `Config::new` builds the defaults by reading each setting's default
    // value: every one of them must be valid.
    for setting in SETTINGS {
        if let Default::Value(value) = setting.default {
            let mut c = Config::new("t");
            setting
                .read(&value.to_string(), &mut c)
                .unwrap_or_else(|e| panic!("{}: {e}", setting.name));
        }
    }
    let c = Config::new("t");
    assert_eq!(c.put_port, DEFAULT_PUT_PORT);
    assert_eq!(
        c.stall_timeout,
        Duration::from_secs(DEFAULT_STALL_TIMEOUT_SECS)
    );
    assert_eq!(c.max_readers, DEFAULT_MAX_READERS);
    assert_eq!(c.max_connections, DEFAULT_MAX_CONNECTIONS);
    assert_eq!(
        c.header_timeout,
        Duration::from_secs(DEFAULT_HEADER_TIMEOUT_SECS)
    );
    assert_eq!(c.progress_every, Duration::from_secs(DEFAULT_PROGRESS_SECS));
}

// What reading with envy could change: empty values, names, values that are
// not Unicode.
mod with_envy;
