//! Builders for test fixtures, on Kubernetes' own types.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStatus, DeploymentStrategy, ReplicaSet, ReplicaSetSpec, ReplicaSetStatus,
    RollingUpdateDeployment,
};
use k8s_openapi::api::batch::v1::{Job, JobCondition, JobSpec, JobStatus};
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateTerminated, ContainerStatus, Pod, PodCondition, PodSpec, PodStatus,
    PodTemplateSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::chrono::{DateTime, Duration};

use crate::deployment::annotations::REVISION_ANNOTATION;
use crate::deployment::hash::compute_hash;
use crate::deployment::util::DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY;
use crate::fields;
use crate::owner::new_controller_ref;

pub const NAMESPACE: &str = "default";

/// `secs` seconds after the fixtures' epoch (2025-01-01T00:00:00Z).
pub fn at(secs: i64) -> Time {
    Time(DateTime::from_timestamp(1_735_689_600, 0).unwrap() + Duration::seconds(secs))
}

fn meta(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some(NAMESPACE.into()),
        uid: Some(format!("uid-{name}")),
        generation: Some(1),
        creation_timestamp: Some(at(0)),
        ..Default::default()
    }
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn web_template(app: &str, image: &str) -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: Some(ObjectMeta { labels: Some(labels(&[("app", app)])), ..Default::default() }),
        spec: Some(PodSpec {
            containers: vec![Container { name: "web".into(), image: Some(image.into()), ..Default::default() }],
            ..Default::default()
        }),
    }
}

fn annotate(meta: &mut ObjectMeta, key: &str, value: &str) {
    meta.annotations.get_or_insert_with(BTreeMap::new).insert(key.into(), value.into());
}

/// `3` or `"25%"`.
pub trait IntOrPercent {
    fn into_int_or_string(self) -> IntOrString;
}

impl IntOrPercent for i32 {
    fn into_int_or_string(self) -> IntOrString {
        IntOrString::Int(self)
    }
}

impl IntOrPercent for &str {
    fn into_int_or_string(self) -> IntOrString {
        IntOrString::String(self.into())
    }
}

pub trait DeploymentBuilder: Sized {
    /// 1 replica of `skiff/demo-web:v1` labelled `app: <name>`, RollingUpdate 25%/25%, history
    /// 10, deadline 600 s, generation 1: a Deployment as the API server stores it.
    fn test(name: &str) -> Self;
    fn replicas(self, n: i32) -> Self;
    fn max_surge(self, value: impl IntOrPercent) -> Self;
    fn max_unavailable(self, value: impl IntOrPercent) -> Self;
    fn recreate(self) -> Self;
    fn paused(self, paused: bool) -> Self;
    fn min_ready_seconds(self, seconds: i32) -> Self;
    fn progress_deadline(self, seconds: i32) -> Self;
    fn revision_history_limit(self, limit: i32) -> Self;
    fn image(self, image: &str) -> Self;
    fn annotation(self, key: &str, value: &str) -> Self;
    fn generation(self, generation: i64) -> Self;
    fn status(self, edit: impl FnOnce(&mut DeploymentStatus)) -> Self;
}

fn spec(d: &mut Deployment) -> &mut DeploymentSpec {
    d.spec.get_or_insert_with(Default::default)
}

fn rolling(d: &mut Deployment) -> &mut RollingUpdateDeployment {
    let strategy = spec(d).strategy.get_or_insert_with(Default::default);
    strategy.rolling_update.get_or_insert_with(Default::default)
}

