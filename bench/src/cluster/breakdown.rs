//! Where the time of a pod start goes: each pod's milestones from three sources, on one clock.
//!
//! 1. **The watch** (`watch.rs`): the pod object created, bound, `Running`, `Ready` — when this
//!    client learned of each, which is what a user sees.
//! 2. **Docker's own timestamps** (`docker.rs`): each container's `Created` and `StartedAt`, in
//!    nanoseconds, read back after the run. They tell Docker's part from the kubelet's: the
//!    time between the bind and the pause container's creation is the kubelet's (hearing of
//!    the pod, its sync's first reads); between the pause container running and the app
//!    container's creation, the kubelet's again; the rest until `Running`, its status write.
//! 3. **The daemons' logs**, at their default level: the scheduler's `bound` line (written
//!    right after its bind call returned) and the kubelet's `probe result changed` lines (when
//!    a readiness probe first passed). The bind is taken from the log rather than the watch
//!    because the watch hears of it after the kubelet does: the kubelet has often created the
//!    pause container by the time this client's event arrives.
//!
//! Docker and the log give wall-clock times, the watch `Instant`s; a [`Clock`] taken at the
//! start of the run converts between them. The floor's pods get the same Docker-side stages
//! from their own containers, so the table puts the two side by side.

use std::collections::HashMap;
use std::fmt::Write;
use std::time::{Duration, Instant, SystemTime};

use super::docker::ContainerTimes;
use super::floor::{self, PairTimes};
use super::watch::{Objects, Watched};
use crate::stats::Percentiles;

/// The Docker label of the kubelet's containers that names their pod, and their type.
const POD_NAME_LABEL: &str = "io.kubernetes.pod.name";
const TYPE_LABEL: &str = "io.kubernetes.docker.type";
const SANDBOX_TYPE: &str = "podsandbox";

/// An `Instant` and the wall clock read together, to place wall-clock times on the monotonic
/// clock.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    instant: Instant,
    system: SystemTime,
}

impl Clock {
    pub fn now() -> Clock {
        Clock { instant: Instant::now(), system: SystemTime::now() }
    }

    /// `at` on the monotonic clock; None if it is not representable (long before the run).
    pub fn instant(&self, at: SystemTime) -> Option<Instant> {
        match at.duration_since(self.system) {
            Ok(after) => self.instant.checked_add(after),
            Err(before) => self.instant.checked_sub(before.duration()),
        }
    }
}

/// Every milestone of one pod that some source knows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timeline {
    /// The create request sent, by this benchmark (none for a controller's pod); for the
    /// floor, its first request to Docker.
    pub sent: Option<Instant>,
    /// The create request answered (this benchmark's pods).
    pub answered: Option<Instant>,
    pub added: Option<Instant>,
    /// The scheduler's log: its bind call returned.
    pub scheduled: Option<Instant>,
    /// The watch: the bind seen.
    pub bound: Option<Instant>,
    pub pause_created: Option<Instant>,
    pub pause_started: Option<Instant>,
    pub app_created: Option<Instant>,
    pub app_started: Option<Instant>,
    /// The floor's: the app container's start request answered.
    pub app_answered: Option<Instant>,
    pub running: Option<Instant>,
    /// The kubelet's log: the readiness probe's result changed to success.
    pub probe_passed: Option<Instant>,
    pub ready: Option<Instant>,
}

type Mark = fn(&Timeline) -> Option<Instant>;

/// One stage: from one milestone to the next, and who spends it.
pub struct Stage {
    pub name: &'static str,
    from: Mark,
    to: Mark,
}

impl Stage {
    fn took(&self, timeline: &Timeline) -> Option<Duration> {
        Some((self.to)(timeline)?.saturating_duration_since((self.from)(timeline)?))
    }
}

/// The stages of one pod start, in order. A stage a source does not know is left out of that
/// side's column.
pub const STAGES: [Stage; 9] = [
    Stage { name: "create request → pod seen on the watch (API server)", from: |t| t.sent, to: |t| t.added },
    Stage { name: "pod seen → pause created (scheduler, kubelet)", from: |t| t.added, to: |t| t.pause_created },
    Stage { name: "first request sent → pause created (Docker)", from: floor_only, to: |t| t.pause_created },
    Stage { name: "pause created → running (Docker)", from: |t| t.pause_created, to: |t| t.pause_started },
    Stage { name: "pause running → app created", from: |t| t.pause_started, to: |t| t.app_created },
    Stage { name: "app created → running (Docker)", from: |t| t.app_created, to: |t| t.app_started },
    Stage { name: "app running → start answered (Docker)", from: |t| t.app_started, to: |t| t.app_answered },
    Stage { name: "app running → Running seen (kubelet)", from: |t| t.app_started, to: |t| t.running },
    Stage { name: "Running seen → Ready seen", from: |t| t.running, to: |t| t.ready },
];

