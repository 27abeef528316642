//! # skiff-demo-web: the HTTP server of Skiff's tutorials
//!
//! One program, built three times as `skiff/demo-web:v1`, `:v2` and `:v3` with a different
//! version baked in at compile time, so that a rolling update, a blue/green switch or a canary
//! shows which version answered each request. It also plays the parts a tutorial needs: probes
//! that can be made to fail, a crash on demand, its environment and mounted files on display.
//!
//! # Layout
//!
//! - [`config`]: the knobs, read once from the environment (`PORT`, `READY_DELAY_SECONDS`, …).
//! - [`app`]: what every request sees: version, hostname, pod IP, probe state.
//! - [`health`]: readiness and liveness, which start healthy and can be failed for good.
//! - [`routes`]: a request's method and path to a [`routes::Route`] (pure), and a route to its
//!   response.
//! - [`page`]: the small HTML page served at `/`.
//! - [`server`]: the accept loop, HTTP/1.1 keep-alive connections and graceful shutdown.
//!
//! `main.rs` only reads the config, binds the port and turns SIGTERM into a shutdown.

pub mod app;
pub mod config;
pub mod health;
pub mod page;
pub mod routes;
pub mod server;

/// The version this binary answers with, fixed when it is compiled: `DEMO_WEB_VERSION=v2 cargo
/// build` makes a `v2`. A compile-time constant rather than an env var read at start, because
/// the point of the demo is that the *image* decides the version, as it would for a real app.
pub const VERSION: &str = match option_env!("DEMO_WEB_VERSION") {
    Some(version) => version,
    None => "dev",
};
