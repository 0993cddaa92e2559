//! Juju's side of an application's Kubernetes objects as the model changes: applying its
//! StatefulSet template, restarting its pods (Pebble reset, Pod created again, `upgrade-charm`,
//! `config-changed`, `start`, `<container>-pebble-ready`) whenever the template's fingerprint
//! changed after a hook or behind the model's back, at most [`MAX_RESTARTS`] times per operation
//! ([`ModelError::RestartLoop`] beyond), and keeping the `<app>` Service's ports on the opened
//! ports.

use crate::charm::Charm;
use crate::k8s::{self, AppSpec};
use crate::meta::CharmMeta;
use crate::runner::HookContext;
use crate::state;

use super::error::{ModelError, Result, kube_err};
use super::running::Model;
use super::sim_state::AppSim;
use crate::state::ordinal_of;

/// Pod restarts allowed in one operation before the model reports a restart loop.
pub const MAX_RESTARTS: u32 = 5;

impl Model {
    /// The `<app>` Service's ports follow the opened ports (Juju's caasfirewaller).
    pub(super) fn sync_ports(&mut self, app: &str) -> Result<()> {
        let ports: Vec<state::Port> = self
            .st
            .model
            .applications
            .get(app)
            .map(|a| a.opened_ports.iter().cloned().collect())
            .unwrap_or_default();
        self.rt
            .block_on(k8s::update_ports(
                &self.admin,
                &self.st.model.name,
                app,
                &ports,
            ))
            .map_err(kube_err)
    }

    /// After a hook of `app`: restart its pods if their template changed.
    pub(super) fn after_hook(&mut self, app: &str) -> Result<()> {
        let Some(live) = self
            .rt
            .block_on(k8s::template_of(&self.admin, &self.st.model.name, app))
            .map_err(kube_err)?
        else {
            return Ok(());
        };
        let fp = k8s::template_fingerprint(&live.0);
        let old = self
            .st
            .apps
            .get(app)
            .map(|a| a.template.clone())
            .unwrap_or_default();
        if fp == old {
            return Ok(());
        }
        if let Some(a) = self.st.apps.get_mut(app) {
            a.template = fp;
            a.restarts += 1;
        }
        let n = self.restarts_in_op.entry(app.to_owned()).or_insert(0);
        *n += 1;
        if *n > MAX_RESTARTS {
            let restarts = *n;
            self.queue.clear();
            let last_hooks = self
                .st
                .history
                .iter()
                .rev()
                .take(8)
                .map(|r| format!("{} {} exit {}", r.unit, r.hook, r.code))
                .collect();
            self.save()?;
            return Err(ModelError::RestartLoop {
                app: app.to_owned(),
                restarts,
                last_hooks,
            });
        }
        for unit in self.st.app_units(app) {
            self.restart_unit(app, &unit)?;
        }
        Ok(())
    }

    /// Every operation first notices templates changed behind the model's back (an operator
    /// editing the StatefulSet) and restarts those pods.
    pub(super) fn check_templates(&mut self) -> Result<()> {
        let apps: Vec<String> = self.st.apps.keys().cloned().collect();
        for app in apps {
            self.after_hook(&app)?;
        }
        Ok(())
    }

    /// Restarts one unit's pod: Pebble reset, Pod created again, the restart hooks queued.
    pub(super) fn restart_unit(&mut self, app: &str, unit: &str) -> Result<()> {
        let ordinal = ordinal_of(unit);
        self.start_pebble(app, unit, true)?;
        self.rt
            .block_on(k8s::create_pod(
                &self.admin,
                &self.st.model.name,
                app,
                ordinal,
            ))
            .map_err(kube_err)?;
        self.pod_up(app, unit)?;
        self.push(unit, HookContext::hook("upgrade-charm"));
        self.push(unit, HookContext::hook("config-changed"));
        self.push(unit, HookContext::hook("start"));
        self.push_pebble_ready(app, unit);
        Ok(())
    }

    /// The application's simulator data and its charm's metadata, read again.
    pub(super) fn app_spec_parts(&self, app: &str) -> Option<(AppSim, CharmMeta)> {
        let sim = self.st.apps.get(app)?.clone();
        let a = self.st.model.applications.get(app)?;
        let charm = Charm::from_dir(a.charm_dir.clone()).ok()?;
        Some((sim, charm.meta))
    }

    /// Applies Juju's Kubernetes objects for the application (create, or GET + merge).
    pub(super) fn apply_k8s(&mut self, app: &str, initial_scale: i32) -> Result<()> {
        let Some((sim, meta)) = self.app_spec_parts(app) else {
            return Err(ModelError::Invalid(format!(
                "application \"{app}\" not found"
            )));
        };
        let spec = AppSpec {
            app,
            namespace: &self.st.model.name,
            controller_uuid: &self.st.controller_uuid,
            model_uuid: &self.st.model.uuid,
            storage_id: &sim.storage_id,
            meta: &meta,
            initial_scale,
            charm_modified_version: sim.charm_modified_version,
        };
        self.rt
            .block_on(k8s::ensure_application(&self.admin, &spec))
            .map_err(kube_err)
    }

    /// Remembers the fingerprint of the pod template the pods were created from.
    pub(super) fn record_template(&mut self, app: &str) -> Result<()> {
        if let Some((t, _)) = self
            .rt
            .block_on(k8s::template_of(&self.admin, &self.st.model.name, app))
            .map_err(kube_err)?
            && let Some(a) = self.st.apps.get_mut(app)
        {
            a.template = k8s::template_fingerprint(&t);
        }
        Ok(())
    }
}
