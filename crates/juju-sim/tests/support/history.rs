//! Reading the model's hook history, shared by the shell-charm tests.

use juju_sim::model::Model;

/// Hook names run by `unit` since history index `from`.
pub fn hooks_since(model: &Model, unit: &str, from: usize) -> Vec<String> {
    model.history()[from..]
        .iter()
        .filter(|r| r.unit == unit)
        .map(|r| r.hook.clone())
        .collect()
}
