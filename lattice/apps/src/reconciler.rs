//! The reconciler every host runs: while it holds the lease it plans a pass
//! (after every relevant event or change to the manifests, as soon as a
//! silent host counts as gone, and at least twice a second) and carries the
//! plan out with the same control commands a user would send, then records
//! each app's status. A command that fails is not retried for a
//! few seconds, and its reason shows in the status.

use crate::api::{Status, StatusInfo, StatusType};
use crate::lease::Lease;
use crate::observe::{Observed, Running, RunningProvider};
use crate::plan::{Action, Deployed, World, link_key, links_of, plan};
use crate::store::{AppRecord, AppStore};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use weft_jetstream::bucket::Placement;
use weft_lattice_client::LatticeClient;
use weft_lattice_protocol::Subjects;
use weft_lattice_protocol::wire::{DeleteLink, Link, ScaleComponent, StartProvider};

/// How long a failed command waits before it is tried again.
const RETRY_AFTER: Duration = Duration::from_secs(3);
/// How often the leader rewrites every status, changed or not.
const STATUS_REFRESH: Duration = Duration::from_secs(5);
/// The longest between two passes.
const PASS_EVERY: Duration = Duration::from_millis(500);
/// How long after a host's expiry (or the lease's lapse) the next pass runs.
const EXPIRY_MARGIN: Duration = Duration::from_millis(2);

/// A running reconciler; stops (and gives the lease up) when dropped
/// through [`Reconciler::stop`].
pub struct Reconciler {
    task: JoinHandle<()>,
    events: JoinHandle<()>,
    edits: JoinHandle<()>,
    stop: Arc<Notify>,
}

impl Reconciler {
    /// Starts the reconciler of host `host_id` on `client`'s lattice, with
    /// its buckets in `placement`.
    pub async fn start(
        client: async_nats::Client,
        subjects: Subjects,
        host_id: &str,
        placement: &Placement,
    ) -> Result<Self, String> {
        let store = AppStore::open_in(client.clone(), subjects.lattice(), placement)
            .await
            .map_err(|e| e.to_string())?;
        let lease = Lease::open(client.clone(), subjects.lattice(), host_id, placement).await?;
        let observed = Observed::default();
        let changed = Arc::new(Notify::new());
        let events = observed
            .clone()
            .follow(client.clone(), &subjects, changed.clone())
            .await
            .map_err(|e| e.to_string())?;
        let mut changes = store.changes().await.map_err(|e| e.to_string())?;
        let edited = changed.clone();
        let edits = tokio::spawn(async move {
            while futures::StreamExt::next(&mut changes).await.is_some() {
                edited.notify_one();
            }
        });
        let lattice = LatticeClient::new(client, subjects).with_timeout(Duration::from_secs(5));
        let stop = Arc::new(Notify::new());
        let mut worker = Worker {
            store,
            lease,
            observed,
            lattice,
            configs: BTreeMap::new(),
            failures: BTreeMap::new(),
            written: BTreeMap::new(),
            refreshed: Instant::now(),
        };
        let stopping = stop.clone();
        let task = tokio::spawn(async move {
            worker.seed().await;
            // The first pass (and the first try for the lease) at once.
            changed.notify_one();
            loop {
                // Just after the next host would expire or the leader's
                // lease would lapse, if that is sooner.
                let soonest = [worker.observed.next_expiry(), worker.lease.lapses_at()]
                    .into_iter()
                    .flatten()
                    .min();
                let wake = soonest.map_or(PASS_EVERY, |t| {
                    (t.saturating_duration_since(Instant::now()) + EXPIRY_MARGIN).min(PASS_EVERY)
                });
                tokio::select! {
                    () = stopping.notified() => break,
                    () = changed.notified() => {}
                    () = tokio::time::sleep(wake) => {}
                }
                if worker.lease.hold().await {
                    match worker.pass().await {
                        // Only whole passes mark "the reconciler saw it".
                        Ok(()) => worker.lease.passed(),
                        Err(e) => tracing::warn!("reconcile pass failed: {e}"),
                    }
                } else {
                    worker.forget();
                }
            }
            worker.lease.release().await;
        });
        Ok(Self {
            task,
            events,
            edits,
            stop,
        })
    }

    /// Stops it and gives the lease up, so another host takes over at once.
    pub async fn stop(mut self) {
        self.stop.notify_one();
        // Past the wait the worker finishes its pass (and releases the
        // lease) on its own: it is detached, not aborted by the drop.
        let worker = std::mem::replace(&mut self.task, tokio::spawn(async {}));
        let _ = tokio::time::timeout(Duration::from_secs(2), worker).await;
    }
}