/// The floor's pods start the clock at their first request to Docker.
fn floor_only(t: &Timeline) -> Option<Instant> {
    t.app_answered.and(t.sent)
}

/// Side notes under the stages, not part of the sequence. The kubelet hears of a bind through
/// its watch at about the time the scheduler's bind call returns, often before, so the
/// kubelet's reaction cannot be told from the scheduler's without a log line the kubelet does
/// not write at its default level: the second note says how much of the second stage the
/// scheduler took at most. The create's answer is no milestone of the pod either: the pod
/// moves on as soon as the create is stored, whenever its answer arrives.
pub const SIDE_NOTES: [Stage; 3] = [
    Stage { name: "(create request → its answer)", from: |t| t.sent, to: |t| t.answered },
    Stage { name: "(pod seen → the scheduler's bind returned)", from: |t| t.added, to: |t| t.scheduled },
    Stage { name: "(bind returned → seen on this benchmark's watch)", from: |t| t.scheduled, to: |t| t.bound },
];

/// With a readiness probe, the last stage splits at the probe's first success.
pub const PROBE_STAGES: [Stage; 2] = [
    Stage { name: "app running → probe passed (kubelet log)", from: |t| t.app_started, to: |t| t.probe_passed },
    Stage { name: "probe passed → Ready seen", from: |t| t.probe_passed, to: |t| t.ready },
];

/// The milestones of a burst, for "when did the last pod get there".
pub const MILESTONES: [(&str, Mark); 9] = [
    ("pod object created", |t| t.added),
    ("bound (the scheduler's log)", |t| t.scheduled),
    ("pause created", |t| t.pause_created),
    ("pause running", |t| t.pause_started),
    ("app created", |t| t.app_created),
    ("app running", |t| t.app_started),
    ("app start answered (floor)", |t| t.app_answered),
    ("Running seen", |t| t.running),
    ("Ready seen", |t| t.ready),
];

/// What the daemons' logs say, by pod.
#[derive(Debug, Clone, Default)]
pub struct Logged {
    /// The scheduler's binds, by pod name.
    pub binds: HashMap<String, SystemTime>,
    /// The kubelet's first readiness success, by pod uid.
    pub probes: HashMap<String, SystemTime>,
}

impl Logged {
    pub fn read(scheduler_log: &str, kubelet_log: &str, namespace: &str) -> Logged {
        Logged { binds: binds(scheduler_log, namespace), probes: probe_successes(kubelet_log) }
    }
}

/// Skiff's pods: the watch's marks, when this benchmark sent and saw answered each create it
/// made (by name), Docker's instants of the node's containers, and what the logs say. Only
/// pods that `pick` keeps.
pub fn skiff_timelines(
    objects: &Objects,
    pick: impl Fn(&str, &Watched) -> bool,
    sent: &HashMap<String, (Instant, Instant)>,
    containers: &[ContainerTimes],
    logged: &Logged,
    clock: &Clock,
) -> Vec<Timeline> {
    let mut timelines = Vec::new();
    for (name, watched) in objects.iter().filter(|(name, watched)| pick(name, watched)) {
        let marks = watched.marks;
        let mut timeline = Timeline {
            sent: sent.get(name).map(|s| s.0),
            answered: sent.get(name).map(|s| s.1),
            added: marks.added,
            bound: marks.bound,
            running: marks.running,
            ready: marks.ready,
            ..Timeline::default()
        };
        for container in containers.iter().filter(|c| c.labels.get(POD_NAME_LABEL) == Some(name)) {
            let sandbox = container.labels.get(TYPE_LABEL).map(String::as_str) == Some(SANDBOX_TYPE);
            let (created, started) = if sandbox {
                (&mut timeline.pause_created, &mut timeline.pause_started)
            } else {
                (&mut timeline.app_created, &mut timeline.app_started)
            };
            // The first attempt counts; a restarted container would come later.
            earliest(created, clock.instant(container.created));
            earliest(started, container.started.and_then(|s| clock.instant(s)));
        }
        let uid = watched.object["metadata"]["uid"].as_str().unwrap_or_default();
        timeline.probe_passed = logged.probes.get(uid).and_then(|at| clock.instant(*at));
        timeline.scheduled = logged.binds.get(name).and_then(|at| clock.instant(*at));
        timelines.push(timeline);
    }
    timelines
}

fn earliest(slot: &mut Option<Instant>, candidate: Option<Instant>) {
    if let Some(candidate) = candidate {
        if slot.is_none_or(|current| candidate < current) {
            *slot = Some(candidate);
        }
    }
}

