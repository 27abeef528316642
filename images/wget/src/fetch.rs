//! A whole run of wget: for each URL, connect, send, follow redirects, check the status, and
//! put the body where `-O` says, with busybox's messages on the way unless `-q`.

use crate::args::{Options, Output};
use crate::error::Error;
use crate::http::{self, Body, Request};
use crate::url::Url;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufWriter, Read, Write};

/// As busybox: a redirect loop ends after this many hops.
pub const MAX_REDIRECTS: usize = 20;

/// Downloads every URL of `options` in turn; stops at the first failure.
pub fn run(options: &Options) -> Result<(), Error> {
    // `-O FILE` and `-O -` collect every URL's body in one place, so they are opened once
    // (and, as in busybox, before connecting: a failed download leaves an empty file).
    let mut shared: Option<(Box<dyn Write>, String)> = match &options.output {
        _ if options.spider => None,
        Output::Stdout => Some((Box::new(BufWriter::new(io::stdout().lock())), "stdout".to_string())),
        Output::File(path) => Some((Box::new(BufWriter::new(open(path, false)?)), path.clone())),
        Output::FromUrl => None,
    };
    for text in &options.urls {
        let (url, body) = request(options, Url::parse(text)?)?;
        if options.spider {
            if !options.quiet {
                eprintln!("remote file exists");
            }
            continue;
        }
        match shared.as_mut() {
            Some((out, name)) => save(options, body, out, name)?,
            None => {
                let name = url.file_name();
                let mut out = BufWriter::new(open(&name, true)?);
                save(options, body, &mut out, &name)?;
            }
        }
    }
    Ok(())
}

/// Sends the request and follows redirects until a 2xx answer, whose URL and body it returns;
/// any other final status is an error that shows the status line.
fn request(options: &Options, mut url: Url) -> Result<(Url, Body<impl BufRead>), Error> {
    let mut method = if options.post_data.is_some() { "POST" } else { "GET" };
    let mut body = options.post_data.as_deref().map(str::as_bytes);
    for _ in 0..=MAX_REDIRECTS {
        let (stream, addr) = http::connect(&url, options.timeout)?;
        if !options.quiet {
            eprintln!("Connecting to {} ({addr})", url.host_header());
        }
        let request = Request { method, url: &url, user_agent: &options.user_agent, headers: &options.headers, body };
        let (head, response_body) = http::exchange(stream, &request)?;
        if options.show_response {
            eprintln!("  {}", head.status_line);
            for (name, value) in &head.headers {
                eprintln!("  {name}: {value}");
            }
        }
        match (head.status, head.header("Location")) {
            (200..=299, _) => return Ok((url, response_body)),
            (301 | 302 | 303 | 307 | 308, Some(location)) => {
                // 303 always, and 301/302 in practice, turn a POST into a GET; 307 and 308
                // repeat the request as it was.
                if head.status == 303 || (head.status <= 302 && method == "POST") {
                    (method, body) = ("GET", None);
                }
                url = url.join(location)?;
            }
            _ => return Err(Error::ServerError(head.status_line)),
        }
    }
    Err(Error::TooManyRedirects)
}

/// Copies a body to `out`, telling a read failure (the server's) from a write failure (ours).
fn save(options: &Options, mut body: impl Read, out: &mut dyn Write, name: &str) -> Result<(), Error> {
    if !options.quiet {
        match name {
            "stdout" => eprintln!("writing to stdout"),
            _ => eprintln!("saving to '{name}'"),
        }
    }
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = body.read(&mut buf).map_err(Error::reading)?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n]).map_err(Error::Write)?;
    }
    out.flush().map_err(Error::Write)?;
    if !options.quiet {
        eprintln!("'{name}' saved");
    }
    Ok(())
}

/// Opens an output file; `new_only` refuses to overwrite, as busybox does for a name it made
/// up from the URL (but not for one given with `-O`).
fn open(path: &str, new_only: bool) -> Result<File, Error> {
    let mut options = OpenOptions::new();
    options.write(true);
    if new_only {
        options.create_new(true);
    } else {
        options.create(true).truncate(true);
    }
    options.open(path).map_err(|source| Error::Open { path: path.to_string(), source })
}
