//! The knobs of demo-web, read once from the environment at start.
//!
//! They exist for probe and rollout exercises, and are kept few on purpose:
//!
//! | variable | default | effect |
//! |---|---|---|
//! | `PORT` | 8080 | the TCP port to listen on |
//! | `READY_DELAY_SECONDS` | 0 | `/ready` answers 503 until this long after start (a slow warm-up) |
//! | `FAIL_READY` | unset | `1`: `/ready` answers 500 from the start (a version that never gets ready) |
//! | `CRASH_AFTER_SECONDS` | unset | exit with status 1 this long after start (a crash loop) |
//! | `POD_IP` | unset | the pod IP to show; unset, the address the request arrived at is shown |
//!
//! Seconds may be fractional (`0.5`). A value that does not parse stops the server at start with
//! a message naming the variable, rather than being silently ignored.

use std::time::Duration;

/// Why the environment could not be turned into a [`Config`].
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name}={value:?} is not a port number (1-65535)")]
    Port { name: &'static str, value: String },
    #[error("{name}={value:?} is not a number of seconds (like 5 or 0.5)")]
    Seconds { name: &'static str, value: String },
    #[error("{name}={value:?} must be 1 or 0")]
    Flag { name: &'static str, value: String },
}

/// What demo-web was asked to do, from its environment.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub port: u16,
    /// How long after start `/ready` keeps answering 503.
    pub ready_delay: Duration,
    /// Whether `/ready` fails from the start, as after `POST /fail/ready`.
    pub fail_ready: bool,
    /// When to exit on purpose, counted from start.
    pub crash_after: Option<Duration>,
    /// The pod IP given by the downward API, if any.
    pub pod_ip: Option<String>,
}

impl Default for Config {
    fn default() -> Config {
        Config { port: 8080, ready_delay: Duration::ZERO, fail_ready: false, crash_after: None, pod_ip: None }
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the knobs through `lookup`, so that tests need not change the process environment.
    /// An empty value counts as unset, as it does for most programs reading env vars.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.is_empty());
        let mut config = Config::default();
        if let Some(value) = get("PORT") {
            config.port = match value.parse::<u16>() {
                Ok(port) if port > 0 => port,
                _ => return Err(ConfigError::Port { name: "PORT", value }),
            };
        }
        if let Some(value) = get("READY_DELAY_SECONDS") {
            config.ready_delay = seconds("READY_DELAY_SECONDS", value)?;
        }
        if let Some(value) = get("FAIL_READY") {
            config.fail_ready = match value.as_str() {
                "1" => true,
                "0" => false,
                _ => return Err(ConfigError::Flag { name: "FAIL_READY", value }),
            };
        }
        if let Some(value) = get("CRASH_AFTER_SECONDS") {
            config.crash_after = Some(seconds("CRASH_AFTER_SECONDS", value)?);
        }
        config.pod_ip = get("POD_IP");
        Ok(config)
    }
}

fn seconds(name: &'static str, value: String) -> Result<Duration, ConfigError> {
    match value.parse::<f64>().ok().and_then(|secs| Duration::try_from_secs_f64(secs).ok()) {
        Some(duration) => Ok(duration),
        None => Err(ConfigError::Seconds { name, value }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_of(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| vars.iter().find(|(key, _)| *key == name).map(|(_, value)| value.to_string()))
    }

    #[test]
    fn no_variables_give_the_defaults() {
        assert_eq!(config_of(&[]).unwrap(), Config::default());
    }

    #[test]
    fn every_knob_is_read() {
        let config = config_of(&[
            ("PORT", "9000"),
            ("READY_DELAY_SECONDS", "2.5"),
            ("FAIL_READY", "1"),
            ("CRASH_AFTER_SECONDS", "30"),
            ("POD_IP", "10.244.1.7"),
        ])
        .unwrap();
        assert_eq!(
            config,
            Config {
                port: 9000,
                ready_delay: Duration::from_millis(2500),
                fail_ready: true,
                crash_after: Some(Duration::from_secs(30)),
                pod_ip: Some("10.244.1.7".into()),
            }
        );
    }

    #[test]
    fn empty_values_count_as_unset() {
        assert_eq!(config_of(&[("PORT", ""), ("CRASH_AFTER_SECONDS", "")]).unwrap(), Config::default());
    }

    #[test]
    fn bad_values_are_refused_with_the_variable_named() {
        let cases = [
            ("PORT", "http", "PORT=\"http\" is not a port number (1-65535)"),
            ("PORT", "0", "PORT=\"0\" is not a port number (1-65535)"),
            ("READY_DELAY_SECONDS", "-1", "READY_DELAY_SECONDS=\"-1\" is not a number of seconds (like 5 or 0.5)"),
            ("CRASH_AFTER_SECONDS", "soon", "CRASH_AFTER_SECONDS=\"soon\" is not a number of seconds (like 5 or 0.5)"),
            ("FAIL_READY", "yes", "FAIL_READY=\"yes\" must be 1 or 0"),
        ];
        for (name, value, message) in cases {
            let err = config_of(&[(name, value)]).unwrap_err();
            assert_eq!(err.to_string(), message, "{name}={value}");
        }
    }
}
