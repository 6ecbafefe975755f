//! The `livelog` binary: reads its configuration from the environment and
//! runs the daemon. Everything else lives in the library (`livelog::run`).

#![forbid(unsafe_code)]

use std::process::ExitCode;

use livelog::StartupError;
use livelog::config::Config;
use livelog::error::Chain;

fn main() -> ExitCode {
    if let Some(code) = handle_args() {
        return code;
    }
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => return fail(&StartupError::from(err)),
    };
    livelog::logging::init(config.debug, config.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("livelog: error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(livelog::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(&err),
    }
}

/// One line on stderr (the error and its causes), and the error's exit code.
fn fail(err: &StartupError) -> ExitCode {
    eprintln!("livelog: error: {}", Chain(err));
    ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(1))
}

/// `--help`, `--version`, `--short-version`; anything else is an error.
fn handle_args() -> Option<ExitCode> {
    // `args_os`: an argument that is not Unicode is an unknown one, not a
    // panic.
    let arg = std::env::args_os().nth(1)?;
    match arg.to_str().unwrap_or_default() {
        "-h" | "--help" => {
            print!("{}", help());
            Some(ExitCode::SUCCESS)
        }
        "-V" | "--version" => {
            println!("livelog {} (commit {})", livelog::VERSION, livelog::COMMIT);
            Some(ExitCode::SUCCESS)
        }
        "--short-version" => {
            println!("{}", livelog::VERSION);
            Some(ExitCode::SUCCESS)
        }
        _ => {
            let other = arg.to_string_lossy();
            eprintln!(
                "livelog: error: unknown argument {other:?}; livelog is configured by environment variables (see livelog --help)"
            );
            Some(ExitCode::from(2))
        }
    }
}

fn help() -> String {
    format!(
        "livelog {}\n\
         Streams one log upload to many readers, live.\n\n\
         Upload:  PUT  http://localhost:$LIVELOG_PUT_PORT/log        (e.g. curl -T - ...)\n\
         Read:    GET  http(s)://HOST:$LIVELOG_GET_PORT/log/$ACCESS_TOKEN\n\n\
         Usage: livelog [--help | --version | --short-version]\n\n{}",
        livelog::VERSION,
        livelog::config::help()
    )
}
