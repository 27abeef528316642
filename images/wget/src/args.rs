//! wget's command line, parsed the way busybox parses it: short options may be bundled and may
//! carry their value attached (`-qO-`, `-qO out.html`, `-T5`), long ones take `--name=value`
//! or `--name value`. Pure, so that every spelling a tutorial uses is a line of a table test.

use std::time::Duration;

/// busybox's default network timeout: long, but a hung server does not hang a script forever.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(900);

pub const USAGE: &str = "\
Usage: wget [-qS] [--spider] [-O FILE] [-T SEC] [-U AGENT] [--header 'NAME: VALUE']
            [--post-data STR] URL...

Retrieve files via HTTP (Skiff's toolbox wget; http:// only)

        --spider            Only check URL existence: $? is 0 if exists
        --header STR        Add STR (of form 'header: value') to headers
        --post-data STR     Send STR using POST method
        -q                  Quiet
        -S                  Show server response
        -O FILE             Save to FILE ('-' for stdout)
        -T SEC              Network read timeout is SEC seconds
        -U STR              Use STR for User-Agent header
";

/// Where the body of a download goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// `-O -`.
    Stdout,
    /// `-O FILE`: created, or truncated if it exists.
    File(String),
    /// No `-O`: a new file named after the URL's last path segment (`index.html` for `/`),
    /// which must not exist yet, as busybox refuses to overwrite it.
    FromUrl,
}

/// Everything one run of wget was asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub quiet: bool,
    pub output: Output,
    /// For each connect, read and write (and the name lookup), not for the whole download.
    pub timeout: Duration,
    pub spider: bool,
    pub show_response: bool,
    pub user_agent: String,
    /// Extra request headers, `(name, value)`.
    pub headers: Vec<(String, String)>,
    /// `--post-data`: the request becomes a POST with this body.
    pub post_data: Option<String>,
    pub urls: Vec<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            quiet: false,
            output: Output::FromUrl,
            timeout: DEFAULT_TIMEOUT,
            spider: false,
            show_response: false,
            user_agent: "Wget".to_string(),
            headers: Vec::new(),
            post_data: None,
            urls: Vec::new(),
        }
    }
}

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Fetch(Options),
    Help,
}

/// A command line that cannot be run; shown as `wget: <message>` followed by the usage.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ArgsError {
    #[error("unrecognized option '{0}'")]
    Unknown(String),
    #[error("option requires an argument: {0}")]
    MissingValue(String),
    #[error("invalid number '{value}' for {option}")]
    BadNumber { option: String, value: String },
    #[error("bad header '{0}': want 'NAME: VALUE'")]
    BadHeader(String),
    #[error("missing URL")]
    NoUrl,
}

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, ArgsError> {
    let mut options = Options::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--" {
            options.urls.extend(args.by_ref());
        } else if let Some(long) = arg.strip_prefix("--") {
            let (name, attached) = match long.split_once('=') {
                Some((name, value)) => (name, Some(value.to_string())),
                None => (long, None),
            };
            if name == "help" {
                return Ok(Command::Help);
            }
            let Some(option) = long_option(name) else { return Err(ArgsError::Unknown(arg)) };
            let value = match (option.takes_value(), attached) {
                (false, None) => None,
                (false, Some(_)) => return Err(ArgsError::Unknown(arg)),
                (true, Some(value)) => Some(value),
                (true, None) => Some(args.next().ok_or_else(|| ArgsError::MissingValue(format!("--{name}")))?),
            };
            apply(&mut options, option, value, &format!("--{name}"))?;
        } else if arg.len() > 1 && arg.starts_with('-') {
            // A bundle of short options: flags until one that takes a value, which takes the
            // rest of the bundle or, if nothing is left, the next argument.
            let mut rest = &arg[1..];
            while let Some(letter) = rest.chars().next() {
                rest = &rest[letter.len_utf8()..];
                if letter == 'h' {
                    return Ok(Command::Help);
                }
                let Some(option) = short_option(letter) else { return Err(ArgsError::Unknown(format!("-{letter}"))) };
                let value = if !option.takes_value() {
                    None
                } else if !rest.is_empty() {
                    Some(std::mem::take(&mut rest).to_string())
                } else {
                    Some(args.next().ok_or_else(|| ArgsError::MissingValue(format!("-{letter}")))?)
                };
                apply(&mut options, option, value, &format!("-{letter}"))?;
            }
        } else {
            options.urls.push(arg);
        }
    }
    if options.urls.is_empty() {
        return Err(ArgsError::NoUrl);
    }
    Ok(Command::Fetch(options))
}

/// The options wget knows, whatever they are spelled.
#[derive(Clone, Copy)]
enum Opt {
    Quiet,
    Output,
    Timeout,
    Spider,
    ShowResponse,
    UserAgent,
    Header,
    PostData,
}

impl Opt {
    fn takes_value(self) -> bool {
        !matches!(self, Opt::Quiet | Opt::Spider | Opt::ShowResponse)
    }
}

fn short_option(letter: char) -> Option<Opt> {
    Some(match letter {
        'q' => Opt::Quiet,
        'O' => Opt::Output,
        'T' => Opt::Timeout,
        'S' => Opt::ShowResponse,
        'U' => Opt::UserAgent,
        _ => return None,
    })
}

