//! The URLs wget accepts: `http://host[:port][/path][?query]`, and, as busybox allows, the same
//! without a scheme (`wget --spider nginx`). An IPv6 host is written in brackets.

use crate::error::Error;

/// A parsed `http://` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    pub host: String,
    pub port: u16,
    /// The request target: path and query, at least `/`; a `#fragment` is dropped, since it
    /// is never sent to a server.
    pub target: String,
}

impl Url {
    pub fn parse(text: &str) -> Result<Url, Error> {
        let rest = match text.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some(_) => return Err(Error::NotHttp(text.to_string())),
            None => text,
        };
        let rest = rest.split('#').next().unwrap_or_default();
        let (authority, target) = match rest.find(['/', '?']) {
            Some(at) if rest[at..].starts_with('?') => (&rest[..at], format!("/{}", &rest[at..])),
            Some(at) => (&rest[..at], rest[at..].to_string()),
            None => (rest, "/".to_string()),
        };
        if authority.contains('@') {
            return Err(Error::Unsupported(format!("user:password@ in URLs ({text})")));
        }
        let (host, port) = split_host_port(authority).ok_or_else(|| Error::BadUrl(text.to_string()))?;
        if host.is_empty() {
            return Err(Error::BadUrl(text.to_string()));
        }
        Ok(Url { host: host.to_string(), port, target })
    }

    /// The `Host` header: the port is left out when it is HTTP's default.
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        if self.port == 80 {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// The file a download is saved to without `-O`: the last path segment, `index.html` if
    /// there is none.
    pub fn file_name(&self) -> String {
        let path = self.target.split('?').next().unwrap_or_default();
        match path.rsplit('/').next() {
            Some(name) if !name.is_empty() => name.to_string(),
            _ => "index.html".to_string(),
        }
    }

    /// Where a redirect's `Location` points, seen from this URL: an absolute URL, a path from
    /// the root (`/login`), or a path relative to this URL's directory (`next.html`).
    pub fn join(&self, location: &str) -> Result<Url, Error> {
        if location.contains("://") {
            return Url::parse(location);
        }
        let mut next = self.clone();
        next.target = if let Some(rest) = location.strip_prefix("//") {
            return Url::parse(&format!("http://{rest}"));
        } else if location.starts_with('/') {
            location.to_string()
        } else {
            let path = self.target.split('?').next().unwrap_or("/");
            let directory = &path[..=path.rfind('/').unwrap_or(0)];
            format!("{directory}{location}")
        };
        Ok(next)
    }
}

/// `web`, `web:8080`, `[::1]:8080`, `10.0.0.1` → host and port (80 if none).
fn split_host_port(authority: &str) -> Option<(&str, u16)> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        None | Some("") => 80,
        Some(port) => port.parse().ok().filter(|port| *port > 0)?,
    };
    Some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(host: &str, port: u16, target: &str) -> Url {
        Url { host: host.into(), port, target: target.into() }
    }

    #[test]
    fn urls_parse_into_host_port_and_target() {
        let cases = [
            ("http://web", url("web", 80, "/")),
            ("http://web:8080/version", url("web", 8080, "/version")),
            ("HTTP://Web/a/b?x=1#top", url("Web", 80, "/a/b?x=1")),
            ("http://web?x=1", url("web", 80, "/?x=1")),
            ("nginx", url("nginx", 80, "/")),
            ("web.default.svc.cluster.local:8080/ready", url("web.default.svc.cluster.local", 8080, "/ready")),
            ("http://10.96.0.10:53/", url("10.96.0.10", 53, "/")),
            ("http://[::1]:8080/x", url("::1", 8080, "/x")),
            ("http://[fd00::1]/", url("fd00::1", 80, "/")),
        ];
        for (text, expected) in cases {
            assert_eq!(Url::parse(text).unwrap(), expected, "{text}");
        }
    }

    #[test]
    fn urls_wget_cannot_fetch_are_refused() {
        assert!(matches!(Url::parse("https://web/"), Err(Error::NotHttp(_))));
        assert!(matches!(Url::parse("ftp://web/"), Err(Error::NotHttp(_))));
        assert!(matches!(Url::parse("http://:80/"), Err(Error::BadUrl(_))));
        assert!(matches!(Url::parse("http://web:http/"), Err(Error::BadUrl(_))));
        assert!(matches!(Url::parse("http://web:0/"), Err(Error::BadUrl(_))));
        assert!(matches!(Url::parse("http://me:secret@web/"), Err(Error::Unsupported(_))));
    }

    #[test]
    fn the_host_header_leaves_out_the_default_port() {
        assert_eq!(Url::parse("http://web/").unwrap().host_header(), "web");
        assert_eq!(Url::parse("http://web:8080/").unwrap().host_header(), "web:8080");
        assert_eq!(Url::parse("http://[::1]:8080/").unwrap().host_header(), "[::1]:8080");
    }

    #[test]
    fn downloads_are_named_after_the_last_path_segment() {
        assert_eq!(Url::parse("http://web/").unwrap().file_name(), "index.html");
        assert_eq!(Url::parse("http://web/a/b.txt?v=2").unwrap().file_name(), "b.txt");
        assert_eq!(Url::parse("http://web/a/").unwrap().file_name(), "index.html");
    }

    #[test]
    fn redirect_locations_resolve_against_the_current_url() {
        let base = Url::parse("http://web:8080/app/page?x=1").unwrap();
        let cases = [
            ("http://other/", url("other", 80, "/")),
            ("//other:81/y", url("other", 81, "/y")),
            ("/login", url("web", 8080, "/login")),
            ("next.html", url("web", 8080, "/app/next.html")),
        ];
        for (location, expected) in cases {
            assert_eq!(base.join(location).unwrap(), expected, "{location}");
        }
    }
}
