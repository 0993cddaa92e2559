//! Relations between applications: `integrate` (endpoint matching and Juju's checks, then
//! `-relation-created` on both sides and the joins) and `remove-relation` (departures, then
//! `-relation-broken`), and the join hooks a new unit or relation queues.

use std::collections::BTreeMap;

use crate::meta::Role;
use crate::runner::HookContext;
use crate::state::{Relation, RelationEnd};

use super::error::{ModelError, Result};
use super::running::Model;

impl Model {
    /// Queues `-relation-joined` then `-relation-changed` on `unit` for `remote`.
    pub(super) fn queue_join(&mut self, rel: &Relation, unit: &str, remote: &str) {
        let app = unit.split('/').next().unwrap_or_default();
        let remote_app = remote.split('/').next().unwrap_or_default();
        let Some(end) = (if rel.is_peer() {
            Some(rel.endpoints[0].clone())
        } else {
            rel.end_of(app).cloned()
        }) else {
            return;
        };
        for kind in ["joined", "changed"] {
            let mut ctx = HookContext::hook(format!("{}-relation-{kind}", end.endpoint));
            ctx.relation = Some((rel.id, end.endpoint.clone()));
            ctx.remote_app = Some(remote_app.to_owned());
            ctx.remote_unit = Some(remote.to_owned());
            self.push(unit, ctx);
        }
    }

    fn resolve_end(&self, spec: &str) -> Result<(String, Option<String>)> {
        let (app, ep) = match spec.split_once(':') {
            Some((a, e)) => (a.to_owned(), Some(e.to_owned())),
            None => (spec.to_owned(), None),
        };
        if !self.st.model.applications.contains_key(&app) {
            return Err(ModelError::Invalid(format!(
                "application \"{app}\" not found"
            )));
        }
        Ok((app, ep))
    }

    /// `juju integrate A[:EP] B[:EP]`.
    #[allow(clippy::too_many_lines)] // endpoint matching, Juju's checks, then the hooks
    pub fn relate(&mut self, a: &str, b: &str) -> Result<()> {
        let (app_a, ep_a) = self.resolve_end(a)?;
        let (app_b, ep_b) = self.resolve_end(b)?;
        let ma = self.app_spec_parts(&app_a).map(|p| p.1).unwrap_or_default();
        let mb = self.app_spec_parts(&app_b).map(|p| p.1).unwrap_or_default();
        let mut candidates = Vec::new();
        for (ea, ra, ia) in ma.endpoints() {
            if ep_a.as_ref().is_some_and(|e| *e != ea) || ra == Role::Peer {
                continue;
            }
            for (eb, rb, ib) in mb.endpoints() {
                if ep_b.as_ref().is_some_and(|e| *e != eb) || rb == Role::Peer {
                    continue;
                }
                let complementary = matches!(
                    (ra, rb),
                    (Role::Provider, Role::Requirer) | (Role::Requirer, Role::Provider)
                );
                if complementary && ia.interface == ib.interface {
                    candidates.push((ea.clone(), eb.clone()));
                }
            }
        }
        let (ea, eb) = match candidates.as_slice() {
            [one] => one.clone(),
            [] => {
                return Err(ModelError::Invalid(format!(
                    "no relations found between \"{a}\" and \"{b}\""
                )));
            }
            _ => {
                return Err(ModelError::Invalid(format!(
                    "ambiguous relation: \"{a} {b}\" could refer to {candidates:?}"
                )));
            }
        };
        let exists = self.st.model.relations.iter().any(|r| {
            r.endpoints
                .iter()
                .any(|e| e.app == app_a && e.endpoint == ea)
                && r.endpoints
                    .iter()
                    .any(|e| e.app == app_b && e.endpoint == eb)
        });
        if exists {
            return Err(ModelError::Invalid(format!(
                "cannot add relation \"{app_a}:{ea} {app_b}:{eb}\": relation {app_a}:{ea} {app_b}:{eb} already exists"
            )));
        }
        for (app, ep, meta) in [(&app_a, &ea, &ma), (&app_b, &eb, &mb)] {
            let limit = meta.endpoint(ep).and_then(|e| e.1.limit);
            let count = self
                .st
                .model
                .relations
                .iter()
                .filter(|r| {
                    r.endpoints
                        .iter()
                        .any(|e| &e.app == app && &e.endpoint == ep)
                })
                .count();
            if limit.is_some_and(|l| count >= l as usize) {
                return Err(ModelError::Invalid(format!(
                    "cannot add relation: establishing a new relation for {app}:{ep} would exceed its maximum relation limit of {}",
                    limit.unwrap_or_default()
                )));
            }
        }
        self.st.model.next_relation_id += 1;
        let id = self.st.model.next_relation_id;
        let rel = Relation {
            id,
            endpoints: [
                RelationEnd {
                    app: app_a.clone(),
                    endpoint: ea.clone(),
                },
                RelationEnd {
                    app: app_b.clone(),
                    endpoint: eb.clone(),
                },
            ],
            app_data: BTreeMap::new(),
            unit_data: BTreeMap::new(),
            units_joined: BTreeMap::new(),
            dying: false,
            broken_for: std::collections::BTreeSet::new(),
        };
        self.st.model.relations.push(rel.clone());
        for (app, ep, remote) in [(&app_a, &ea, &app_b), (&app_b, &eb, &app_a)] {
            for unit in self.st.app_units(app) {
                let mut ctx = HookContext::hook(format!("{ep}-relation-created"));
                ctx.relation = Some((id, ep.clone()));
                ctx.remote_app = Some(remote.clone());
                self.push(&unit, ctx);
            }
        }
        for unit in self.st.app_units(&app_a) {
            for remote in self.st.app_units(&app_b) {
                self.queue_join(&rel, &unit, &remote);
            }
        }
        for unit in self.st.app_units(&app_b) {
            for remote in self.st.app_units(&app_a) {
                self.queue_join(&rel, &unit, &remote);
            }
        }
        self.settle()
    }

