//! Finding the new ReplicaSet (the one with the Deployment's template), or creating it, and
//! keeping revisions in order.
//!
//! Mirrors `getAllReplicaSetsAndSyncRevision` and `getNewReplicaSet` of
//! `pkg/controller/deployment/sync.go`.
//!
//! 1. The old ReplicaSets are all the others; the new revision is their highest plus one.
//! 2. If a ReplicaSet has the template already (`equal_ignore_hash`: after `kubectl rollout
//!    undo` put an old template back, that old ReplicaSet), it is brought up to date: the
//!    Deployment's annotations, the new revision if its own is lower, `minReadySeconds`. The
//!    Deployment takes its revision.
//! 3. Otherwise (and if asked to) a ReplicaSet is created: named `<deployment>-<hash>`, the hash
//!    label added to its template, its labels and its selector (so it never selects the pods of
//!    another template), controlled by the Deployment, sized by `new_rs_new_replicas`.
//! 4. The name is taken: by our own ReplicaSet with this template (the cache was late), fine;
//!    by anything else, a hash collision: `collisionCount` goes up by one and the next sync
//!    tries another name.
//!
//! `rs_list` is the sync's list of the Deployment's ReplicaSets; a ReplicaSet written here goes
//! back into it. (Upstream reads the cache's list twice in one sync, in `isScalingEvent` and
//! again in the rollout, so its second write of the same ReplicaSet fails as a conflict and the
//! sync is retried; the outcome is the same, one error earlier.)

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use skiff_client::reflector::ObjectKey;

use super::annotations::*;
use super::conditions::*;
use super::hash::compute_hash;
use super::util::*;
use super::{DeploymentController, Error, CONTROLLER_KIND};
use crate::client::{is_namespace_terminating, message as api_message};
use crate::events::EventType;
use crate::fields::{self, omit_zero};
use crate::owner;

impl DeploymentController {
    /// The new ReplicaSet (created if missing and `create_if_not_existed`) and all the old ones.
    pub(super) async fn get_all_replica_sets_and_sync_revision(
        &self,
        d: &mut Deployment,
        rs_list: &mut Vec<ReplicaSet>,
        create_if_not_existed: bool,
    ) -> Result<(Option<ReplicaSet>, Vec<ReplicaSet>), Error> {
        let (_, all_old_rss) = find_old_replica_sets(d, rs_list);
        let new_rs = self.get_new_replica_set(d, rs_list, &all_old_rss, create_if_not_existed).await?;
        Ok((new_rs, all_old_rss))
    }

    async fn get_new_replica_set(
        &self,
        d: &mut Deployment,
        rs_list: &mut Vec<ReplicaSet>,
        old_rss: &[ReplicaSet],
        create_if_not_existed: bool,
    ) -> Result<Option<ReplicaSet>, Error> {
        let new_revision = (max_revision(old_rss) + 1).to_string();
        let new_rs = match find_new_replica_set(d, rs_list) {
            Some(existing) => self.sync_existing_new_replica_set(d, existing, &new_revision).await?,
            None if create_if_not_existed => self.create_new_replica_set(d, old_rss, &new_revision).await?,
            None => return Ok(None),
        };
        let uid = fields::uid(&new_rs.metadata);
        match rs_list.iter_mut().find(|rs| fields::uid(&rs.metadata) == uid) {
            Some(listed) => *listed = new_rs.clone(),
            None => rs_list.push(new_rs.clone()),
        }
        Ok(Some(new_rs))
    }

    async fn sync_existing_new_replica_set(
        &self,
        d: &mut Deployment,
        existing: ReplicaSet,
        new_revision: &str,
    ) -> Result<ReplicaSet, Error> {
        let mut rs = existing;
        let annotations_updated =
            set_new_replica_set_annotations(d, &mut rs, new_revision, true, MAX_REV_HISTORY_LENGTH_IN_CHARS);
        let min_ready_seconds = fields::min_ready_seconds(d);
        if annotations_updated || fields::rs_min_ready_seconds(&rs) != min_ready_seconds {
            rs.spec.get_or_insert_with(Default::default).min_ready_seconds = omit_zero(min_ready_seconds);
            let name = fields::name(&rs.metadata).to_string();
            // The Deployment takes the revision on the next sync, from the updated ReplicaSet.
            return self
                .client
                .update_replica_set(&rs)
                .await
                .map_err(|source| Error::UpdateReplicaSet { name, source });
        }
        let revision = rs.metadata.annotations.as_ref().and_then(|a| a.get(REVISION_ANNOTATION)).cloned();
        let mut needs_update = set_deployment_revision(d, &revision.unwrap_or_default());
        // A Deployment that had no Progressing condition yet starts measuring progress here.
        if has_progress_deadline(d) && get_deployment_condition(&fields::status(d), PROGRESSING).is_none() {
            let message = format!("Found new replica set {:?}", fields::name(&rs.metadata));
            let condition =
                new_deployment_condition(PROGRESSING, "True", FOUND_NEW_RS_REASON, message, &self.clock.now());
            set_deployment_condition(fields::status_mut(d), condition);
            needs_update = true;
        }
        if needs_update {
            self.update_status(d).await?;
        }
        Ok(rs)
    }