fn long_option(name: &str) -> Option<Opt> {
    Some(match name {
        "quiet" => Opt::Quiet,
        "output-document" => Opt::Output,
        "timeout" => Opt::Timeout,
        "spider" => Opt::Spider,
        "server-response" => Opt::ShowResponse,
        "user-agent" => Opt::UserAgent,
        "header" => Opt::Header,
        "post-data" => Opt::PostData,
        _ => return None,
    })
}

fn apply(options: &mut Options, option: Opt, value: Option<String>, spelled: &str) -> Result<(), ArgsError> {
    let value = value.unwrap_or_default();
    match option {
        Opt::Quiet => options.quiet = true,
        Opt::Spider => options.spider = true,
        Opt::ShowResponse => options.show_response = true,
        Opt::Output => options.output = if value == "-" { Output::Stdout } else { Output::File(value) },
        Opt::Timeout => {
            options.timeout = value
                .parse::<f64>()
                .ok()
                .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
                .filter(|timeout| !timeout.is_zero())
                .ok_or_else(|| ArgsError::BadNumber { option: spelled.to_string(), value: value.clone() })?;
        }
        Opt::UserAgent => options.user_agent = value,
        Opt::Header => match value.split_once(':') {
            Some((name, field)) if !name.trim().is_empty() => {
                options.headers.push((name.trim().to_string(), field.trim().to_string()))
            }
            _ => return Err(ArgsError::BadHeader(value)),
        },
        Opt::PostData => options.post_data = Some(value),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(line: &str) -> Result<Command, ArgsError> {
        parse(line.split(' ').filter(|word| !word.is_empty()).map(String::from))
    }

    fn fetch(line: &str) -> Options {
        match parsed(line) {
            Ok(Command::Fetch(options)) => options,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn the_spellings_tutorials_use_are_understood() {
        let url = || vec!["http://web".to_string()];
        let cases = [
            ("-qO- http://web", Options { quiet: true, output: Output::Stdout, urls: url(), ..Options::default() }),
            ("-q -O - http://web", Options { quiet: true, output: Output::Stdout, urls: url(), ..Options::default() }),
            (
                "-qO out.html http://web",
                Options { quiet: true, output: Output::File("out.html".into()), urls: url(), ..Options::default() },
            ),
            (
                "-Oout.html http://web",
                Options { output: Output::File("out.html".into()), urls: url(), ..Options::default() },
            ),
            ("--output-document=- http://web", Options { output: Output::Stdout, urls: url(), ..Options::default() }),
            (
                "--spider --timeout=1 http://web",
                Options { spider: true, timeout: Duration::from_secs(1), urls: url(), ..Options::default() },
            ),
            (
                "-T 2 -qO- http://web",
                Options {
                    quiet: true,
                    output: Output::Stdout,
                    timeout: Duration::from_secs(2),
                    urls: url(),
                    ..Options::default()
                },
            ),
            (
                "-qT0.5 --spider http://web",
                Options {
                    quiet: true,
                    spider: true,
                    timeout: Duration::from_millis(500),
                    urls: url(),
                    ..Options::default()
                },
            ),
            (
                "-S -U probe/1 http://web",
                Options { show_response: true, user_agent: "probe/1".into(), urls: url(), ..Options::default() },
            ),
            ("http://web", Options { urls: url(), ..Options::default() }),
            ("--quiet -- http://web", Options { quiet: true, urls: url(), ..Options::default() }),
        ];
        for (line, expected) in cases {
            assert_eq!(fetch(line), expected, "{line}");
        }
    }

    #[test]
    fn headers_and_post_data_are_collected() {
        let options = parse(
            ["--header", "Host: shop.example", "--header=X-Canary: always", "--post-data=", "http://web/fail/ready"]
                .map(String::from),
        )
        .unwrap();
        let Command::Fetch(options) = options else { panic!("{options:?}") };
        assert_eq!(
            options.headers,
            [("Host".to_string(), "shop.example".to_string()), ("X-Canary".to_string(), "always".to_string())]
        );
        assert_eq!(options.post_data.as_deref(), Some(""));
        assert_eq!(options.urls, ["http://web/fail/ready"]);
    }

    #[test]
    fn several_urls_are_kept_in_order() {
        assert_eq!(fetch("-qO- http://a http://b").urls, ["http://a", "http://b"]);
    }

    #[test]
    fn help_is_asked_for_with_h_or_help() {
        assert_eq!(parsed("-h"), Ok(Command::Help));
        assert_eq!(parsed("--help"), Ok(Command::Help));
    }

    #[test]
    fn bad_command_lines_are_refused() {
        let cases = [
            ("-x http://web", ArgsError::Unknown("-x".into())),
            ("--insecure http://web", ArgsError::Unknown("--insecure".into())),
            ("--spider=yes http://web", ArgsError::Unknown("--spider=yes".into())),
            ("http://web -O", ArgsError::MissingValue("-O".into())),
            ("http://web --timeout", ArgsError::MissingValue("--timeout".into())),
            ("-T soon http://web", ArgsError::BadNumber { option: "-T".into(), value: "soon".into() }),
            ("-T 0 http://web", ArgsError::BadNumber { option: "-T".into(), value: "0".into() }),
            ("--header NoColon http://web", ArgsError::BadHeader("NoColon".into())),
            ("-q", ArgsError::NoUrl),
            ("", ArgsError::NoUrl),
        ];
        for (line, expected) in cases {
            assert_eq!(parsed(line), Err(expected), "{line}");
        }
    }
}