/// Dropped without [`Reconciler::stop`] (a host that dies): everything
/// stops at once and the lease runs out, as when the process ends.
impl Drop for Reconciler {
    fn drop(&mut self) {
        self.task.abort();
        self.events.abort();
        self.edits.abort();
    }
}

struct Worker {
    store: AppStore,
    lease: Lease,
    observed: Observed,
    lattice: LatticeClient,
    /// Configs as this leader last put them.
    configs: BTreeMap<String, BTreeMap<String, String>>,
    /// (app, part) → (why, retry after).
    failures: BTreeMap<(String, String), (String, Instant)>,
    /// Statuses as last written.
    written: BTreeMap<String, Status>,
    /// When `written` was last cleared.
    refreshed: Instant,
}

impl Worker {
    /// Asks every host what it runs, so a new leader does not act on a
    /// half-seen lattice while it waits for each host's next heartbeat.
    async fn seed(&self) {
        let Ok(hosts) = self.lattice.hosts().await else {
            return;
        };
        let inventories =
            futures::future::join_all(hosts.iter().map(|h| self.lattice.inventory(&h.id))).await;
        for inv in inventories.into_iter().flatten() {
            self.observed.seed(&inv);
        }
    }

    /// What a leader knows only while it leads.
    fn forget(&mut self) {
        self.configs.clear();
        self.written.clear();
    }

    async fn pass(&mut self) -> Result<(), String> {
        let records: Vec<AppRecord> = self.store.list().await.map_err(|e| e.to_string())?;
        let links = self.lattice.links().await.map_err(|e| e.to_string())?;
        let hosts = self.observed.hosts();
        let now = Instant::now();
        self.failures.retain(|_, (_, until)| *until > now);
        let failures: BTreeMap<(String, String), String> = self
            .failures
            .iter()
            .map(|(k, (why, _))| (k.clone(), why.clone()))
            .collect();

        let deployed: Vec<Deployed<'_>> = records
            .iter()
            .filter_map(|r| {
                let version = r.deployed.as_deref()?;
                Some(Deployed {
                    name: &r.name,
                    version,
                    manifest: r.deployed_manifest()?,
                })
            })
            .collect();
        let undeployed: Vec<&str> = records
            .iter()
            .filter(|r| r.deployed.is_none())
            .map(|r| r.name.as_str())
            .collect();
        // Every link any version of an app declares is that app's to remove,
        // and so are the links of apps deleted since.
        let retired = self
            .store
            .retired_links()
            .await
            .map_err(|e| e.to_string())?;
        let mut owned: BTreeMap<String, Vec<Link>> = BTreeMap::new();
        for r in &records {
            owned.insert(r.name.clone(), links_to_remove(r));
        }
        for (app, old) in &retired {
            if owned.contains_key(app)
                || !old
                    .iter()
                    .any(|o| links.iter().any(|l| link_key(l) == link_key(o)))
            {
                // Back again, or nothing of it left: forget it.
                if let Err(e) = self.store.forget_retired(app).await {
                    tracing::warn!(%app, "could not forget the links of a deleted app: {e}");
                }
            } else {
                owned.insert(app.clone(), old.clone());
            }
        }
        let world = World {
            hosts: &hosts,
            links: &links,
            configs: &self.configs,
            failures: &failures,
            owned_links: &owned,
        };
        let mut planned = plan(&deployed, &undeployed, &world);
        if hosts.is_empty() {
            for app in &deployed {
                planned.status.insert(
                    app.name.to_owned(),
                    Status {
                        status: StatusInfo {
                            kind: StatusType::Waiting,
                            message: "no hosts in the lattice".into(),
                        },
                        version: app.version.to_owned(),
                        ..Status::default()
                    },
                );
            }
        }
        let statuses = planned.status;
        self.execute(planned.actions).await;
        // A leader paused mid-pass (and replaced meanwhile) must not write
        // what it saw before the pause over its successor's statuses.
        if !self.lease.hold().await {
            self.forget();
            return Ok(());
        }
        // Rewritten now and then even if unchanged, so a stale status
        // written by someone else cannot stand.
        if self.refreshed.elapsed() > STATUS_REFRESH {
            self.written.clear();
            self.refreshed = Instant::now();
        }
        for (app, status) in statuses {
            if self.written.get(&app) != Some(&status) {
                if let Err(e) = self.store.set_status(&app, &status).await {
                    tracing::warn!(%app, "could not record the status: {e}");
                    continue;
                }
                self.written.insert(app, status);
            }
        }
        Ok(())
    }

