//! What a setting is: one environment variable livelog reads, with its
//! name, its default, its help text, the exit codes of a bad value, and the
//! function that reads a value into a [`Config`]. The settings themselves
//! are in `settings.rs`.

use super::Config;
use super::error::ConfigError;

/// One environment variable livelog reads.
pub struct Setting {
    /// The variable's name, as the environment spells it (matched ignoring
    /// ASCII case).
    pub name: &'static str,
    /// What an unset variable means.
    pub default: Default,
    /// One line for `--help`, without the default (which `--help` adds).
    pub help: &'static str,
    /// The exit codes of a bad value: the Go livelog's own for its ports,
    /// else [`ExitCodes::GENERAL`].
    pub exit_codes: ExitCodes,
    /// Reads a value that is present (possibly empty) into `config`.
    pub(super) read: fn(&Setting, &str, &mut Config) -> Result<(), ConfigError>,
}

/// What an unset variable means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Default {
    /// It must be set.
    Required,
    /// This value, parsed as if it had been given: the default [`Config`]
    /// is built by reading each of these.
    Value(Value),
    /// Off, or absent; the text says what that means (`None`: nothing to
    /// say).
    Unset(Option<&'static str>),
}

/// A default value, in the form a user would write it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    /// A whole number (a port, bytes, seconds, a count).
    Number(u64),
    /// A word.
    Text(&'static str),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Number(n) => write!(f, "{n}"),
            Value::Text(t) => f.write_str(t),
        }
    }
}

/// Process exit codes for a bad value of a setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitCodes {
    /// The value is not what the setting takes (a port that is not a
    /// number), or not valid Unicode.
    pub invalid: u8,
    /// The value is of the right kind but out of range (a port past 65535).
    pub out_of_range: u8,
}

impl ExitCodes {
    /// Exit code 1, for every setting but the ports.
    pub const GENERAL: ExitCodes = ExitCodes {
        invalid: 1,
        out_of_range: 1,
    };
}

impl Setting {
    /// Reads `value`, given for this setting, into `config`.
    ///
    /// # Errors
    /// [`ConfigError`] naming the setting, with its exit code.
    pub fn read(&self, value: &str, config: &mut Config) -> Result<(), ConfigError> {
        (self.read)(self, value, config)
    }
}

/// Declares every setting once, as `field = "NAME" { default: ..., help:
/// ..., exit_codes: ..., read: ... }` (the field is the name in lower case:
/// envy looks the variables up that way), and makes of the list:
/// * `SETTINGS`, the [`Setting`] of each, in the order given (`--help`'s);
/// * `Env`, the serde struct envy reads the environment into: one
///   `Option<String>` per setting, the variable's text if it is set (empty
///   or not), which the setting's `read` then parses;
/// * `Env::values`, those texts in the order of `SETTINGS`.
///
/// `Env` holds the access token's text, so it has no `Debug`.
macro_rules! declare_settings {
    ($(
        $field:ident = $name:literal {
            default: $default:expr,
            help: $help:expr,
            exit_codes: $exit_codes:expr,
            read: $read:expr $(,)?
        }
    )*) => {
        /// Every setting livelog reads, in the order `--help` lists them.
        pub static SETTINGS: &[Setting] = &[$(
            Setting {
                name: $name,
                default: $default,
                help: $help,
                exit_codes: $exit_codes,
                read: $read,
            },
        )*];

        /// The text of each of livelog's variables that is set, as envy
        /// reads it from the environment: one field per [`SETTINGS`] entry.
        #[derive(serde::Deserialize)]
        pub(super) struct Env {
            $($field: Option<String>,)*
        }

        impl Env {
            /// Each setting's text (`None`: unset), in [`SETTINGS`]' order.
            pub(super) fn values(&self) -> Vec<Option<&str>> {
                vec![$(self.$field.as_deref()),*]
            }
        }
    };
}
pub(super) use declare_settings;
