//! Container lifecycle hooks: `postStart` after a container starts, `preStop` before it stops.
//!
//! Mirrors `pkg/kubelet/lifecycle/handlers.go` (`HandlerRunner.Run`): an `exec` hook runs in the
//! container and fails on a non-zero exit; an `httpGet` hook sends a GET to the pod IP and fails
//! outside 200–399; a `sleep` hook waits. The failure message reads like upstream's:
//! `Exec lifecycle hook ([sh -c exit 1]) for Container "web" in Pod "web_default(…)" failed -
//! error: command 'sh -c exit 1' exited with 1: , message: ""`.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, LifecycleHandler, Pod};

use crate::probes::prober::{http_get, resolve_port, ProbeResult};
use crate::runtime::{run_to_end, ContainerRuntime};

/// Runs one hook within `budget`; the failure message if it failed.
pub async fn run_hook(
    runtime: &dyn ContainerRuntime,
    pod: &Pod,
    handler: &LifecycleHandler,
    container: &Container,
    id: &str,
    pod_ip: &str,
    budget: Duration,
) -> Result<(), String> {
    let pod_name = crate::events::pod_name(pod);
    if let Some(exec) = &handler.exec {
        let command = exec.command.clone().unwrap_or_default();
        let joined = command.join(" ");
        let failed = |error: String, output: &str| {
            format!(
                "Exec lifecycle hook ([{joined}]) for Container \"{}\" in Pod \"{pod_name}\" failed - error: {error}, message: {:?}",
                container.name, output
            )
        };
        return match run_to_end(runtime, id, &command, budget).await {
            Ok(done) if done.exit_code == 0 => Ok(()),
            Ok(done) => Err(failed(
                format!("command '{joined}' exited with {}: {}", done.exit_code, done.output.trim_end()),
                &done.output,
            )),
            Err(err) => Err(failed(err.to_string(), "")),
        };
    }
    if let Some(http) = &handler.http_get {
        let port = resolve_port(&http.port, container)?;
        let host = http.host.clone().filter(|h| !h.is_empty()).unwrap_or_else(|| pod_ip.to_string());
        let path = http.path.clone().filter(|p| !p.is_empty()).unwrap_or_else(|| "/".into());
        return match http_get(&host, port, &path, &[], budget).await {
            ProbeResult::Success => Ok(()),
            ProbeResult::Failure(message) => Err(format!(
                "HTTP lifecycle hook ({path}) for Container \"{}\" in Pod \"{pod_name}\" failed - error: {message}",
                container.name
            )),
        };
    }
    if let Some(sleep) = &handler.sleep {
        tokio::time::sleep(Duration::from_secs(sleep.seconds.max(0) as u64).min(budget)).await;
    }
    Ok(())
}
