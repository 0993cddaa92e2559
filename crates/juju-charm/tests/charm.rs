//! The skeleton's runtime (`juju_charm::charm`): a charm declared with `charm!` from rooms of
//! its own runs gather → plan → apply once per hook, nothing on teardown, its statuses folded
//! with apply's first, the default action refusing what it does not know, and a failure
//! anywhere retried with no status set. `render`'s file reading is bounded and names the file.
// The rooms' functions are async because `charm!` awaits them; these do no I/O.
#![allow(clippy::unused_async)]

use std::cell::RefCell;
use std::sync::Arc;

use juju_charm::charm::hook;
use juju_charm::juju::KubeSettings;
use juju_charm::run::{Outcome, run_hook_with};
use juju_charm::tools::fake::RecordingRunner;
use juju_charm::{Charm, Context, Status, Tools};

thread_local! {
    /// What the rooms did, in order.
    static STEPS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

fn step(name: &str) {
    STEPS.with(|s| s.borrow_mut().push(name.to_owned()));
}

fn steps() -> Vec<String> {
    STEPS.with(|s| s.borrow_mut().drain(..).collect())
}

/// The test charm's inputs: the statuses its plan finds and apply reports, and where it fails.
#[derive(Debug, Default, Clone)]
struct Script {
    planned: Vec<Status>,
    applied: Vec<Status>,
    fail_gather: bool,
}

thread_local! {
    static SCRIPT: RefCell<Script> = RefCell::new(Script::default());
}

mod constants {
    use std::time::Duration;

    pub const FIELD_MANAGER: &str = "test-charm";
    pub const KUBE_BUDGET: Duration = Duration::from_secs(1);
}

mod inputs {
    pub type Inputs = super::Script;
}

mod gather {
    use juju_charm::{Hook, Juju};

    #[derive(Debug, thiserror::Error)]
    #[error("gather failed")]
    pub struct GatherError;

    pub async fn gather(_: &mut Juju, _: &Hook) -> Result<super::Script, GatherError> {
        super::step("gather");
        let script = super::SCRIPT.with(|s| s.borrow().clone());
        if script.fail_gather {
            return Err(GatherError);
        }
        Ok(script)
    }
}

mod plan {
    use juju_charm::{Planned, Status};

    #[derive(Debug)]
    pub struct Plan {
        pub statuses: Vec<Status>,
        pub applied: Vec<Status>,
    }

    impl Planned for Plan {
        fn statuses(&self) -> &[Status] {
            &self.statuses
        }

        fn writes_nothing(&self) -> bool {
            true
        }
    }

    pub fn plan(inputs: &super::Script) -> Plan {
        super::step("plan");
        Plan {
            statuses: inputs.planned.clone(),
            applied: inputs.applied.clone(),
        }
    }
}

mod apply {
    use juju_charm::{Juju, Status};

    #[derive(Debug, thiserror::Error)]
    #[error("apply failed")]
    pub struct ApplyError;

    pub async fn apply(_: &mut Juju, plan: &super::plan::Plan) -> Result<Vec<Status>, ApplyError> {
        super::step("apply");
        Ok(plan.applied.clone())
    }
}

mod render {
    #[derive(Debug, argh::FromArgs)]
    /// render
    #[argh(subcommand, name = "render")]
    pub struct RenderArgs {}

    #[derive(Debug, thiserror::Error)]
    #[error("render refused")]
    pub struct RenderError;

    pub fn inputs(_: &RenderArgs) -> Result<super::Script, RenderError> {
        Err(RenderError)
    }

    pub fn output(
        _: &super::Script,
        _: &super::plan::Plan,
    ) -> Result<serde_json::Value, RenderError> {
        Err(RenderError)
    }
}

juju_charm::charm! {
    /// A charm of the rooms above.
    struct TestCharm;
}

fn run(path: &str, script: Script) -> (Outcome, Arc<RecordingRunner>) {
    SCRIPT.with(|s| *s.borrow_mut() = script);
    let fake = Arc::new(RecordingRunner::new());
    fake.reply("is-leader", "false");
    let ctx = Context::from_vars([
        ("JUJU_DISPATCH_PATH", path),
        ("JUJU_UNIT_NAME", "test/0"),
        ("JUJU_MODEL_NAME", "m"),
    ]);
    let settings = KubeSettings {
        field_manager: TestCharm::FIELD_MANAGER,
        budget: TestCharm::KUBE_BUDGET,
    };
    let outcome = run_hook_with(ctx, Tools::new(fake.clone()), settings, hook::<TestCharm>);
    (outcome, fake)
}

fn status_sets(fake: &RecordingRunner) -> Vec<Vec<String>> {
    fake.argvs()
        .into_iter()
        .filter(|argv| argv[0] == "status-set")
        .collect()
}

#[test]
fn a_hook_runs_the_rooms_once_in_order_and_sets_the_folded_status() {
    let script = Script {
        planned: vec![Status::active("ready"), Status::waiting("from the plan")],
        applied: vec![Status::waiting("from apply")],
        fail_gather: false,
    };
    let (outcome, fake) = run("hooks/config-changed", script);
    assert_eq!(outcome, Outcome::Done);
    assert_eq!(steps(), ["gather", "plan", "apply"]);
    // Within a level the first wins: what apply found comes before the plan's.
    assert_eq!(
        status_sets(&fake),
        [[
            "status-set",
            "--application=False",
            "waiting",
            "--",
            "from apply"
        ]]
    );
}

#[test]
fn a_more_severe_plan_status_beats_what_apply_found() {
    let script = Script {
        planned: vec![Status::blocked("set vpn-provider")],
        applied: vec![Status::waiting("from apply")],
        fail_gather: false,
    };
    let (_, fake) = run("hooks/update-status", script);
    steps();
    assert_eq!(
        status_sets(&fake),
        [[
            "status-set",
            "--application=False",
            "blocked",
            "--",
            "set vpn-provider"
        ]]
    );
}

#[test]
fn teardown_runs_no_room_and_sets_nothing() {
    for path in ["hooks/stop", "hooks/remove"] {
        let (outcome, fake) = run(path, Script::default());
        assert_eq!(outcome, Outcome::Done, "{path}");
        assert!(steps().is_empty(), "{path}");
        assert!(fake.argvs().is_empty(), "{path}: {:?}", fake.argvs());
    }
}

#[test]
fn an_unknown_action_fails_the_action_not_the_hook() {
    let (outcome, fake) = run("actions/do-something", Script::default());
    assert_eq!(outcome, Outcome::Done);
    assert!(steps().is_empty());
    assert_eq!(
        fake.argvs(),
        [["action-fail", "--", "unknown action do-something"]]
    );
}

#[test]
fn a_failed_read_retries_the_hook_with_no_status() {
    let script = Script {
        planned: vec![Status::active("never set")],
        fail_gather: true,
        ..Script::default()
    };
    let (outcome, fake) = run("hooks/config-changed", script);
    assert_eq!(outcome, Outcome::Retry);
    assert_eq!(steps(), ["gather"]);
    assert!(status_sets(&fake).is_empty());
}

#[test]
fn render_refusal_is_the_charms_error() {
    let err = juju_charm::render::run::<TestCharm>(&render::RenderArgs {}).unwrap_err();
    assert_eq!(err.to_string(), "render refused");
}

#[test]
fn render_inputs_are_bounded_and_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.json");
    let file = std::fs::File::create(&big).unwrap();
    file.set_len(juju_charm::render::MAX_INPUT_BYTES + 1)
        .unwrap();
    let err = juju_charm::render::read_file(&big).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{} is larger than 4194304 bytes", big.display())
    );
    let yaml = dir.path().join("sts.yaml");
    std::fs::write(&yaml, "kind: StatefulSet\n").unwrap();
    let err =
        juju_charm::render::read_json::<serde_json::Value>(&yaml, "a StatefulSet").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{} is not a StatefulSet in JSON", yaml.display())
    );
    // A device never ends: the read stops at the bound.
    let err = juju_charm::render::read_file(std::path::Path::new("/dev/zero")).unwrap_err();
    assert!(
        matches!(err, juju_charm::render::InputError::TooLarge { .. }),
        "{err}"
    );
    let missing = dir.path().join("absent.json");
    assert!(matches!(
        juju_charm::render::read_file(&missing),
        Err(juju_charm::render::InputError::Read { .. })
    ));
}