impl DeploymentBuilder for Deployment {
    fn test(name: &str) -> Self {
        Deployment {
            metadata: meta(name),
            spec: Some(DeploymentSpec {
                replicas: Some(1),
                selector: LabelSelector { match_labels: Some(labels(&[("app", name)])), match_expressions: None },
                template: web_template(name, "skiff/demo-web:v1"),
                strategy: Some(DeploymentStrategy {
                    type_: Some("RollingUpdate".into()),
                    rolling_update: Some(RollingUpdateDeployment {
                        max_surge: Some(IntOrString::String("25%".into())),
                        max_unavailable: Some(IntOrString::String("25%".into())),
                    }),
                }),
                revision_history_limit: Some(10),
                progress_deadline_seconds: Some(600),
                ..Default::default()
            }),
            status: None,
        }
    }

    fn replicas(mut self, n: i32) -> Self {
        spec(&mut self).replicas = Some(n);
        self
    }

    fn max_surge(mut self, value: impl IntOrPercent) -> Self {
        rolling(&mut self).max_surge = Some(value.into_int_or_string());
        self
    }

    fn max_unavailable(mut self, value: impl IntOrPercent) -> Self {
        rolling(&mut self).max_unavailable = Some(value.into_int_or_string());
        self
    }

    fn recreate(mut self) -> Self {
        spec(&mut self).strategy = Some(DeploymentStrategy { type_: Some("Recreate".into()), rolling_update: None });
        self
    }

    fn paused(mut self, paused: bool) -> Self {
        spec(&mut self).paused = Some(paused);
        self
    }

    fn min_ready_seconds(mut self, seconds: i32) -> Self {
        spec(&mut self).min_ready_seconds = Some(seconds);
        self
    }

    fn progress_deadline(mut self, seconds: i32) -> Self {
        spec(&mut self).progress_deadline_seconds = Some(seconds);
        self
    }

    fn revision_history_limit(mut self, limit: i32) -> Self {
        spec(&mut self).revision_history_limit = Some(limit);
        self
    }

    fn image(mut self, image: &str) -> Self {
        let containers = &mut spec(&mut self).template.spec.get_or_insert_with(Default::default).containers;
        containers[0].image = Some(image.into());
        self
    }

    fn annotation(mut self, key: &str, value: &str) -> Self {
        annotate(&mut self.metadata, key, value);
        self
    }

    fn generation(mut self, generation: i64) -> Self {
        self.metadata.generation = Some(generation);
        self
    }

    fn status(mut self, edit: impl FnOnce(&mut DeploymentStatus)) -> Self {
        edit(fields::status_mut(&mut self));
        self
    }
}

pub trait ReplicaSetBuilder: Sized {
    /// 1 replica of `skiff/demo-web:v1` selecting `app: web`, no owner, generation 1.
    fn test(name: &str) -> Self;
    /// The ReplicaSet the Deployment controller would create for `d`'s template, with 0
    /// replicas: named `<d>-<hash>`, the hash label in its template and selector, controlled by `d`.
    fn for_deployment(d: &Deployment) -> Self;
    fn name(self, name: &str) -> Self;
    fn replicas(self, n: i32) -> Self;
    fn min_ready_seconds(self, seconds: i32) -> Self;
    fn revision(self, revision: i64) -> Self;
    fn annotation(self, key: &str, value: &str) -> Self;
    fn created(self, time: Time) -> Self;
    fn owned_by(self, d: &Deployment) -> Self;
    /// `status.replicas`, `readyReplicas`, `availableReplicas`, observed at the current generation.
    fn counts(self, replicas: i32, ready: i32, available: i32) -> Self;
}

impl ReplicaSetBuilder for ReplicaSet {
    fn test(name: &str) -> Self {
        ReplicaSet {
            metadata: ObjectMeta { labels: Some(labels(&[("app", "web")])), ..meta(name) },
            spec: Some(ReplicaSetSpec {
                replicas: Some(1),
                selector: LabelSelector { match_labels: Some(labels(&[("app", "web")])), match_expressions: None },
                template: Some(web_template("web", "skiff/demo-web:v1")),
                ..Default::default()
            }),
            status: None,
        }
    }

