//! The hook scheduler: one FIFO queue of (unit, hook) for the whole model (an identical pending
//! hook is not queued twice), run one hook at a time until the model settles, with `relation-list`
//! membership kept as Juju keeps it and the hooks each committed change causes queued. A failing
//! hook's queued changes are discarded, its unit shows `error` / `hook failed: "<hook>"`, and it
//! is retried as Juju's retry strategy would, at most [`RETRIES_PER_OPERATION`] times per
//! operation, each retry recorded with the backoff Juju would have waited (5, 10, 20, 40 s ...) but
//! run at once (simplification); while a unit is in error its other hooks wait, and every later
//! operation retries the failed hook first. More than [`MAX_HOOKS`] hooks in one operation stop it
//! with [`ModelError::NotSettled`].

use crate::runner::{self, HookContext};
use crate::state::{self, Relation, SecretOwner, Status, StatusKind};

use super::error::{ModelError, Result};
use super::running::Model;
use super::sim_state::UnitError;

/// Hooks allowed in one operation before the model reports that it does not settle.
pub const MAX_HOOKS: u32 = 500;
/// Immediate retries of a failed hook within one operation.
pub const RETRIES_PER_OPERATION: u32 = 2;

impl Model {
    /// Queues a hook of `unit` unless the same hook is already queued for it.
    pub(super) fn push(&mut self, unit: &str, ctx: HookContext) {
        let item = (unit.to_owned(), ctx);
        if !self.queue.contains(&item) {
            self.queue.push_back(item);
        }
    }

    /// Queues `<container>-pebble-ready` for each of the unit's containers.
    pub(super) fn push_pebble_ready(&mut self, app: &str, unit: &str) {
        let containers = self.container_names(app);
        for c in containers {
            let mut ctx = HookContext::hook(format!("{c}-pebble-ready"));
            ctx.workload = Some(c);
            self.push(unit, ctx);
        }
    }

    /// Retries failed hooks, then runs queued hooks until none are left.
    pub(super) fn settle(&mut self) -> Result<()> {
        self.restarts_in_op.clear();
        self.check_templates()?;
        let errored: Vec<String> = self.st.unit_errors.keys().cloned().collect();
        for unit in errored {
            self.retry_failed(&unit)?;
        }
        let mut ran = 0;
        while let Some((unit, ctx)) = self.queue.pop_front() {
            ran += 1;
            if ran > MAX_HOOKS {
                self.queue.clear();
                return Err(ModelError::NotSettled(MAX_HOOKS));
            }
            let app = unit.split('/').next().unwrap_or_default().to_owned();
            let exists = self
                .st
                .model
                .applications
                .get(&app)
                .is_some_and(|a| a.units.contains_key(&unit));
            if !exists {
                continue;
            }
            if let Some(err) = self.st.unit_errors.get_mut(&unit) {
                err.held.push(ctx);
                continue;
            }
            self.run_one(&unit, &ctx, None)?;
        }
        self.collect_proxy_state();
        self.save()
    }

    fn retry_failed(&mut self, unit: &str) -> Result<()> {
        let Some(err) = self.st.unit_errors.get(unit).cloned() else {
            return Ok(());
        };
        self.run_one(unit, &err.ctx, Some(err.attempts + 1))?;
        Ok(())
    }

    fn backoff(attempt: u32) -> u64 {
        5u64 << attempt.saturating_sub(1).min(8)
    }

    /// Runs one hook (with in-operation retries on failure). Returns whether it succeeded.
    pub(super) fn run_one(
        &mut self,
        unit: &str,
        ctx: &HookContext,
        retry: Option<u32>,
    ) -> Result<bool> {
        let app = unit.split('/').next().unwrap_or_default().to_owned();
        self.track_membership(unit, ctx);
        let mut attempt = retry;
        loop {
            let env = self.unit_env(unit)?;
            let dispatch = env.charm_dir.join("dispatch");
            let before: Vec<Relation> = self.st.model.relations.clone();
            self.st.hook_counter += 1;
            let log_start = self.proxies.get(&app).map_or(0, |p| p.log().len());
            let outcome = runner::run_hook(
                &mut self.st.model,
                &env,
                &dispatch,
                ctx,
                self.st.hook_counter,
            )
            .map_err(ModelError::Run)?;
            let mut record = outcome.record;
            record.retry = attempt.map(|a| (a, Self::backoff(a)));
            if let Some(p) = self.proxies.get(&app) {
                record.api_requests = p
                    .log()
                    .into_iter()
                    .skip(log_start)
                    .map(|r| {
                        format!(
                            "{} {} -> {}",
                            r.method,
                            r.path,
                            r.status
                                .map_or_else(|| "dropped".to_owned(), |s| s.to_string())
                        )
                    })
                    .collect();
            }
            let code = record.code;
            self.st.history.push(record);
            if let Some(action) = outcome.action {
                self.last_action = Some(action);
            }
            if code == 0 {
                self.mark_broken(unit, ctx);
                // The failed hook succeeded: the unit leaves error, its waiting hooks run next.
                let resolved = self.st.unit_errors.get(unit).is_some_and(|e| e.ctx == *ctx);
                if resolved && let Some(err) = self.st.unit_errors.remove(unit) {
                    if let Some(u) = self.st.unit_mut(unit)
                        && u.status.current == StatusKind::Error
                    {
                        u.status = err.previous;
                    }
                    for held in err.held.into_iter().rev() {
                        self.queue.push_front((unit.to_owned(), held));
                    }
                }
                if let Some(effects) = outcome.effects {
                    self.follow_effects(unit, &before, &effects);
                    if effects.ports_changed {
                        self.sync_ports(&app)?;
                    }
                }
                self.after_hook(&app)?;
                return Ok(true);
            }
            // Failed: Juju shows the error and retries with backoff.
            let previous = self
                .st
                .unit_mut(unit)
                .map(|u| u.status.clone())
                .unwrap_or_default();
            let hook_name = if ctx.is_action {
                return Ok(false);
            } else {
                ctx.hook.clone()
            };
            if let Some(u) = self.st.unit_mut(unit)
                && u.status.current != StatusKind::Error
            {
                u.status = Status {
                    current: StatusKind::Error,
                    message: format!("hook failed: \"{hook_name}\""),
                    since: now_secs(),
                };
            }
            let entry = self
                .st
                .unit_errors
                .entry(unit.to_owned())
                .or_insert_with(|| UnitError {
                    ctx: ctx.clone(),
                    attempts: 0,
                    previous,
                    held: Vec::new(),
                });
            entry.attempts = attempt.unwrap_or(0);
            let next = attempt.unwrap_or(0) + 1;
            let first = retry.unwrap_or(1);
            if next > first.saturating_sub(1) + RETRIES_PER_OPERATION {
                return Ok(false);
            }
            attempt = Some(next);
        }
    }

