//! `demo-web`: reads its knobs, listens, and turns SIGTERM into a graceful shutdown (exit 0),
//! or `POST /crash` and `CRASH_AFTER_SECONDS` into an exit with status 1.

use skiff_demo_web::{app, config::Config, server, VERSION};
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};

fn main() -> std::process::ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("demo-web: {err}");
            return std::process::ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a Tokio runtime");
    runtime.block_on(run(config))
}

async fn run(config: Config) -> std::process::ExitCode {
    let listener = match tokio::net::TcpListener::bind(("0.0.0.0", config.port)).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("demo-web: cannot listen on port {}: {err}", config.port);
            return std::process::ExitCode::FAILURE;
        }
    };
    let app = Arc::new(app::App::new(&config, app::hostname()));
    eprintln!("demo-web {VERSION} listening on 0.0.0.0:{} as {}", config.port, app.hostname);

    let (mut sigterm, mut sigint) =
        (signal(SignalKind::terminate()).unwrap(), signal(SignalKind::interrupt()).unwrap());
    let stop = Arc::new(tokio::sync::Notify::new());
    let server = tokio::spawn(server::serve(listener, app.clone(), {
        let stop = stop.clone();
        async move { stop.notified().await }
    }));
    let crash_timer = async {
        match config.crash_after {
            Some(after) => tokio::time::sleep(after).await,
            None => std::future::pending().await,
        }
    };
    let signal_name = tokio::select! {
        _ = sigterm.recv() => "SIGTERM",
        _ = sigint.recv() => "SIGINT",
        () = app.crash_requested() => crash("POST /crash"),
        () = crash_timer => crash("CRASH_AFTER_SECONDS"),
    };
    eprintln!("demo-web: {signal_name}: no new connections; finishing the requests in flight");
    stop.notify_one();
    let _ = server.await;
    eprintln!("demo-web: all connections closed, exiting");
    std::process::ExitCode::SUCCESS
}

fn crash(reason: &str) -> ! {
    eprintln!("demo-web: crashing on purpose ({reason})");
    // A moment for the `POST /crash` response to leave; then go, without draining anything.
    std::thread::sleep(Duration::from_millis(50));
    std::process::exit(1)
}