    fn for_deployment(d: &Deployment) -> Self {
        let hash = compute_hash(&fields::template(d), None);
        let mut template = fields::template(d);
        let template_labels =
            template.metadata.get_or_insert_with(Default::default).labels.get_or_insert_with(BTreeMap::new);
        template_labels.insert(DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY.into(), hash.clone());
        let all_labels = template_labels.clone();
        let mut selector = d.spec.as_ref().unwrap().selector.clone();
        selector
            .match_labels
            .get_or_insert_with(BTreeMap::new)
            .insert(DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY.into(), hash.clone());
        let name = format!("{}-{hash}", fields::name(&d.metadata));
        ReplicaSet {
            metadata: ObjectMeta {
                labels: Some(all_labels),
                owner_references: Some(vec![new_controller_ref(&d.metadata, "Deployment")]),
                ..meta(&name)
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(0),
                selector,
                template: Some(template),
                min_ready_seconds: None,
            }),
            status: None,
        }
    }

    fn name(mut self, name: &str) -> Self {
        self.metadata.name = Some(name.into());
        self.metadata.uid = Some(format!("uid-{name}"));
        self
    }

    fn replicas(mut self, n: i32) -> Self {
        fields::set_rs_replicas(&mut self, n);
        self
    }

    fn min_ready_seconds(mut self, seconds: i32) -> Self {
        self.spec.get_or_insert_with(Default::default).min_ready_seconds = Some(seconds);
        self
    }

    fn revision(self, revision: i64) -> Self {
        self.annotation(REVISION_ANNOTATION, &revision.to_string())
    }

    fn annotation(mut self, key: &str, value: &str) -> Self {
        annotate(&mut self.metadata, key, value);
        self
    }

    fn created(mut self, time: Time) -> Self {
        self.metadata.creation_timestamp = Some(time);
        self
    }

    fn owned_by(mut self, d: &Deployment) -> Self {
        self.metadata.owner_references = Some(vec![new_controller_ref(&d.metadata, "Deployment")]);
        self
    }

    fn counts(mut self, replicas: i32, ready: i32, available: i32) -> Self {
        self.status = Some(ReplicaSetStatus {
            replicas,
            ready_replicas: fields::omit_zero(ready),
            available_replicas: fields::omit_zero(available),
            fully_labeled_replicas: fields::omit_zero(replicas),
            observed_generation: self.metadata.generation,
            conditions: None,
        });
        self
    }
}

pub trait JobBuilder: Sized {
    /// A Job as the API server stores it after `kubectl create job <name> --image=skiff/toolbox:1`:
    /// completions 1, parallelism 1, backoffLimit 6, restartPolicy Never, the generated selector
    /// (`batch.kubernetes.io/controller-uid: uid-<name>`) and template labels.
    fn test(name: &str) -> Self;
    fn completions(self, n: i32) -> Self;
    fn parallelism(self, n: i32) -> Self;
    /// No `completions`: a work queue of `parallelism` pods.
    fn work_queue(self, parallelism: i32) -> Self;
    fn backoff_limit(self, limit: i32) -> Self;
    fn restart_policy(self, policy: &str) -> Self;
    fn active_deadline_seconds(self, seconds: i64) -> Self;
    fn suspend(self, suspend: bool) -> Self;
    fn indexed(self) -> Self;
    fn subdomain(self, subdomain: &str) -> Self;
    /// `status.startTime`.
    fn started(self, time: Time) -> Self;
    /// A condition, both of its times `at(0)`.
    fn condition(self, type_: &str, status: &str, reason: &str, message: &str) -> Self;
    fn status(self, edit: impl FnOnce(&mut JobStatus)) -> Self;
}

fn job_spec(job: &mut Job) -> &mut JobSpec {
    job.spec.get_or_insert_with(Default::default)
}