    /// `relation-list` membership, as Juju keeps it: a remote unit joins just before
    /// `-relation-joined` runs and leaves just before `-relation-departed` runs.
    /// After a unit's `relation-broken` hook the relation is gone for that unit; once every
    /// unit on both sides has run it, it is gone from the model.
    fn mark_broken(&mut self, unit: &str, ctx: &HookContext) {
        let Some((rel_id, _)) = &ctx.relation else {
            return;
        };
        if !ctx.hook.ends_with("-relation-broken") {
            return;
        }
        let Some(rel) = self.st.model.relations.iter_mut().find(|r| r.id == *rel_id) else {
            return;
        };
        rel.broken_for.insert(unit.to_owned());
        let apps: Vec<String> = rel.endpoints.iter().map(|e| e.app.clone()).collect();
        let everyone = apps
            .iter()
            .flat_map(|a| self.st.app_units(a))
            .collect::<Vec<_>>();
        let rel_id = *rel_id;
        let done = self
            .st
            .model
            .relations
            .iter()
            .find(|r| r.id == rel_id)
            .is_some_and(|r| everyone.iter().all(|u| r.broken_for.contains(u)));
        if done {
            self.st.model.relations.retain(|r| r.id != rel_id);
        }
    }

    fn track_membership(&mut self, unit: &str, ctx: &HookContext) {
        let (Some((rel_id, _)), Some(remote)) = (&ctx.relation, &ctx.remote_unit) else {
            return;
        };
        let Some(rel) = self.st.model.relations.iter_mut().find(|r| r.id == *rel_id) else {
            return;
        };
        let seen = rel.units_joined.entry(unit.to_owned()).or_default();
        if ctx.hook.ends_with("-relation-joined") {
            seen.insert(remote.clone());
        } else if ctx.hook.ends_with("-relation-departed") {
            seen.remove(remote);
        }
    }

    /// Queues the hooks a committed change causes.
    fn follow_effects(&mut self, unit: &str, before: &[Relation], effects: &state::Effects) {
        let app = unit.split('/').next().unwrap_or_default().to_owned();
        for rel_id in &effects.relations_changed {
            let Some(rel) = self
                .st
                .model
                .relations
                .iter()
                .find(|r| r.id == *rel_id)
                .cloned()
            else {
                continue;
            };
            let old = before.iter().find(|r| r.id == *rel_id);
            let app_changed = old.map(|o| o.app_data.get(&app)) != Some(rel.app_data.get(&app));
            let unit_changed = old.map(|o| o.unit_data.get(unit)) != Some(rel.unit_data.get(unit));
            let Some(remote_app) = rel.remote_app(&app).map(str::to_owned) else {
                continue;
            };
            let Some(remote_end) = rel.endpoints.iter().find(|e| e.app == remote_app).cloned()
            else {
                continue;
            };
            for remote_unit in self.st.app_units(&remote_app) {
                if remote_unit == unit {
                    continue;
                }
                let seen = rel
                    .units_joined
                    .get(&remote_unit)
                    .is_some_and(|s| s.contains(unit));
                let mut ctx =
                    HookContext::hook(format!("{}-relation-changed", remote_end.endpoint));
                ctx.relation = Some((rel.id, remote_end.endpoint.clone()));
                ctx.remote_app = Some(app.clone());
                if unit_changed && seen {
                    let mut c = ctx.clone();
                    c.remote_unit = Some(unit.to_owned());
                    self.push(&remote_unit, c);
                }
                if app_changed {
                    self.push(&remote_unit, ctx);
                }
            }
        }
        for id in &effects.secrets_changed {
            let Some(secret) = self.st.model.secrets.get(id).cloned() else {
                continue;
            };
            for consumer in secret.tracked.keys() {
                let consumer_app = consumer.split('/').next().unwrap_or_default();
                let owned = match &secret.owner {
                    SecretOwner::App(a) => a == consumer_app,
                    SecretOwner::Unit(u) => u == consumer,
                    SecretOwner::Model => false,
                };
                // Owners get no secret-changed (Juju sends it to consumers only).
                if consumer == unit || owned {
                    continue;
                }
                let mut ctx = HookContext::hook("secret-changed");
                ctx.secret = Some((
                    id.clone(),
                    secret.consumer_labels.get(consumer).cloned(),
                    secret.latest().map(|r| r.revision),
                ));
                self.push(consumer, ctx);
            }
        }
    }

    /// Runs queued and retried hooks and notices template changes made outside the model.
    pub fn settle_now(&mut self) -> Result<()> {
        self.settle()
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
