//! Operations on applications, as `juju` performs them: `deploy` (the application, its identity,
//! its Kubernetes objects, its peer relations and first unit), `config`, `trust`,
//! `scale-application`, `refresh`, and re-applying Juju's template.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::charm::Charm;
use crate::k8s;
use crate::meta::Role;
use crate::runner::HookContext;
use crate::state::{Application, Relation, RelationEnd};

use super::error::{ModelError, Result, charm_err, io_err, kube_err};
use super::running::Model;
use super::sim_state::{AppSim, uuid_like};
use super::state_meta::to_state_meta;
use crate::state::ordinal_of;

impl Model {
    /// `juju deploy CHARM [APP] [--trust] [--config K=V]...` with one unit.
    pub fn deploy(
        &mut self,
        charm: &str,
        app: Option<&str>,
        trust: bool,
        config: &[(String, String)],
    ) -> Result<()> {
        let work = self.dir.join("charms").join(app.unwrap_or("_new"));
        let located = Charm::locate(charm, &work).map_err(charm_err)?;
        let name = app.map_or_else(|| located.meta.name.clone(), str::to_owned);
        if self.st.model.applications.contains_key(&name) {
            return Err(ModelError::Invalid(format!(
                "cannot add application \"{name}\": application already exists"
            )));
        }
        let located = if app.is_none() {
            let w = self.dir.join("charms").join(&name);
            Charm::locate(charm, &w).map_err(charm_err)?
        } else {
            located
        };
        let mut values = BTreeMap::new();
        for (k, v) in config {
            let typed = located
                .meta
                .typed_config_value(k, v)
                .map_err(ModelError::Invalid)?;
            values.insert(k.clone(), typed);
        }
        let application = Application {
            name: name.clone(),
            charm_dir: located.dir.clone(),
            metadata: to_state_meta(&located.meta),
            config: values,
            trusted: trust,
            planned_units: 1,
            ..Application::default()
        };
        self.st.model.applications.insert(name.clone(), application);
        let storage_id = uuid_like(&name)[..8].to_owned();
        self.st.apps.insert(
            name.clone(),
            AppSim {
                charm_spec: charm.to_owned(),
                storage_id,
                charm_meta: Some(located.meta.clone()),
                ..AppSim::default()
            },
        );
        let token = self
            .rt
            .block_on(k8s::ensure_identity(
                &self.admin,
                &self.st.model.name,
                &name,
            ))
            .map_err(kube_err)?;
        if let Some(a) = self.st.apps.get_mut(&name) {
            a.token = token;
        }
        if trust {
            self.rt
                .block_on(k8s::set_trust(
                    &self.admin,
                    &self.st.model.name,
                    &name,
                    true,
                ))
                .map_err(kube_err)?;
        }
        self.apply_k8s(&name, 1)?;
        self.record_template(&name)?;
        // Peer relations exist from the start.
        for (ep, role, _) in located.meta.endpoints() {
            if role == Role::Peer {
                self.st.model.next_relation_id += 1;
                let id = self.st.model.next_relation_id;
                let end = RelationEnd {
                    app: name.clone(),
                    endpoint: ep.clone(),
                };
                self.st.model.relations.push(Relation {
                    id,
                    endpoints: [end.clone(), end],
                    app_data: BTreeMap::new(),
                    unit_data: BTreeMap::new(),
                    units_joined: BTreeMap::new(),
                    dying: false,
                    broken_for: std::collections::BTreeSet::new(),
                });
            }
        }
        self.add_unit(&name)?;
        self.settle()
    }

    /// `juju config APP K=V...`.
    pub fn config(&mut self, app: &str, values: &[(String, String)]) -> Result<()> {
        let meta = self
            .app_spec_parts(app)
            .map(|p| p.1)
            .ok_or_else(|| ModelError::Invalid(format!("application \"{app}\" not found")))?;
        let mut typed = Vec::new();
        for (k, v) in values {
            let value = if v.is_empty() {
                Value::Null
            } else {
                meta.typed_config_value(k, v).map_err(ModelError::Invalid)?
            };
            typed.push((k.clone(), value));
        }
        let mut changed = false;
        if let Some(a) = self.st.model.applications.get_mut(app) {
            for (k, v) in typed {
                let old = a.config.get(&k).cloned();
                if v.is_null() {
                    changed |= a.config.remove(&k).is_some();
                } else if old.as_ref() != Some(&v) {
                    a.config.insert(k, v);
                    changed = true;
                }
            }
        }
        if changed {
            for unit in self.st.app_units(app) {
                self.push(&unit, HookContext::hook("config-changed"));
            }
        }
        self.settle()
    }

    /// `juju trust APP --scope=cluster` (grants cluster-admin; Juju re-applies its template
    /// and fires `config-changed`, as trust is an application setting).
    pub fn trust(&mut self, app: &str) -> Result<()> {
        if !self.st.model.applications.contains_key(app) {
            return Err(ModelError::Invalid(format!(
                "application \"{app}\" not found"
            )));
        }
        self.rt
            .block_on(k8s::set_trust(&self.admin, &self.st.model.name, app, true))
            .map_err(kube_err)?;
        if let Some(a) = self.st.model.applications.get_mut(app) {
            a.trusted = true;
        }
        self.apply_k8s(app, 1)?;
        for unit in self.st.app_units(app) {
            self.push(&unit, HookContext::hook("config-changed"));
        }
        self.settle()
    }

