//! nginx as the reverse proxy the Ingress router is compared with: its own configuration in a
//! temporary prefix, its own port on loopback, in front of the same demo-web pod.
//!
//! The configuration is what ingress-nginx (controller v1.12) generates for one Ingress path,
//! stripped of what this path does not use (TLS, Lua balancing, snippets): `worker_processes`
//! one per core, `multi_accept`, `reuseport` listeners; an upstream with `keepalive 320`
//! (`upstream-keepalive-connections`), 10,000 requests and 60 s per upstream connection;
//! `proxy_http_version 1.1` with `Connection ""` so those connections stay open;
//! `proxy_buffering off`; the same request headers the router sets (`X-Request-ID`,
//! `X-Real-IP`, `X-Forwarded-*`); 5 s to connect, 60 s to read, next upstream on error or
//! timeout. One difference, for the same work on both sides: **no access log**. ingress-nginx
//! writes one line per request by default; Skiff's router logs requests only at `debug`
//! (`proxy/src/ingress/server.rs`), and the proxy runs at `info`.
//!
//! nginx runs in the foreground (`daemon off`) as the benchmark's child; the guard stops it
//! with SIGTERM (its master stops the workers) and waits. Nothing under `/etc/nginx` is read
//! or changed, and port 80 is left alone.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::{process, NetError};

/// Where Debian's package puts it.
pub const BINARY: &str = "/usr/sbin/nginx";

/// How long nginx may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// The whole `nginx.conf`: one server on `listen`, proxying every path to `backend`; temporary
/// files, the pid file and the error log under `prefix`.
pub fn config(prefix: &Path, listen: SocketAddr, backend: SocketAddr, workers: usize) -> String {
    let dir = prefix.display();
    format!(
        r#"# bench-net's nginx (bench/src/net/nginx.rs): a reverse proxy to one demo-web pod, as
# ingress-nginx configures one Ingress path.
daemon off;
worker_processes {workers};
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;

events {{
    worker_connections 16384;
    multi_accept on;
}}

http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_timeout 75s;
    keepalive_requests 1000;

    upstream demo_web {{
        server {backend};
        keepalive 320;
        keepalive_requests 10000;
        keepalive_timeout 60s;
    }}

    server {{
        listen {listen} reuseport backlog=4096;
        location / {{
            proxy_pass http://demo_web;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Request-ID $request_id;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Host $host;
            proxy_set_header X-Forwarded-Port $server_port;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Scheme $scheme;
            proxy_set_header X-Scheme $scheme;
            proxy_buffering off;
            proxy_connect_timeout 5s;
            proxy_read_timeout 60s;
            proxy_next_upstream error timeout;
        }}
    }}
}}
"#
    )
}

/// A running nginx; stopped when dropped.
pub struct Nginx {
    pub listen: SocketAddr,
    child: Child,
    /// The prefix: configuration, pid file, error log, temporary files. Removed after the stop.
    dir: TempDir,
}

impl Nginx {
    /// Starts nginx in front of `backend` on a free loopback port, under a new directory in
    /// `parent`, and returns once it accepts connections.
    pub async fn start(parent: &Path, backend: SocketAddr) -> Result<Nginx, NetError> {
        process::require_tool(BINARY, "nginx")?;
        let prepare = |source| NetError::Prepare { what: "nginx's prefix", source };
        let dir = tempfile::Builder::new().prefix("skiff-bench-nginx-").tempdir_in(parent).map_err(prepare)?;
        let listen = process::free_loopback_port().map_err(prepare)?;
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, config(dir.path(), listen, backend, workers)).map_err(prepare)?;
        let log = std::fs::File::create(dir.path().join("stderr.log")).map_err(prepare)?;
        let child = Command::new(BINARY)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|source| NetError::Tool { tool: "nginx", source })?;
        let mut nginx = Nginx { listen, child, dir };
        nginx.wait_listening().await?;
        Ok(nginx)
    }

    async fn wait_listening(&mut self) -> Result<(), NetError> {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default();
                return Err(NetError::Exited { what: "nginx", details: format!("{status}: {log}") });
            }
            if tokio::net::TcpStream::connect(self.listen).await.is_ok() {
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(NetError::Exited { what: "nginx", details: "did not listen within 10 s".into() });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The master's pid and its workers': all of nginx's CPU time.
    pub fn pids(&self) -> Vec<u32> {
        let mut pids = vec![self.child.id()];
        pids.extend(process::children(self.child.id()));
        pids
    }

    /// The nginx version, as `nginx -v` says it.
    pub fn version() -> String {
        let output = Command::new(BINARY).arg("-v").output();
        let text = output.map(|o| String::from_utf8_lossy(&o.stderr).trim().to_string()).unwrap_or_default();
        text.strip_prefix("nginx version: ").unwrap_or(&text).to_string()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        process::terminate(&mut self.child, Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_keeps_upstream_connections_alive_and_stays_in_its_prefix() {
        let text =
            config(Path::new("/tmp/p"), "127.0.0.1:40001".parse().unwrap(), "10.244.200.5:8080".parse().unwrap(), 2);
        for line in [
            "worker_processes 2;",
            "server 10.244.200.5:8080;",
            "keepalive 320;",
            "proxy_http_version 1.1;",
            "proxy_set_header Connection \"\";",
            "listen 127.0.0.1:40001 reuseport backlog=4096;",
            "access_log off;",
            "pid /tmp/p/nginx.pid;",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        assert!(!text.contains("/etc/nginx") && !text.contains("include"), "nothing of the system's configuration");
    }
}
