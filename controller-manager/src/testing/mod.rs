//! Fixtures and fakes for the controllers' tests.
//!
//! - Builders: `Deployment::test("web").replicas(10).max_surge(3)`,
//!   `ReplicaSet::for_deployment(&d).replicas(3).counts(3, 3, 3)`,
//!   `Pod::test("web-1").on_node("n1").running().ready_since(at(10))`,
//!   `Job::test("hello").completions(3).parallelism(2)`,
//!   `Pod::of_job(&job, "hello-1").phase("Failed").finished_at(at(5))`.
//! - [`FakeCluster`]: the API server and the informer caches in one, implementing the
//!   controllers' clients and the event recorder, recording every write as a line
//!   ("update replicaset web-6d4b7f8c9 replicas=3") for tests to assert on; its caches can lag
//!   behind its writes, and writes can be made to fail.
//! - [`FakeClock`], and [`at`]: `at(90)` is 90 s after the fixtures' epoch.

mod builders;
mod fake;

pub use builders::{at, DeploymentBuilder, JobBuilder, PodBuilder, ReplicaSetBuilder, NAMESPACE};
pub use fake::{status_error, FakeCache, FakeClock, FakeCluster};