    /// Runs the actions, in order of kind; within a kind, at once.
    async fn execute(&mut self, actions: Vec<Action>) {
        let mut groups: Vec<Vec<Action>> = Vec::new();
        let mut last = None;
        for a in actions {
            let rank = match a {
                Action::PutConfig { .. } => 0,
                Action::PutLink { .. } | Action::DeleteLink { .. } => 2,
                _ => 1,
            };
            if last != Some(rank) {
                groups.push(Vec::new());
                last = Some(rank);
            }
            if let Some(g) = groups.last_mut() {
                g.push(a);
            }
        }
        for group in groups {
            let results = futures::future::join_all(group.iter().map(|a| self.run(a))).await;
            for (action, result) in group.into_iter().zip(results) {
                self.record(action, result);
            }
        }
    }

    async fn run(&self, action: &Action) -> Result<(), String> {
        let c = &self.lattice;
        match action {
            Action::PutConfig { name, values } => c.put_config(name, values).await,
            Action::Scale {
                host,
                id,
                image,
                count,
                config,
                annotations,
                update,
                ..
            } => {
                let cmd = ScaleComponent {
                    component_ref: image.clone(),
                    component_id: id.clone(),
                    host_id: host.clone(),
                    max_instances: *count,
                    annotations: annotations.clone(),
                    config: config.clone(),
                    allow_update: *update,
                    component_limits: None,
                };
                c.scale_component(host, &cmd).await
            }
            Action::StartProvider {
                host,
                id,
                reference,
                config,
                annotations,
                ..
            } => {
                let cmd = StartProvider {
                    provider_id: id.clone(),
                    provider_ref: reference.clone(),
                    host_id: host.clone(),
                    config: config.clone(),
                    annotations: Some(annotations.clone()),
                };
                c.start_provider(host, &cmd).await
            }
            Action::StopProvider { host, id, .. } => c.stop_provider(host, id).await,
            Action::PutLink { link, .. } => c.put_link(link).await,
            Action::DeleteLink { link, .. } => {
                c.delete_link(&DeleteLink {
                    source_id: link.source_id.clone(),
                    name: link.name.clone(),
                    wit_namespace: link.wit_namespace.clone(),
                    wit_package: link.wit_package.clone(),
                })
                .await
            }
        }
        .map_err(|e| e.to_string())
    }

    /// Remembers what an action did, so the next pass need not wait for a
    /// heartbeat to know.
    fn record(&mut self, action: Action, result: Result<(), String>) {
        let key = match &action {
            Action::PutConfig { name, .. } => (String::new(), name.clone()),
            Action::Scale { app, id, .. }
            | Action::StartProvider { app, id, .. }
            | Action::StopProvider { app, id, .. } => (app.clone(), id.clone()),
            Action::PutLink { app, link } | Action::DeleteLink { app, link } => {
                (app.clone(), link_key(link))
            }
        };
        if let Err(why) = result {
            tracing::warn!(app = %key.0, part = %key.1, "reconciler command failed: {why}");
            self.failures
                .insert(key, (why, Instant::now() + RETRY_AFTER));
            return;
        }
        self.failures.remove(&key);
        match action {
            Action::PutConfig { name, values } => {
                self.configs.insert(name, values);
            }
            Action::Scale {
                host,
                id,
                image,
                count,
                annotations,
                ..
            } => {
                let running = Running {
                    image_ref: image,
                    max_instances: count,
                    annotations,
                };
                self.observed.patch(&host, |v| v.scaled(id, running));
            }
            Action::StartProvider {
                host,
                id,
                reference,
                annotations,
                ..
            } => self.observed.patch(&host, |v| {
                v.providers.insert(
                    id,
                    RunningProvider {
                        reference,
                        annotations,
                    },
                );
            }),
            Action::StopProvider { host, id, .. } => self.observed.patch(&host, |v| {
                v.providers.remove(&id);
            }),
            Action::PutLink { .. } | Action::DeleteLink { .. } => {}
        }
    }
}

/// Every link any version of an app declares: what the reconciler removes
/// once the app is undeployed or deleted.
pub fn links_to_remove(record: &AppRecord) -> Vec<Link> {
    record
        .versions
        .iter()
        .flat_map(|v| links_of(&v.manifest))
        .collect()
}