    /// `juju remove-relation A B`.
    pub fn remove_relation(&mut self, a: &str, b: &str) -> Result<()> {
        let (app_a, ep_a) = self.resolve_end(a)?;
        let (app_b, ep_b) = self.resolve_end(b)?;
        let Some(rel) = self
            .st
            .model
            .relations
            .iter()
            .find(|r| {
                !r.is_peer()
                    && r.end_of(&app_a)
                        .is_some_and(|e| ep_a.as_ref().is_none_or(|x| *x == e.endpoint))
                    && r.end_of(&app_b)
                        .is_some_and(|e| ep_b.as_ref().is_none_or(|x| *x == e.endpoint))
            })
            .cloned()
        else {
            return Err(ModelError::Invalid(format!(
                "relation \"{a} {b}\" not found"
            )));
        };
        if let Some(r) = self.st.model.relations.iter_mut().find(|r| r.id == rel.id) {
            r.dying = true;
        }
        for end in &rel.endpoints {
            let remote_app = rel.remote_app(&end.app).unwrap_or_default().to_owned();
            for unit in self.st.app_units(&end.app) {
                for remote in self.st.app_units(&remote_app) {
                    let mut ctx = HookContext::hook(format!("{}-relation-departed", end.endpoint));
                    ctx.relation = Some((rel.id, end.endpoint.clone()));
                    ctx.remote_app = Some(remote_app.clone());
                    ctx.remote_unit = Some(remote.clone());
                    ctx.departing_unit = Some(remote.clone());
                    self.push(&unit, ctx);
                }
            }
        }
        self.settle_departures(&rel)?;
        for end in &rel.endpoints {
            let remote_app = rel.remote_app(&end.app).unwrap_or_default().to_owned();
            for unit in self.st.app_units(&end.app) {
                let mut ctx = HookContext::hook(format!("{}-relation-broken", end.endpoint));
                ctx.relation = Some((rel.id, end.endpoint.clone()));
                ctx.remote_app = Some(remote_app.clone());
                self.push(&unit, ctx);
            }
        }
        self.settle()?;
        self.st.model.relations.retain(|r| r.id != rel.id);
        self.save()
    }

    /// Runs the queued departed hooks (each departing unit leaves `relation-list` just
    /// before its hook runs, in [`Self::run_one`]).
    pub(super) fn settle_departures(&mut self, _rel: &Relation) -> Result<()> {
        self.settle()
    }
}
