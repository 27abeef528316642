//! `wget`: parse the command line, download, and exit 1 with busybox's message on failure.

use std::process::ExitCode;

fn main() -> ExitCode {
    let options = match skiff_wget::args::parse(std::env::args().skip(1)) {
        Ok(skiff_wget::args::Command::Help) => {
            print!("{}", skiff_wget::args::USAGE);
            return ExitCode::SUCCESS;
        }
        Ok(skiff_wget::args::Command::Fetch(options)) => options,
        Err(err) => {
            eprintln!("wget: {err}\n{}", skiff_wget::args::USAGE);
            return ExitCode::FAILURE;
        }
    };
    match skiff_wget::fetch::run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("wget: {err}");
            ExitCode::FAILURE
        }
    }
}