    /// `juju scale-application APP N`.
    pub fn scale(&mut self, app: &str, n: u32) -> Result<()> {
        let current = self.st.app_units(app);
        if !self.st.model.applications.contains_key(app) {
            return Err(ModelError::Invalid(format!(
                "application \"{app}\" not found"
            )));
        }
        if let Some(a) = self.st.model.applications.get_mut(app) {
            a.planned_units = n;
        }
        self.rt
            .block_on(k8s::scale(
                &self.admin,
                &self.st.model.name,
                app,
                i32::try_from(n).unwrap_or(i32::MAX),
            ))
            .map_err(kube_err)?;
        let have = u32::try_from(current.len()).unwrap_or(u32::MAX);
        if n > have {
            for _ in have..n {
                self.add_unit(app)?;
            }
            return self.settle();
        }
        let mut sorted = current;
        sorted.sort_by_key(|u| ordinal_of(u));
        let dying: Vec<String> = sorted.into_iter().skip(n as usize).collect();
        for unit in dying.iter().rev() {
            self.remove_unit(app, unit)?;
        }
        self.settle()
    }

    /// `juju refresh APP`: the charm is read again from where it was deployed (or last
    /// refreshed) from, then as [`Self::refresh_path`].
    pub fn refresh(&mut self, app: &str) -> Result<()> {
        let Some(spec) = self.st.apps.get(app).map(|a| a.charm_spec.clone()) else {
            return Err(ModelError::Invalid(format!(
                "application \"{app}\" not found"
            )));
        };
        self.refresh_path(app, &spec)
    }

    /// `juju refresh APP --path CHARM` (and `--switch CHARM`, the same for a local charm):
    /// Juju's checks ([`super::refresh::check`]: name, storage block, established relations)
    /// refuse with Juju's text and change nothing; then the charm is swapped (directory,
    /// metadata, config options it no longer has dropped), Juju re-applies its template
    /// (GET + strategic merge, manager `juju`) with a new charm-modified-version, and the pods
    /// roll (`upgrade-charm`, `config-changed`, `start`, `<container>-pebble-ready`).
    pub fn refresh_path(&mut self, app: &str, charm: &str) -> Result<()> {
        let Some(sim) = self.st.apps.get(app).cloned() else {
            return Err(ModelError::Invalid(format!(
                "application \"{app}\" not found"
            )));
        };
        let old = match sim.charm_meta {
            Some(meta) => meta,
            None => self
                .app_spec_parts(app)
                .map(|p| p.1)
                .ok_or_else(|| ModelError::Invalid(format!("application \"{app}\" not found")))?,
        };
        let charms = self.dir.join("charms");
        let staging = charms.join(format!("{app}.refresh"));
        let located = Charm::locate(charm, &staging).map_err(charm_err)?;
        let revision = sim.charm_revision + 1;
        let checked = super::refresh::check(
            app,
            &old,
            &located.meta,
            revision,
            &self.st.app_relations(app),
        );
        let staged = std::fs::canonicalize(&staging).is_ok_and(|s| s == located.dir);
        if let Err(refused) = checked {
            if staged {
                std::fs::remove_dir_all(&located.dir).map_err(io_err(&located.dir))?;
            }
            return Err(refused.into());
        }
        // A charm the simulator unpacked or assembled moves to the application's directory;
        // a charm directory given as such is used in place.
        let charm_dir = if staged {
            let work = charms.join(app);
            if work.exists() {
                std::fs::remove_dir_all(&work).map_err(io_err(&work))?;
            }
            std::fs::rename(&located.dir, &work).map_err(io_err(&work))?;
            std::fs::canonicalize(&work).map_err(io_err(&work))?
        } else {
            located.dir
        };
        if let Some(a) = self.st.model.applications.get_mut(app) {
            a.charm_dir.clone_from(&charm_dir);
            a.metadata = to_state_meta(&located.meta);
            a.config.retain(|k, _| located.meta.options.contains_key(k));
        }
        for unit in self.st.app_units(app) {
            self.copy_charm(app, &unit)?;
        }
        if let Some(a) = self.st.apps.get_mut(app) {
            a.charm_modified_version += 1;
            a.charm_revision = revision;
            charm.clone_into(&mut a.charm_spec);
            a.charm_meta = Some(located.meta);
        }
        self.apply_k8s(app, 1)?;
        self.settle()
    }

    /// Re-applies Juju's template without a charm change (what Juju does on provisioner
    /// restarts and trust changes); pods roll only if the template changed.
    pub fn reapply(&mut self, app: &str) -> Result<()> {
        self.apply_k8s(app, 1)?;
        self.settle()
    }
}
