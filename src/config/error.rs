//! The one error of configuration: a line naming the variable, the exit
//! code livelog stops with, and the cause when there is one.

use std::fmt;

/// A bad configuration: a one-line message naming the variable, and the
/// process exit code to use.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    /// One line, naming the variable and what is wrong with it.
    pub message: String,
    /// The setting's [`ExitCodes`](super::ExitCodes) (64–67 for the ports,
    /// as in the Go livelog), else 1.
    pub exit_code: i32,
    /// What envy said, when it could not read the environment into its
    /// struct (the settings' own errors have no cause beyond the value).
    source: Option<envy::Error>,
}

impl ConfigError {
    /// An error with exit code 1.
    pub(super) fn new(message: impl Into<String>) -> Self {
        Self::with_code(message, 1)
    }

    /// An error with `exit_code` (a setting's [`ExitCodes`](super::ExitCodes)).
    pub(super) fn with_code(message: impl Into<String>, exit_code: u8) -> Self {
        ConfigError {
            message: message.into(),
            exit_code: i32::from(exit_code),
            source: None,
        }
    }

    /// An error with exit code 1 caused by `source`.
    pub(super) fn caused_by(message: impl Into<String>, source: envy::Error) -> Self {
        ConfigError {
            source: Some(source),
            ..Self::new(message)
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
