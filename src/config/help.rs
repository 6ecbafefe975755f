//! `livelog --help`'s list of variables and exit codes, from the settings
//! table.

use std::fmt::Write as _;

use super::setting::{Default, ExitCodes, Setting};
use super::settings::SETTINGS;

/// The `--help` text after the usage: every setting, then the exit codes.
pub fn help() -> String {
    let mut s = String::from("Environment:\n");
    // Every help text starts in one column, just past the longest name.
    let width = SETTINGS.iter().map(|s| s.name.len()).max().unwrap_or(0);
    for setting in SETTINGS {
        s.push_str(&help_line(setting, width));
    }
    s.push_str(
        "\nExit codes: 0 after SIGTERM/SIGINT (Windows: Ctrl-C, Ctrl-Break, console close);\n",
    );
    for setting in SETTINGS
        .iter()
        .filter(|s| s.exit_codes != ExitCodes::GENERAL)
    {
        let codes = setting.exit_codes;
        let _ = writeln!(
            s,
            "{}/{} {} not a number/out of range;",
            codes.invalid, codes.out_of_range, setting.name
        );
    }
    s.push_str("2 an unknown argument;\n1 any other startup error (the message names it).\n");
    s
}

/// `setting`'s line in `--help`: the name, padded to `width` characters,
/// the help text and the default.
fn help_line(setting: &Setting, width: usize) -> String {
    let default = match setting.default {
        Default::Required => " (required)".to_owned(),
        Default::Value(v) => format!(" (default {v})"),
        Default::Unset(Some(what)) => format!(" (default: {what})"),
        Default::Unset(None) => String::new(),
    };
    format!("  {:<width$} {}{default}\n", setting.name, setting.help)
}
