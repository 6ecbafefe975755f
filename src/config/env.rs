//! Reading the environment into a [`Config`]: the variables as the
//! operating system gives them, each of livelog's read by its [`Setting`].

use std::ffi::OsString;

use super::Config;
use super::error::ConfigError;
use super::parse::check_tls_pair;
use super::setting::Setting;
use super::settings::SETTINGS;

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
        let mut given: Vec<Option<String>> = vec![None; SETTINGS.len()];
        for (name, value) in pairs {
            let name = name.into();
            let Some((index, _)) = setting_named(&name) else {
                continue;
            };
            if given[index].replace(value.into()).is_some() {
                return Err(ConfigError::new(format!(
                    "{} is set twice (in two spellings): set it once",
                    SETTINGS[index].name
                )));
            }
        }
        let mut config = Config::new("");
        for (setting, value) in SETTINGS.iter().zip(&given) {
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