/// The floor's pods: this client's times of each pair and Docker's instants of its containers
/// (named `<run>-<index>-pause` and `<run>-<index>-app`).
pub fn floor_timelines(pairs: &[PairTimes], containers: &[ContainerTimes], clock: &Clock) -> Vec<Timeline> {
    pairs
        .iter()
        .map(|pair| {
            let mut timeline =
                Timeline { sent: Some(pair.sent), app_answered: Some(pair.sent + pair.total()), ..Timeline::default() };
            let suffix = |role: &str| format!("-{}-{role}", pair.index);
            for container in containers {
                let role = container.labels.get(floor::ROLE).map(String::as_str).unwrap_or_default();
                if !container.name.ends_with(&suffix(role)) {
                    continue;
                }
                let created = clock.instant(container.created);
                let started = container.started.and_then(|s| clock.instant(s));
                match role {
                    "pause" => (timeline.pause_created, timeline.pause_started) = (created, started),
                    "app" => (timeline.app_created, timeline.app_started) = (created, started),
                    _ => {}
                }
            }
            timeline
        })
        .collect()
}

/// The median of a stage over the pods that have it.
pub fn median(stage: &Stage, timelines: &[Timeline]) -> Option<Duration> {
    let took: Vec<Duration> = timelines.iter().filter_map(|t| stage.took(t)).collect();
    (!took.is_empty()).then(|| Percentiles::of(took).p50)
}

/// The first and the last instant any pod reached a milestone, after `start`.
pub fn spread(mark: Mark, timelines: &[Timeline], start: Instant) -> Option<(Duration, Duration, usize)> {
    let reached: Vec<Instant> = timelines.iter().filter_map(mark).collect();
    let first = reached.iter().min()?;
    let last = reached.iter().max()?;
    Some((first.saturating_duration_since(start), last.saturating_duration_since(start), reached.len()))
}

/// The per-pod table: each stage's median for two sets of pods (the floor's and Skiff's, or
/// two of Skiff's), in milliseconds. `probed`: the pods have a readiness probe.
pub fn render_stages(title: &str, columns: [(&str, &[Timeline]); 2], probed: bool) -> String {
    let [(left_name, left), (right_name, right)] = columns;
    let mut out = String::new();
    let _ = writeln!(out, "{title:<56} {left_name:>14} {right_name:>14}");
    let stages = STAGES.iter().take(STAGES.len() - usize::from(probed)).chain(PROBE_STAGES.iter().filter(|_| probed));
    for stage in stages {
        let (l, r) = (median(stage, left), median(stage, right));
        if l.is_none() && r.is_none() {
            continue;
        }
        let _ = writeln!(out, "  {:<54} {:>14} {:>14}", stage.name, ms(l), ms(r));
    }
    for note in &SIDE_NOTES {
        let (l, r) = (median(note, left), median(note, right));
        if l.is_some() || r.is_some() {
            let _ = writeln!(out, "  {:<54} {:>14} {:>14}", note.name, ms(l), ms(r));
        }
    }
    out
}

/// The burst table: when the first and the last pod reached each milestone.
pub fn render_spread(title: &str, floor: (&[Timeline], Instant), skiff: (&[Timeline], Instant)) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{title:<40} {:>22} {:>22}", "floor: first … last", "skiff: first … last");
    for (name, mark) in MILESTONES {
        let (f, s) = (spread(mark, floor.0, floor.1), spread(mark, skiff.0, skiff.1));
        if f.is_none() && s.is_none() {
            continue;
        }
        let _ = writeln!(out, "  {name:<38} {:>22} {:>22}", seconds(f), seconds(s));
    }
    out
}

fn ms(d: Option<Duration>) -> String {
    d.map(|d| format!("{:.0} ms", d.as_secs_f64() * 1e3)).unwrap_or_else(|| "-".into())
}

fn seconds(spread: Option<(Duration, Duration, usize)>) -> String {
    match spread {
        Some((first, last, n)) => format!("{:.2} … {:.2} s ({n})", first.as_secs_f64(), last.as_secs_f64()),
        None => "-".into(),
    }
}

/// When the scheduler bound each pod of `namespace`, by pod name, from its log lines
/// (`2026-12-01T09:10:14.711185Z  INFO bind{pod=default/seq-0 node=bench-1}: … bound`).
pub fn binds(log: &str, namespace: &str) -> HashMap<String, SystemTime> {
    let prefix = format!("bind{{pod={namespace}/");
    let mut bound = HashMap::new();
    for line in log.lines().filter(|l| l.ends_with(": bound")) {
        let Some(at) = line.split_whitespace().next().and_then(super::docker::parse_time) else { continue };
        let Some(name) = line.split_whitespace().find_map(|field| field.strip_prefix(prefix.as_str())) else {
            continue;
        };
        bound.entry(name.to_string()).or_insert(at);
    }
    bound
}

