//! Relation hook tools: `relation-ids`, `relation-list`, `relation-get`, `relation-set`.
//!
//! Argv as in ops `ops/hookcmds/_relation.py`. Relation data from the other side is untrusted
//! (it may come from another model): it is returned as plain strings for the caller to validate.

use std::collections::BTreeMap;

use super::{OutputError, Stream, ToolError, Tools, argv, parse_json};

/// A relation's data bag: keys to string values.
pub type Databag = BTreeMap<String, String>;

/// Largest `relation-get` answer parsed: 512 KiB, checked on the raw output before any JSON
/// is parsed. A bag holds the interface's keys, plus on unit bags the few addresses Juju adds
/// (`ingress-address`, `egress-subnets`, `private-address`). The largest value our interfaces
/// define is vpn-gateway's `config`, at most 64 KiB (`vpn_gateway_iface::wire::MAX_CONFIG_BYTES`),
/// which JSON escaping (`\u00XX`, what Go's encoder writes for `<`, `>`, `&` and control
/// characters) can grow at most six-fold: 384 KiB. A larger bag is no value the interfaces
/// accept; refusing it unparsed keeps a remote application (the other side of a relation,
/// possibly in another model) from making every hook parse megabytes of JSON.
pub const MAX_DATABAG_BYTES: usize = 512 * 1024;

impl Tools {
    /// The ids of the relations on `endpoint`.
    ///
    /// `relation-ids <endpoint> --format=json` prints `["<endpoint>:<id>", ...]`; ops keeps the
    /// number after the last `:`.
    pub fn relation_ids(&self, endpoint: &str) -> Result<Vec<u64>, ToolError> {
        const TOOL: &str = "relation-ids";
        let ids: Vec<String> = self.run_json(TOOL, &argv([endpoint, "--format=json"]))?;
        ids.iter()
            .map(|raw| {
                raw.rsplit(':')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| ToolError::BadOutput {
                        tool: TOOL.to_owned(),
                        source: OutputError::Unexpected(format!("relation id {raw:?}")),
                    })
            })
            .collect()
    }

    /// The remote units in relation `id`: `relation-list --format=json -r <id>`.
    pub fn relation_list(&self, id: u64) -> Result<Vec<String>, ToolError> {
        let units: Option<Vec<String>> = self.run_json(
            "relation-list",
            &argv(["--format=json".to_owned(), "-r".to_owned(), id.to_string()]),
        )?;
        Ok(units.unwrap_or_default())
    }

    /// The remote application of relation `id`, if Juju knows it yet:
    /// `relation-list --format=json --app -r <id>` (what ops uses when the hook's
    /// `JUJU_REMOTE_APP` is about another relation).
    pub fn relation_remote_app(&self, id: u64) -> Result<Option<String>, ToolError> {
        let app: Option<String> = self.run_json(
            "relation-list",
            &argv([
                "--format=json".to_owned(),
                "--app".to_owned(),
                "-r".to_owned(),
                id.to_string(),
            ]),
        )?;
        Ok(app.filter(|a| !a.is_empty()))
    }

    /// A unit's data bag in relation `id`: `relation-get --format=json -r <id> - <unit>`.
    pub fn relation_get(&self, id: u64, unit: &str) -> Result<Databag, ToolError> {
        self.relation_get_bag(id, unit, false)
    }

    /// An application's data bag in relation `id`:
    /// `relation-get --format=json -r <id> --app - <app>`. Reading our own application bag
    /// needs leadership (Juju answers `permission denied` otherwise).
    pub fn relation_get_app(&self, id: u64, app: &str) -> Result<Databag, ToolError> {
        self.relation_get_bag(id, app, true)
    }

    /// Refuses an answer over [`MAX_DATABAG_BYTES`] before parsing it.
    fn relation_get_bag(&self, id: u64, member: &str, app: bool) -> Result<Databag, ToolError> {
        const TOOL: &str = "relation-get";
        let mut args = argv(["--format=json".to_owned(), "-r".to_owned(), id.to_string()]);
        if app {
            args.push("--app".to_owned());
        }
        args.extend(argv(["-", member]));
        let stdout = self.run(TOOL, &args)?;
        if stdout.len() > MAX_DATABAG_BYTES {
            return Err(ToolError::OutputTooLarge {
                tool: TOOL.to_owned(),
                stream: Stream::Stdout,
                limit: MAX_DATABAG_BYTES,
            });
        }
        // An empty bag may print as `null`.
        let bag: Option<Databag> = parse_json(TOOL, &stdout)?;
        Ok(bag.unwrap_or_default())
    }

    /// Updates our unit's data bag in relation `id` (keys not named are kept; an empty value
    /// deletes its key): `relation-set -r <id> --file -` with the data on stdin.
    pub fn relation_set(&self, id: u64, data: &Databag) -> Result<(), ToolError> {
        self.relation_set_bag(id, data, false)
    }

    /// Updates our application's data bag in relation `id` (leader only):
    /// `relation-set -r <id> --app --file -` with the data on stdin.
    pub fn relation_set_app(&self, id: u64, data: &Databag) -> Result<(), ToolError> {
        self.relation_set_bag(id, data, true)
    }

    fn relation_set_bag(&self, id: u64, data: &Databag, app: bool) -> Result<(), ToolError> {
        const TOOL: &str = "relation-set";
        if data.is_empty() {
            // ops: "at least one key:value pair is required for relation-set".
            return Err(ToolError::InvalidArgument {
                tool: TOOL.to_owned(),
                reason: "at least one key is required".to_owned(),
            });
        }
        let mut args = argv(["-r".to_owned(), id.to_string()]);
        if app {
            args.push("--app".to_owned());
        }
        args.extend(argv(["--file", "-"]));
        // Juju reads `--file` as YAML; ops writes JSON (a subset of YAML in which every string
        // is quoted, so no value is re-typed as a bool or number). Values never reach argv.
        let content = serde_json::to_string(data).map_err(|e| ToolError::InvalidArgument {
            tool: TOOL.to_owned(),
            reason: e.to_string(),
        })?;
        self.runner.run(TOOL, &args, Some(&content)).map(drop)
    }
}