    async fn create_new_replica_set(
        &self,
        d: &mut Deployment,
        old_rss: &[ReplicaSet],
        new_revision: &str,
    ) -> Result<ReplicaSet, Error> {
        let mut new_rs = new_replica_set_for(d);
        let all_rss = all_replica_sets(old_rss, Some(&new_rs));
        let new_replicas_count = new_rs_new_replicas(d, &all_rss, &new_rs)
            .map_err(|source| Error::InvalidRollingUpdate { deployment: fields::name(&d.metadata).into(), source })?;
        fields::set_rs_replicas(&mut new_rs, new_replicas_count);
        set_new_replica_set_annotations(d, &mut new_rs, new_revision, false, MAX_REV_HISTORY_LENGTH_IN_CHARS);
        let name = fields::name(&new_rs.metadata).to_string();

        let (created, already_exists) = match self.client.create_replica_set(&new_rs).await {
            Ok(created) => (created, false),
            // A slow cache, or a fast resync: is it ours?
            Err(err) if err.is_already_exists() => (self.existing_or_collision(d, &name).await?, true),
            Err(source) if is_namespace_terminating(&source) => return Err(Error::CreateReplicaSet { name, source }),
            Err(source) => {
                let message = format!("Failed to create new replica set {name:?}: {}", api_message(&source));
                if has_progress_deadline(d) {
                    let condition = new_deployment_condition(
                        PROGRESSING,
                        "False",
                        FAILED_RS_CREATE_REASON,
                        message.clone(),
                        &self.clock.now(),
                    );
                    set_deployment_condition(fields::status_mut(d), condition);
                    // The failure to create is the news; a failure to report it changes nothing.
                    let _ = self.update_status(d).await;
                }
                self.event(d, EventType::Warning, FAILED_RS_CREATE_REASON, message);
                return Err(Error::CreateReplicaSet { name, source });
            }
        };
        if !already_exists && new_replicas_count > 0 {
            let message = format!("Scaled up replica set {name} to {new_replicas_count}");
            self.event(d, EventType::Normal, "ScalingReplicaSet", message);
        }
        let mut needs_update = set_deployment_revision(d, new_revision);
        if !already_exists && has_progress_deadline(d) {
            let message = format!("Created new replica set {name:?}");
            let condition =
                new_deployment_condition(PROGRESSING, "True", NEW_REPLICA_SET_REASON, message, &self.clock.now());
            set_deployment_condition(fields::status_mut(d), condition);
            needs_update = true;
        }
        if needs_update {
            self.update_status(d).await?;
        }
        Ok(created)
    }

    /// The create found `name` taken: our own new ReplicaSet (from the cache), or a collision.
    async fn existing_or_collision(&self, d: &mut Deployment, name: &str) -> Result<ReplicaSet, Error> {
        let key = ObjectKey { namespace: d.metadata.namespace.clone(), name: name.into() };
        let Some(rs) = self.replica_sets.get(&key) else {
            return Err(Error::NewReplicaSetNotCached { name: name.into() });
        };
        let ours = owner::is_controlled_by(&rs.metadata, fields::uid(&d.metadata));
        if ours && equal_ignore_hash(&fields::template(d), &fields::rs_template(&rs)) {
            return Ok((*rs).clone());
        }
        let status = fields::status_mut(d);
        let collision_count = status.collision_count.unwrap_or(0) + 1;
        status.collision_count = Some(collision_count);
        // Requeued by the error; the next sync hashes with the new count.
        let _ = self.update_status(d).await;
        Err(Error::HashCollision { name: name.into(), collision_count })
    }
}

/// The ReplicaSet for `d`'s template, with 0 replicas and no annotations yet.
fn new_replica_set_for(d: &Deployment) -> ReplicaSet {
    let mut template = fields::template(d);
    let hash = compute_hash(&template, fields::status(d).collision_count);
    let template_meta = template.metadata.get_or_insert_with(Default::default);
    let labels = template_meta.labels.get_or_insert_with(BTreeMap::new);
    labels.insert(DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY.into(), hash.clone());
    let labels = labels.clone();
    let mut selector = d.spec.as_ref().map(|s| s.selector.clone()).unwrap_or_default();
    selector
        .match_labels
        .get_or_insert_with(BTreeMap::new)
        .insert(DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY.into(), hash.clone());
    ReplicaSet {
        metadata: ObjectMeta {
            // Deterministic, so that creating twice cannot make two.
            name: Some(format!("{}-{hash}", fields::name(&d.metadata))),
            namespace: d.metadata.namespace.clone(),
            owner_references: Some(vec![owner::new_controller_ref(&d.metadata, CONTROLLER_KIND)]),
            labels: Some(labels),
            ..Default::default()
        },
        spec: Some(ReplicaSetSpec {
            replicas: Some(0),
            min_ready_seconds: omit_zero(fields::min_ready_seconds(d)),
            selector,
            template: Some(template),
        }),
        status: None,
    }
}
