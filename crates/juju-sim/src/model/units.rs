//! The units of an application (`<app>/<ordinal>`): adding one (directories, Pod, Pebble,
//! workload endpoints, leadership, then Juju's hooks from `install` to `<container>-pebble-ready`
//! and its relation joins), removing one (departures, `-relation-broken`, storage detaching,
//! `stop`, `remove`; its Pod deleted and, for the leader, a new leader elected), and
//! `update-status` on every unit.

use std::collections::BTreeMap;

use crate::k8s::{self, AppSpec};
use crate::runner::HookContext;
use crate::state::{Relation, RelationEnd, Unit, ordinal_of};

use super::error::{ModelError, Result, io_err, kube_err};
use super::running::Model;

impl Model {
    /// Adds one unit: state, directories, Pod, Pebble, endpoints, and its hooks.
    pub(super) fn add_unit(&mut self, app: &str) -> Result<String> {
        let ordinal = self.st.apps.get(app).map_or(0, |a| a.next_ordinal);
        if let Some(a) = self.st.apps.get_mut(app) {
            a.next_ordinal += 1;
        }
        let unit = format!("{app}/{ordinal}");
        let unit_dir = self.unit_dir(&unit);
        let storage_names: Vec<String> = self
            .st
            .model
            .applications
            .get(app)
            .map(|a| a.metadata.storage.keys().cloned().collect())
            .unwrap_or_default();
        let mut storage = BTreeMap::new();
        for s in &storage_names {
            let d = unit_dir.join("storage").join(s);
            std::fs::create_dir_all(&d).map_err(io_err(&d))?;
            storage.insert(s.clone(), d);
        }
        for d in ["agent", "containers"] {
            let p = unit_dir.join(d);
            std::fs::create_dir_all(&p).map_err(io_err(&p))?;
        }
        self.copy_charm(app, &unit)?;
        let leader_needed = self
            .st
            .model
            .applications
            .get(app)
            .is_some_and(|a| a.leader.is_none());
        if let Some(a) = self.st.model.applications.get_mut(app) {
            a.units.insert(
                unit.clone(),
                Unit {
                    name: unit.clone(),
                    storage,
                    ..Unit::default()
                },
            );
            if leader_needed {
                a.leader = Some(unit.clone());
            }
        }
        self.rt
            .block_on(k8s::create_pod(
                &self.admin,
                &self.st.model.name,
                app,
                ordinal,
            ))
            .map_err(kube_err)?;
        self.start_pebble(app, &unit, true)?;
        self.pod_up(app, &unit)?;
        for s in &storage_names {
            let mut ctx = HookContext::hook(format!("{s}-storage-attached"));
            ctx.storage = Some((s.clone(), AppSpec::charm_storage_location(s)));
            self.push(&unit, ctx);
        }
        self.push(&unit, HookContext::hook("install"));
        let peers: Vec<(u64, String)> = self
            .st
            .model
            .relations
            .iter()
            .filter(|r| r.is_peer() && r.endpoints[0].app == app)
            .map(|r| (r.id, r.endpoints[0].endpoint.clone()))
            .collect();
        for (id, ep) in &peers {
            let mut ctx = HookContext::hook(format!("{ep}-relation-created"));
            ctx.relation = Some((*id, ep.clone()));
            ctx.remote_app = Some(app.to_owned());
            self.push(&unit, ctx);
        }
        if leader_needed {
            self.push(&unit, HookContext::hook("leader-elected"));
        } else {
            self.push(&unit, HookContext::hook("leader-settings-changed"));
        }
        self.push(&unit, HookContext::hook("config-changed"));
        self.push(&unit, HookContext::hook("start"));
        self.push_pebble_ready(app, &unit);
        // Joins: peers with the other units, and every relation of the app with remote units.
        let rels: Vec<Relation> = self.st.app_relations(app);
        for rel in rels {
            let remote_app = rel.remote_app(app).unwrap_or(app).to_owned();
            for remote in self.st.app_units(&remote_app) {
                if remote == unit {
                    continue;
                }
                self.queue_join(&rel, &unit, &remote);
                self.queue_join(&rel, &remote, &unit);
            }
        }
        Ok(unit)
    }