impl JobBuilder for Job {
    fn test(name: &str) -> Self {
        let uid = format!("uid-{name}");
        let template_labels = labels(&[
            ("batch.kubernetes.io/controller-uid", &uid),
            ("batch.kubernetes.io/job-name", name),
            ("controller-uid", &uid),
            ("job-name", name),
        ]);
        Job {
            metadata: ObjectMeta { labels: Some(template_labels.clone()), ..meta(name) },
            spec: Some(JobSpec {
                completions: Some(1),
                parallelism: Some(1),
                backoff_limit: Some(6),
                completion_mode: Some("NonIndexed".into()),
                suspend: Some(false),
                selector: Some(LabelSelector {
                    match_labels: Some(labels(&[("batch.kubernetes.io/controller-uid", &uid)])),
                    match_expressions: None,
                }),
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta { labels: Some(template_labels), ..Default::default() }),
                    spec: Some(PodSpec {
                        containers: vec![Container {
                            name: name.into(),
                            image: Some("skiff/toolbox:1".into()),
                            ..Default::default()
                        }],
                        restart_policy: Some("Never".into()),
                        ..Default::default()
                    }),
                },
                ..Default::default()
            }),
            status: None,
        }
    }

    fn completions(mut self, n: i32) -> Self {
        job_spec(&mut self).completions = Some(n);
        self
    }

    fn parallelism(mut self, n: i32) -> Self {
        job_spec(&mut self).parallelism = Some(n);
        self
    }

    fn work_queue(mut self, parallelism: i32) -> Self {
        job_spec(&mut self).completions = None;
        self.parallelism(parallelism)
    }

    fn backoff_limit(mut self, limit: i32) -> Self {
        job_spec(&mut self).backoff_limit = Some(limit);
        self
    }

    fn restart_policy(mut self, policy: &str) -> Self {
        job_spec(&mut self).template.spec.get_or_insert_with(Default::default).restart_policy = Some(policy.into());
        self
    }

    fn active_deadline_seconds(mut self, seconds: i64) -> Self {
        job_spec(&mut self).active_deadline_seconds = Some(seconds);
        self
    }

    fn suspend(mut self, suspend: bool) -> Self {
        job_spec(&mut self).suspend = Some(suspend);
        self
    }

    fn indexed(mut self) -> Self {
        job_spec(&mut self).completion_mode = Some("Indexed".into());
        self
    }

    fn subdomain(mut self, subdomain: &str) -> Self {
        job_spec(&mut self).template.spec.get_or_insert_with(Default::default).subdomain = Some(subdomain.into());
        self
    }

    fn started(self, time: Time) -> Self {
        self.status(|s| s.start_time = Some(time))
    }

    fn condition(self, type_: &str, status: &str, reason: &str, message: &str) -> Self {
        self.status(|s| {
            s.conditions.get_or_insert_with(Vec::new).push(JobCondition {
                type_: type_.into(),
                status: status.into(),
                reason: Some(reason.into()),
                message: Some(message.into()),
                last_probe_time: Some(at(0)),
                last_transition_time: Some(at(0)),
            })
        })
    }

    fn status(mut self, edit: impl FnOnce(&mut JobStatus)) -> Self {
        edit(self.status.get_or_insert_with(Default::default));
        self
    }
}

pub trait PodBuilder: Sized {
    /// A pending, unscheduled pod labelled `app: web`, created at `at(0)`, owned by no one.
    fn test(name: &str) -> Self;
    /// A pod as `rs` would create it: its template's labels and spec, controlled by `rs`.
    fn of(rs: &ReplicaSet, name: &str) -> Self;
    /// A pod as `job` would create it: its template's labels and spec, controlled by `job`.
    fn of_job(job: &Job, name: &str) -> Self;
    fn on_node(self, node: &str) -> Self;
    fn phase(self, phase: &str) -> Self;
    /// Its container terminated at `time` (in the phase it has).
    fn finished_at(self, time: Time) -> Self;
    /// Completion index `index` (annotation and label).
    fn index(self, index: i32) -> Self;
    fn running(self) -> Self;
    /// `Ready` since `time`.
    fn ready_since(self, time: Time) -> Self;
    fn restarts(self, count: i32) -> Self;
    fn created(self, time: Time) -> Self;
    fn deleting(self) -> Self;
    fn annotation(self, key: &str, value: &str) -> Self;
    fn labels(self, pairs: &[(&str, &str)]) -> Self;
}