/// When each pod's readiness probe first passed, by pod uid, from the kubelet's log lines
/// (`2026-12-01T08:50:00.123456Z  INFO … probe result changed pod_uid=… probe="Readiness"
/// result=Success`).
pub fn probe_successes(log: &str) -> HashMap<String, SystemTime> {
    let mut passed = HashMap::new();
    for line in log.lines().filter(|l| l.contains("probe result changed") && l.contains("Success")) {
        let Some(at) = line.split_whitespace().next().and_then(super::docker::parse_time) else { continue };
        let Some(uid) = line.split_whitespace().find_map(|field| field.strip_prefix("pod_uid=")) else { continue };
        passed.entry(uid.to_string()).or_insert(at);
    }
    passed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_are_the_gaps_between_milestones_and_unknown_ones_are_left_out() {
        let t0 = Instant::now();
        let at = |ms| Some(t0 + Duration::from_millis(ms));
        let skiff = Timeline {
            sent: at(0),
            answered: at(3),
            added: at(2),
            scheduled: at(12),
            bound: at(10),
            pause_created: at(40),
            pause_started: at(250),
            app_created: at(280),
            app_started: at(370),
            running: at(400),
            ready: at(400),
            ..Timeline::default()
        };
        let took: Vec<Option<u64>> = STAGES.iter().map(|s| s.took(&skiff).map(|d| d.as_millis() as u64)).collect();
        assert_eq!(took, [Some(2), Some(38), None, Some(210), Some(30), Some(90), None, Some(30), Some(0)]);
        let notes: Vec<Option<u64>> = SIDE_NOTES.iter().map(|s| s.took(&skiff).map(|d| d.as_millis() as u64)).collect();
        assert_eq!(notes, [Some(3), Some(10), Some(0)], "the watch may hear of a bind before its call returns");
        let floor = Timeline {
            sent: at(0),
            pause_created: at(1),
            pause_started: at(200),
            app_created: at(205),
            app_started: at(290),
            app_answered: at(300),
            ..Timeline::default()
        };
        let took: Vec<Option<u64>> = STAGES.iter().map(|s| s.took(&floor).map(|d| d.as_millis() as u64)).collect();
        assert_eq!(took, [None, None, Some(1), Some(199), Some(5), Some(85), Some(10), None, None]);
    }

    #[test]
    fn wall_clock_times_land_on_the_monotonic_clock() {
        let clock = Clock::now();
        let later = clock.system + Duration::from_millis(250);
        assert_eq!(clock.instant(later), Some(clock.instant + Duration::from_millis(250)));
        let earlier = clock.system - Duration::from_millis(50);
        assert_eq!(clock.instant(earlier).map(|i| clock.instant - i), Some(Duration::from_millis(50)));
    }

    #[test]
    fn probe_successes_come_from_the_kubelets_log_by_pod_uid() {
        let log = "2026-12-01T08:50:00.500000Z  INFO skiff_kubelet::probes::worker: probe result changed pod_uid=u1 container=web probe=\"Readiness\" result=Success\n\
2026-12-01T08:50:01.000000Z  INFO skiff_kubelet::probes::worker: probe result changed pod_uid=u1 container=web probe=\"Readiness\" result=Failure\n\
2026-12-01T08:50:02.000000Z  INFO skiff_kubelet::probes::worker: probe result changed pod_uid=u1 container=web probe=\"Readiness\" result=Success\n\
2026-12-01T08:50:03.000000Z  INFO skiff_kubelet: container started pod=default/a container=web\n";
        let passed = probe_successes(log);
        assert_eq!(passed.len(), 1);
        let first = super::super::docker::parse_time("2026-12-01T08:50:00.5Z").unwrap();
        assert_eq!(passed["u1"], first, "the first success counts");
    }

    #[test]
    fn binds_come_from_the_schedulers_log_by_pod_name() {
        let log = "2026-12-01T09:10:11.455455Z  INFO skiff_scheduler: caches synced; scheduling scheduler=\"default-scheduler\"\n\
2026-12-01T09:10:14.711185Z  INFO bind{pod=default/seq-0 node=bench-1}: skiff_scheduler::schedule_one: bound\n\
2026-12-01T09:10:15.000000Z  INFO bind{pod=other/seq-1 node=bench-1}: skiff_scheduler::schedule_one: bound\n";
        let bound = binds(log, "default");
        assert_eq!(bound.len(), 1, "{bound:?}");
        assert_eq!(bound["seq-0"], super::super::docker::parse_time("2026-12-01T09:10:14.711185Z").unwrap());
    }
}