    /// Removes one unit: its leaving hooks run, then its state, services and Pod go.
    pub(super) fn remove_unit(&mut self, app: &str, unit: &str) -> Result<()> {
        let rels: Vec<Relation> = self.st.app_relations(app);
        for rel in &rels {
            let end = rel.end_of(app).cloned().unwrap_or(RelationEnd {
                app: app.to_owned(),
                endpoint: String::new(),
            });
            let remote_app = rel.remote_app(app).unwrap_or(app).to_owned();
            let remote_end = if rel.is_peer() {
                end.clone()
            } else {
                rel.endpoints
                    .iter()
                    .find(|e| e.app == remote_app)
                    .cloned()
                    .unwrap_or_else(|| end.clone())
            };
            for remote in self.st.app_units(&remote_app) {
                if remote == unit {
                    continue;
                }
                let mut ctx =
                    HookContext::hook(format!("{}-relation-departed", remote_end.endpoint));
                ctx.relation = Some((rel.id, remote_end.endpoint.clone()));
                ctx.remote_app = Some(app.to_owned());
                ctx.remote_unit = Some(unit.to_owned());
                ctx.departing_unit = Some(unit.to_owned());
                self.push(&remote, ctx);
                let mut own = HookContext::hook(format!("{}-relation-departed", end.endpoint));
                own.relation = Some((rel.id, end.endpoint.clone()));
                own.remote_app = Some(remote_app.clone());
                own.remote_unit = Some(remote.clone());
                own.departing_unit = Some(unit.to_owned());
                self.push(unit, own);
            }
            self.settle_departures(rel)?;
            let mut broken = HookContext::hook(format!("{}-relation-broken", end.endpoint));
            broken.relation = Some((rel.id, end.endpoint.clone()));
            broken.remote_app = Some(remote_app.clone());
            self.push(unit, broken);
        }
        let storage: Vec<String> = self
            .st
            .model
            .applications
            .get(app)
            .map(|a| a.metadata.storage.keys().cloned().collect())
            .unwrap_or_default();
        for s in storage {
            let mut ctx = HookContext::hook(format!("{s}-storage-detaching"));
            ctx.storage = Some((s.clone(), AppSpec::charm_storage_location(&s)));
            self.push(unit, ctx);
        }
        self.push(unit, HookContext::hook("stop"));
        self.push(unit, HookContext::hook("remove"));
        self.settle()?;
        for r in &mut self.st.model.relations {
            r.units_joined.remove(unit);
            for s in r.units_joined.values_mut() {
                s.remove(unit);
            }
            r.unit_data.remove(unit);
        }
        if let Some(a) = self.st.model.applications.get_mut(app) {
            a.units.remove(unit);
            if a.leader.as_deref() == Some(unit) {
                a.leader = a.units.keys().next().cloned();
                if let Some(new) = a.leader.clone() {
                    self.queue
                        .push_back((new, HookContext::hook("leader-elected")));
                }
            }
        }
        self.st.unit_errors.remove(unit);
        self.pebbles.stop_unit(unit);
        self.pod_down(unit)?;
        let pod = format!("{app}-{}", ordinal_of(unit));
        self.rt
            .block_on(k8s::delete_pod(&self.admin, &self.st.model.name, &pod))
            .map_err(kube_err)?;
        Ok(())
    }

    /// `kubectl delete pod <app>-<n>`: the StatefulSet controller creates the pod again from
    /// the same template (a new pod network namespace, its containers run or reported
    /// again, Pebble reset) and Juju runs the restart hooks.
    pub fn delete_pod(&mut self, unit: &str) -> Result<()> {
        let app = unit.split('/').next().unwrap_or_default().to_owned();
        if !self.st.app_units(&app).iter().any(|u| u == unit) {
            return Err(ModelError::Invalid(format!("unit \"{unit}\" not found")));
        }
        self.restart_unit(&app, unit)?;
        self.settle()
    }

    /// `update-status` on every unit.
    pub fn update_status(&mut self) -> Result<()> {
        let units: Vec<String> = self
            .st
            .model
            .applications
            .values()
            .flat_map(|a| a.units.keys().cloned())
            .collect();
        for u in units {
            self.push(&u, HookContext::hook("update-status"));
        }
        self.settle()
    }
}
