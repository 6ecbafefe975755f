//! Reading the environment into a [`Config`]. The variables come as the
//! operating system gives them: one of livelog's that is not Unicode is an
//! error naming it, anyone else's is ignored. envy reads livelog's own
//! into [`Env`], the serde struct [`SETTINGS`] declares, and each
//! [`Setting`] parses its text into the [`Config`].

use std::ffi::OsString;

use super::Config;
use super::error::ConfigError;
use super::parse::check_tls_pair;
use super::setting::Setting;
use super::settings::{Env, SETTINGS};

impl Config {
    /// Reads the process environment.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first bad variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_os_pairs(std::env::vars_os())
    }

    /// Reads `(name, value)` pairs as the operating system gives them (for
    /// tests): a pair that is not Unicode is skipped, unless the name is one
    /// of livelog's own [`SETTINGS`], which is an error.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first bad variable.
    pub fn from_os_pairs<I>(pairs: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (OsString, OsString)>,
    {
        let mut text = Vec::new();
        for (name, value) in pairs {
            match (name.into_string(), value.into_string()) {
                (Ok(name), Ok(value)) => text.push((name, value)),
                (Ok(name), Err(_)) => {
                    if let Some((_, setting)) = setting_named(&name) {
                        return Err(ConfigError::with_code(
                            format!(
                                "{name} is not valid Unicode text: livelog reads its variables as text"
                            ),
                            setting.exit_codes.invalid,
                        ));
                    }
                }
                // Not livelog's: another program's business.
                _ => {}
            }
        }
        Self::from_pairs(text)
    }

    /// Reads `(name, value)` pairs as if they were the environment (for
    /// tests). Names match [`SETTINGS`] ignoring ASCII case; others are
    /// ignored.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first bad variable, a variable given twice
    /// (in two spellings), or `ACCESS_TOKEN` missing.
    pub fn from_pairs<I, K, V>(pairs: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        // livelog's own variables, each spelled as its setting is: envy
        // matches names by their Unicode lower case, which would take
        // `ACCESS_TO\u{212A}EN` (a Kelvin sign) for `ACCESS_TOKEN`, and
        // a variable given in two spellings is an error of its own.
        let mut seen = vec![false; SETTINGS.len()];
        let mut own = Vec::new();
        for (name, value) in pairs {
            let Some((index, setting)) = setting_named(&name.into()) else {
                continue;
            };
            if std::mem::replace(&mut seen[index], true) {
                return Err(ConfigError::new(format!(
                    "{} is set twice (in two spellings): set it once",
                    setting.name
                )));
            }
            own.push((setting.name.to_owned(), value.into()));
        }
        let env: Env = envy::from_iter(own)
            .map_err(|err| ConfigError::caused_by("the environment could not be read", err))?;
        let mut config = Config::new("");
        for (setting, value) in SETTINGS.iter().zip(env.values()) {
            if let Some(value) = value {
                setting.read(value, &mut config)?;
            }
        }
        if config.access_token.is_empty() {
            return Err(ConfigError::new(
                "ACCESS_TOKEN is not set: it is required (readers use /log/<ACCESS_TOKEN>)",
            ));
        }
        check_tls_pair(&config)?;
        Ok(config)
    }
}

/// The setting named `name`, ignoring ASCII case (`access_token` sets
/// `ACCESS_TOKEN`), and its place in [`SETTINGS`].
fn setting_named(name: &str) -> Option<(usize, &'static Setting)> {
    SETTINGS
        .iter()
        .enumerate()
        .find(|(_, s)| s.name.eq_ignore_ascii_case(name))
}