fn pod_status(pod: &mut Pod) -> &mut PodStatus {
    pod.status.get_or_insert_with(Default::default)
}

impl PodBuilder for Pod {
    fn test(name: &str) -> Self {
        Pod {
            metadata: ObjectMeta { labels: Some(labels(&[("app", "web")])), generation: None, ..meta(name) },
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "web".into(),
                    image: Some("skiff/demo-web:v1".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            status: Some(PodStatus { phase: Some("Pending".into()), ..Default::default() }),
        }
    }

    fn of(rs: &ReplicaSet, name: &str) -> Self {
        let template = fields::rs_template(rs);
        let mut pod = Pod::test(name);
        pod.metadata.labels = template.metadata.and_then(|m| m.labels);
        pod.metadata.owner_references = Some(vec![new_controller_ref(&rs.metadata, "ReplicaSet")]);
        pod.spec = template.spec;
        pod
    }

    fn of_job(job: &Job, name: &str) -> Self {
        let template = fields::job_template(job);
        let mut pod = Pod::test(name);
        pod.metadata.labels = template.metadata.and_then(|m| m.labels);
        pod.metadata.owner_references =
            Some(vec![crate::owner::new_controller_ref_of(&job.metadata, "batch/v1", "Job")]);
        pod.spec = template.spec;
        pod
    }

    fn on_node(mut self, node: &str) -> Self {
        self.spec.get_or_insert_with(Default::default).node_name = Some(node.into());
        self
    }

    fn finished_at(mut self, time: Time) -> Self {
        let exit_code = if fields::pod_phase(&self) == "Failed" { 1 } else { 0 };
        let terminated = ContainerStateTerminated { exit_code, finished_at: Some(time), ..Default::default() };
        pod_status(&mut self).container_statuses = Some(vec![ContainerStatus {
            name: "main".into(),
            state: Some(ContainerState { terminated: Some(terminated), ..Default::default() }),
            ..Default::default()
        }]);
        self
    }

    fn index(mut self, index: i32) -> Self {
        let key = crate::job::COMPLETION_INDEX_ANNOTATION;
        annotate(&mut self.metadata, key, &index.to_string());
        self.metadata.labels.get_or_insert_with(BTreeMap::new).insert(key.into(), index.to_string());
        self
    }

    fn phase(mut self, phase: &str) -> Self {
        pod_status(&mut self).phase = Some(phase.into());
        self
    }

    fn running(self) -> Self {
        self.phase("Running")
    }

    fn ready_since(mut self, time: Time) -> Self {
        let conditions = pod_status(&mut self).conditions.get_or_insert_with(Vec::new);
        conditions.retain(|c| c.type_ != "Ready");
        conditions.push(PodCondition {
            type_: "Ready".into(),
            status: "True".into(),
            last_transition_time: Some(time),
            ..Default::default()
        });
        self
    }

    fn restarts(mut self, count: i32) -> Self {
        pod_status(&mut self).container_statuses =
            Some(vec![ContainerStatus { name: "web".into(), restart_count: count, ..Default::default() }]);
        self
    }

    fn created(mut self, time: Time) -> Self {
        self.metadata.creation_timestamp = Some(time);
        self
    }

    fn deleting(mut self) -> Self {
        self.metadata.deletion_timestamp = Some(at(0));
        self
    }

    fn annotation(mut self, key: &str, value: &str) -> Self {
        annotate(&mut self.metadata, key, value);
        self
    }

    fn labels(mut self, pairs: &[(&str, &str)]) -> Self {
        self.metadata.labels = Some(labels(pairs));
        self
    }
}
