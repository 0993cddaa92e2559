//! Faults on API traffic: each application's hooks reach the API server through its own
//! [`kube_testbed::FaultProxy`], on which the persisted [`Fault`]s are armed; what the proxies
//! and the workload endpoints counted (fault hits, requests seen) is folded back into the state.

use std::path::{Path, PathBuf};
use std::sync::PoisonError;

use super::error::{Result, cluster_err};
use super::running::Model;
use super::sim_state::Fault;

impl Model {
    /// The application's proxy: its https URL and the CA to trust.
    pub(super) fn proxy_for(&mut self, app: &str) -> Result<(String, Option<PathBuf>)> {
        if !self.proxies.contains_key(app) {
            // The TLS side, with the API server's CA, as Juju gives a charm (in-cluster: https
            // and the service account's ca.crt). Over plain HTTP kube would find no CA and load
            // the host's whole trust store in every hook, which Juju never makes it do.
            let cluster_dir = self.admin_kubeconfig.parent().unwrap_or(Path::new("."));
            let proxy = kube_testbed::FaultProxy::start_in(cluster_dir).map_err(cluster_err)?;
            for (i, f) in self.st.faults.iter().enumerate() {
                if f.app == app && f.rule.times != Some(0) {
                    let id = proxy.arm(f.rule.clone());
                    self.proxy_rules.push((i, app.to_owned(), id));
                }
            }
            self.proxies.insert(app.to_owned(), proxy);
        }
        let proxy = self.proxies.get(app);
        Ok((
            proxy.and_then(|p| p.https_url()).unwrap_or_default(),
            proxy.and_then(|p| p.ca().map(Path::to_path_buf)),
        ))
    }

    /// Counts fault hits into the persisted rules (a rule with `times` counts down).
    pub(super) fn collect_proxy_state(&mut self) {
        for (i, app, id) in std::mem::take(&mut self.proxy_rules) {
            let hits = self.proxies.get(&app).map_or(0, |p| p.hits(id));
            if let Some(f) = self.st.faults.get_mut(i)
                && let Some(t) = f.rule.times.as_mut()
            {
                *t = t.saturating_sub(u32::try_from(hits).unwrap_or(u32::MAX));
            }
        }
        for shared in self.shared.values() {
            let mut s = shared.lock().unwrap_or_else(PoisonError::into_inner);
            self.st.workload_requests.append(&mut s.requests);
        }
    }

    /// Arms a fault on `app`'s API traffic (persisted; counts down across commands).
    pub fn fault(&mut self, app: &str, rule: kube_testbed::Rule) -> Result<()> {
        self.st.faults.push(Fault {
            app: app.to_owned(),
            rule: rule.clone(),
        });
        if let Some(p) = self.proxies.get(app) {
            let id = p.arm(rule);
            self.proxy_rules
                .push((self.st.faults.len() - 1, app.to_owned(), id));
        }
        self.save()
    }

    /// Clears the faults of `app`.
    pub fn clear_faults(&mut self, app: &str) -> Result<()> {
        self.collect_proxy_state();
        self.st.faults.retain(|f| f.app != app);
        if let Some(p) = self.proxies.get(app) {
            p.clear_rules();
        }
        self.proxy_rules.retain(|(_, a, _)| a != app);
        self.save()
    }
}
