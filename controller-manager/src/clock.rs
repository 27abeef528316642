//! The controllers' clock, passed in so that tests decide what time it is.
//!
//! Kubernetes' controllers call `metav1.Now()` (and tests swap a package variable `nowFn`);
//! Skiff's ask a [`Clock`]. Times are whole seconds, because that is all a `metav1.Time` keeps
//! once written (RFC 3339 without fractions): a condition compared with its stored copy must be
//! equal to it.

use std::time::{SystemTime, UNIX_EPOCH};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::chrono::{DateTime, Utc};

pub trait Clock: Send + Sync {
    fn now(&self) -> Time;
}

/// The machine's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Time {
        let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Time(DateTime::<Utc>::from_timestamp(since_epoch.as_secs() as i64, 0).unwrap_or_default())
    }
}
