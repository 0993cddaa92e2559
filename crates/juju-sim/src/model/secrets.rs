//! User secrets from the command line: `add-secret` (the name stored as the secret's label),
//! `grant-secret` to an application, and `update-secret` (a new revision, `secret-changed` on
//! the units tracking it).

use std::collections::BTreeMap;

use crate::runner::HookContext;
use crate::state::{self, Secret, SecretGrant, SecretOwner, SecretRevision};

use super::error::{ModelError, Result};
use super::running::Model;

impl Model {
    /// `juju add-secret NAME K=V...`: a user secret; returns its URI.
    pub fn add_secret(&mut self, name: &str, content: &[(String, String)]) -> Result<String> {
        if self
            .st
            .model
            .secrets
            .values()
            .any(|s| s.owner == SecretOwner::Model && s.label.as_deref() == Some(name))
        {
            return Err(ModelError::Invalid(format!(
                "secret with name \"{name}\" already exists"
            )));
        }
        let id = state::new_secret_id(&mut self.st.model);
        let secret = Secret {
            id: id.clone(),
            owner: SecretOwner::Model,
            label: Some(name.to_owned()),
            consumer_labels: BTreeMap::new(),
            description: None,
            revisions: vec![SecretRevision {
                revision: 1,
                content: content.iter().cloned().collect(),
            }],
            grants: BTreeMap::new(),
            tracked: BTreeMap::new(),
            rotate: None,
            expire: None,
        };
        let uri = secret.uri();
        self.st.model.secrets.insert(id, secret);
        self.save()?;
        Ok(uri)
    }

    fn user_secret_id(&self, name: &str) -> Result<String> {
        self.st
            .model
            .secrets
            .values()
            .find(|s| {
                s.owner == SecretOwner::Model
                    && (s.label.as_deref() == Some(name) || s.uri() == name || s.id == name)
            })
            .map(|s| s.id.clone())
            .ok_or_else(|| ModelError::Invalid(format!("secret \"{name}\" not found")))
    }

    /// `juju grant-secret NAME APP`.
    pub fn grant_secret(&mut self, name: &str, app: &str) -> Result<()> {
        let id = self.user_secret_id(name)?;
        if !self.st.model.applications.contains_key(app) {
            return Err(ModelError::Invalid(format!(
                "application \"{app}\" not found"
            )));
        }
        if let Some(s) = self.st.model.secrets.get_mut(&id) {
            s.grants.insert(
                app.to_owned(),
                SecretGrant {
                    relation_id: None,
                    unit: None,
                },
            );
        }
        self.settle()
    }

    /// `juju update-secret NAME K=V...`: a new revision; `secret-changed` on trackers.
    pub fn update_secret(&mut self, name: &str, content: &[(String, String)]) -> Result<()> {
        let id = self.user_secret_id(name)?;
        let mut trackers = Vec::new();
        if let Some(s) = self.st.model.secrets.get_mut(&id) {
            let revision = s.latest().map_or(1, |r| r.revision + 1);
            s.revisions.push(SecretRevision {
                revision,
                content: content.iter().cloned().collect(),
            });
            for u in s.tracked.keys() {
                trackers.push((u.clone(), s.consumer_labels.get(u).cloned(), revision));
            }
        }
        for (unit, label, rev) in trackers {
            let mut ctx = HookContext::hook("secret-changed");
            ctx.secret = Some((id.clone(), label, Some(rev)));
            self.push(&unit, ctx);
        }
        self.settle()
    }
}
