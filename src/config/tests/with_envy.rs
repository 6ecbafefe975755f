//! Tests of what reading the environment with envy could have changed: empty
//! values, how names match, values that are not Unicode.

use super::*;

/// Every variable set to the empty string reads as it always has (envy
/// hands an empty value to its field like any other): unset where the Go
/// livelog says so, else an error naming the variable.
#[test]
fn empty_values_read_as_unset_or_as_an_error_naming_the_variable() {
    let empty = |var: &str| cfg(&[("ACCESS_TOKEN", "t"), (var, "")]);
    let unset = [
        "LIVELOG_PUT_PORT",
        "LIVELOG_GET_PORT",
        "LIVELOG_PUT_HOST",
        "LIVELOG_GET_HOST",
        "SERVER_CRT_FILE",
        "SERVER_KEY_FILE",
        "LIVELOG_TEMP_DIR",
        "LIVELOG_READY_FILE",
        "LIVELOG_TRUSTED_PROXIES",
        "LIVELOG_LINE_INDEX",
        "LIVELOG_SHARED_CACHE_SECS",
        "DEBUG",
        "LIVELOG_LOG_FORMAT",
    ];
    for var in unset {
        assert_eq!(empty(var).unwrap(), Config::new("t"), "{var}");
    }
    let numbers = [
        "LIVELOG_RING_BYTES",
        "LIVELOG_STALL_TIMEOUT_SECS",
        "LIVELOG_MAX_READERS",
        "LIVELOG_MAX_CONNECTIONS",
        "LIVELOG_HEADER_TIMEOUT_SECS",
        "LIVELOG_HEARTBEAT_SECS",
        "LIVELOG_MAX_TOKEN_FAILURES",
        "LIVELOG_MAX_READERS_PER_ADDRESS",
        "LIVELOG_MAX_SEARCHES",
        "LIVELOG_MAX_SEARCHES_PER_ADDRESS",
        "LIVELOG_PROGRESS_SECS",
    ];
    for var in numbers {
        let err = empty(var).unwrap_err();
        assert!(
            err.message.starts_with(&format!("{var}=\"\" is not")),
            "{err}"
        );
        assert_eq!(err.exit_code, 1, "{var}");
    }
    let err = cfg(&[("ACCESS_TOKEN", "")]).unwrap_err();
    assert!(err.message.starts_with("ACCESS_TOKEN is not set"), "{err}");
    // Every setting is one of the above.
    for setting in SETTINGS {
        let name = setting.name;
        assert!(
            name == "ACCESS_TOKEN" || unset.contains(&name) || numbers.contains(&name),
            "{name}: what does an empty value mean?"
        );
    }
}

/// Names match ignoring ASCII case only: a name that is livelog's in
/// Unicode lower case alone (envy's matching) is someone else's.
#[test]
fn names_match_ignoring_ascii_case_only() {
    let c = cfg(&[("access_token", "t"), ("Livelog_Get_Port", "1234")]).unwrap();
    assert_eq!((c.access_token, c.get_port), (AccessToken::new("t"), 1234));
    // U+212A KELVIN SIGN lowercases to `k`.
    let c = cfg(&[("ACCESS_TOKEN", "t"), ("ACCESS_TO\u{212A}EN", "u")]).unwrap();
    assert_eq!(c.access_token, AccessToken::new("t"));
    let err = cfg(&[("ACCESS_TOKEN", "t"), ("Access_Token", "u")]).unwrap_err();
    assert!(err.message.contains("set twice"), "{err}");
}

/// Each setting's field of the serde struct is its variable: envy fills
/// that field, and no other, with the text as given, empty or not.
#[test]
fn envy_reads_each_variable_into_its_own_field() {
    for (i, setting) in SETTINGS.iter().enumerate() {
        for text in [format!("v{i}"), String::new()] {
            let env: settings::Env =
                envy::from_iter([(setting.name.to_owned(), text.clone())]).unwrap();
            let values = env.values();
            assert_eq!(values.len(), SETTINGS.len());
            for (j, value) in values.into_iter().enumerate() {
                let want = (i == j).then_some(text.as_str());
                assert_eq!(value, want, "{} read into field {j}", setting.name);
            }
        }
    }
}

/// A value that is not Unicode never reaches envy (whose `from_env` would
/// panic on it): livelog's own, in any spelling, is an error naming it.
#[test]
fn a_value_that_is_not_unicode_is_an_error_in_any_spelling() {
    let err = os_cfg(vec![
        ("ACCESS_TOKEN".into(), "t".into()),
        ("livelog_get_port".into(), not_unicode("1")),
    ])
    .unwrap_err();
    assert_eq!(err.exit_code, 66);
    assert!(
        err.message
            .starts_with("livelog_get_port is not valid Unicode"),
        "{err}"
    );
}
