//! Every retry and error path of the Kubernetes access on the real API server, with faults
//! injected by the kube-testbed proxy: 409 (injected and real), 422, 429 with Retry-After,
//! 500/503, 403 (real RBAC of an untrusted Juju app), 404, a delay past the hook's budget and
//! dropped connections. One cluster for the binary; one namespace per case.

mod k8s_support;

use std::error::Error as _;
use std::time::{Duration, Instant};

use juju_charm::k8s::{Failure, Kube, KubeError};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_support::{
    Bed, TestResult, create_juju_statefulset, fast_policy, kube, names, plan_add, run,
};
use kube::Api;
use kube::api::{Patch, PatchParams};
use kube_testbed::{Action, Rule, RuleId, Verb};
use serde_json::json;

const BUDGET: Duration = Duration::from_secs(20);
const APP: &str = "qbittorrent";

#[test]
fn faults_on_a_real_api_server() -> TestResult {
    let bed = Bed::start()?;
    conflicts_re_read_and_re_plan(&bed)?;
    invalid_is_final_with_the_servers_message(&bed)?;
    throttling_and_server_errors_are_retried(&bed)?;
    forbidden_tells_the_operator_to_trust(&bed)?;
    not_found_is_distinguishable(&bed)?;
    budget_and_dropped_connections(&bed)?;
    a_write_that_timed_out_is_retried_safely(&bed)?;
    Ok(())
}

/// The full error text, sources included (what the run loop logs).
fn chain(error: &KubeError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text = format!("{text}: {e}");
        source = e.source();
    }
    text
}

fn config_map(name: &str) -> TestResult<ConfigMap> {
    Ok(serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
        "data": {"settings.sh": "VXLAN_ID=\"42\"\n"}
    }))?)
}

fn conflicts_re_read_and_re_plan(bed: &Bed) -> TestResult {
    let ns = "conflicts";
    bed.cluster.create_namespace(ns)?;
    run(async {
        let admin = bed.cluster.admin_client().await?;
        create_juju_statefulset(&admin, ns, APP).await?;
        let kube = kube(&bed.admin_via_proxy, ns, BUDGET, fast_policy()).await?;
        let statefulsets = kube.api::<StatefulSet>();

        // An injected 409 on the patch: GET, PATCH(409), GET, PATCH.
        bed.proxy.clear_log();
        let rule = one_conflict_on_the_next_patch(bed);
        let mut plans = 0;
        let mut inner = plan_add(APP, "11111111");
        let outcome = statefulsets
            .patch(APP, |live: &StatefulSet| {
                plans += 1;
                inner(live)
            })
            .await?;
        assert!(outcome.written());
        assert_eq!((plans, bed.proxy.hits(rule)), (2, 1));
        let statuses: Vec<_> = bed.proxy.log().iter().map(|r| (r.verb, r.status)).collect();
        assert_eq!(
            statuses,
            [
                (Some(Verb::Get), Some(200)),
                (Some(Verb::Patch), Some(409)),
                (Some(Verb::Get), Some(200)),
                (Some(Verb::Patch), Some(200)),
            ]
        );
        bed.proxy.disarm(rule);

        // A real conflict: someone writes between our GET and our PATCH, so the server refuses
        // our resourceVersion; we re-read (seeing their change) and re-plan.
        let mut plans = 0;
        let mut inner = plan_add(APP, "22222222");
        let outcome = statefulsets
            .patch(APP, |live: &StatefulSet| {
                plans += 1;
                if plans == 1 {
                    let patch = json!({"metadata": {"annotations": {"someone": "else"}}});
                    let written = bed.cluster.with_admin(|c| async move {
                        Api::<StatefulSet>::namespaced(c, ns)
                            .patch(APP, &PatchParams::default(), &Patch::Merge(&patch))
                            .await
                            .map(drop)
                            .map_err(|e| kube_testbed::Error::Api {
                                step: "concurrent write".into(),
                                source: Box::new(e),
                            })
                    });
                    assert!(written.is_ok(), "{written:?}");
                }
                inner(live)
            })
            .await?;
        assert_eq!(plans, 2);
        let live = outcome.into_inner();
        assert_eq!(
            live.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("someone"))
                .map(String::as_str),
            Some("else")
        );
        assert_eq!(
            names(&live, "containers"),
            ["vpn-route-sidecar", "charm", "workload"]
        );

        json_patches_re_read_and_skip_what_holds(bed, &kube).await?;

        // Conflicts that never end: bounded, then an error saying Juju will retry.
        let rule = bed.proxy.arm(
            Rule::new(Action::status(409))
                .verb(Verb::Patch)
                .resource("statefulsets"),
        );
        let error = statefulsets
            .patch(APP, plan_add(APP, "33333333"))
            .await
            .err()
            .ok_or("expected an error")?;
        assert!(
            matches!(
                &error,
                KubeError::PatchObject {
                    source: Failure::Conflict { attempts: 4 },
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(
            chain(&error).contains("Juju will retry the hook"),
            "{}",
            chain(&error)
        );
        assert_eq!(bed.proxy.hits(rule), 4);
        bed.proxy.disarm(rule);
        TestResult::Ok(())
    })
}

/// Arms one injected 409 on the next StatefulSet patch.
fn one_conflict_on_the_next_patch(bed: &Bed) -> RuleId {
    bed.proxy.arm(
        Rule::new(Action::status(409))
            .verb(Verb::Patch)
            .resource("statefulsets")
            .times(1),
    )
}

/// The same write on the object decoded as JSON (a `view` of it): a 409 is re-read and
/// re-planned too, and an object that already holds the patch is not written.
async fn json_patches_re_read_and_skip_what_holds(bed: &Bed, kube: &Kube) -> TestResult {
    let statefulsets = kube.api::<StatefulSet>().view::<serde_json::Value>();
    let rule = one_conflict_on_the_next_patch(bed);
    let mut plans = 0;
    let outcome = statefulsets
        .patch(APP, |live| {
            plans += 1;
            let version = live["metadata"]["resourceVersion"].as_str()?;
            (live["metadata"]["annotations"]["json"] != "1").then(|| {
                json!({"metadata": {"resourceVersion": version,
                                    "annotations": {"json": "1"}}})
            })
        })
        .await?;
    assert!(outcome.written());
    assert_eq!((plans, bed.proxy.hits(rule)), (2, 1));
    assert_eq!(outcome.into_inner()["metadata"]["annotations"]["json"], "1");
    bed.proxy.disarm(rule);
    let again = statefulsets
        .patch(APP, |live| {
            (live["metadata"]["annotations"]["json"] != "1").then(|| json!({}))
        })
        .await?;
    assert!(!again.written());
    assert_eq!(again.into_inner()["metadata"]["name"], APP);
    Ok(())
}

fn invalid_is_final_with_the_servers_message(bed: &Bed) -> TestResult {
    let ns = "invalid";
    bed.cluster.create_namespace(ns)?;
    run(async {
        let admin = bed.cluster.admin_client().await?;
        create_juju_statefulset(&admin, ns, APP).await?;
        let kube = kube(&bed.admin_via_proxy, ns, BUDGET, fast_policy()).await?;
        let statefulsets = kube.api::<StatefulSet>();

        // Injected 422: not retried.
        let rule = bed.proxy.arm(
            Rule::new(Action::status(422))
                .verb(Verb::Patch)
                .resource("statefulsets")
                .times(1),
        );
        let error = statefulsets
            .patch(APP, plan_add(APP, "0badcafe"))
            .await
            .err()
            .ok_or("expected an error")?;
        match &error {
            KubeError::PatchObject {
                source:
                    Failure::Rejected {
                        code,
                        reason,
                        message,
                    },
                ..
            } => {
                assert_eq!((*code, reason.as_str()), (422, "Invalid"));
                assert!(message.contains("is invalid"), "{message}");
            }
            other => return Err(format!("unexpected {other:?}").into()),
        }
        assert_eq!(bed.proxy.hits(rule), 1);

        // A real 422 from the 1.20 server's validation (a bad container name), not retried.
        bed.proxy.clear_log();
        let error = statefulsets.patch(APP, |live: &StatefulSet| {
                Some(json!({
                    "metadata": {"resourceVersion": live.metadata.resource_version},
                    "spec": {"template": {"spec": {"containers": [{"name": "Bad_Name", "image": "x"}]}}}
                }))
            })
            .await
            .err()
            .ok_or("expected an error")?;
        assert!(
            matches!(
                &error,
                KubeError::PatchObject {
                    source: Failure::Rejected { code: 422, .. },
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(chain(&error).contains("Bad_Name"), "{}", chain(&error));
        assert_eq!(bed.proxy.writes().len(), 1);
        TestResult::Ok(())
    })
}

fn throttling_and_server_errors_are_retried(bed: &Bed) -> TestResult {
    let ns = "throttled";
    bed.cluster.create_namespace(ns)?;
    run(async {
        let kube = kube(&bed.admin_via_proxy, ns, BUDGET, fast_policy()).await?;
        let config_maps = kube.api::<ConfigMap>();

        // 429 twice on the GET, with Retry-After: 1 capped to the policy's 150 ms.
        let rule = bed.proxy.arm(
            Rule::new(Action::status(429))
                .verb(Verb::Get)
                .resource("configmaps")
                .times(2),
        );
        let started = Instant::now();
        let created = config_maps
            .apply_if_changed(&config_map("cm-429")?, |_, _| false)
            .await?;
        assert!(created.written());
        assert_eq!(bed.proxy.hits(rule), 2);
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(2),
            "Retry-After must be honoured but capped: {elapsed:?}"
        );

        // 500 twice on the server-side apply: three PATCHes, success.
        bed.proxy.clear_log();
        let rule = bed.proxy.arm(
            Rule::new(Action::status(500))
                .verb(Verb::Patch)
                .resource("configmaps")
                .times(2),
        );
        assert!(
            config_maps
                .apply_if_changed(&config_map("cm-500")?, |_, _| false)
                .await?
                .written()
        );
        assert_eq!(bed.proxy.hits(rule), 2);
        assert_eq!(bed.proxy.writes().len(), 3);

        // 503 for ever: bounded attempts, then an error naming the step.
        let rule = bed.proxy.arm(
            Rule::new(Action::status(503))
                .verb(Verb::Get)
                .resource("configmaps"),
        );
        let error = config_maps
            .get("cm-500")
            .await
            .err()
            .ok_or("expected an error")?;
        assert!(
            matches!(
                &error,
                KubeError::GetObject {
                    source: Failure::GaveUp { attempts: 4, .. },
                    ..
                }
            ),
            "{error:?}"
        );
        let text = chain(&error);
        assert!(
            text.starts_with("cannot read configmaps \"cm-500\""),
            "{text}"
        );
        assert!(
            text.contains("503") && text.contains("Juju will retry the hook"),
            "{text}"
        );
        assert_eq!(bed.proxy.hits(rule), 4);
        bed.proxy.disarm(rule);
        TestResult::Ok(())
    })
}

fn forbidden_tells_the_operator_to_trust(bed: &Bed) -> TestResult {
    let ns = "untrusted";
    let app = "gluetun";
    bed.cluster.create_namespace(ns)?;
    let identity = bed.cluster.add_app(ns, app)?;
    let via_proxy = identity.kubeconfig_for_server(&bed.proxy.url(), None, "proxy")?;
    run(async {
        let admin = bed.cluster.admin_client().await?;
        create_juju_statefulset(&admin, ns, app).await?;
        let kube = kube(&via_proxy, ns, BUDGET, fast_policy()).await?;
        let statefulsets = kube.api::<StatefulSet>();
        let config_maps = kube.api::<ConfigMap>();

        // The real RBAC answer of an untrusted Juju app: 403 on the StatefulSet read.
        bed.proxy.clear_log();
        let error = statefulsets
            .patch(app, plan_add(app, "0badcafe"))
            .await
            .err()
            .ok_or("expected an error")?;
        match &error {
            KubeError::Forbidden {
                verb,
                resource,
                name,
                application,
                ..
            } => {
                assert_eq!(
                    (
                        verb.as_str(),
                        resource.as_str(),
                        name.as_str(),
                        application.as_str()
                    ),
                    ("get", "statefulsets.apps", app, app)
                );
            }
            other => return Err(format!("unexpected {other:?}").into()),
        }
        assert!(error.is_forbidden());
        let text = error.to_string();
        assert!(
            text.contains("--trust") && text.contains("juju trust gluetun --scope=cluster"),
            "{text}"
        );
        assert!(text.contains("cannot get statefulsets.apps"), "{text}");
        assert_eq!(bed.proxy.log().len(), 1, "403 is not retried");

        // Owned objects: the GET is refused as well.
        let error = config_maps
            .apply_if_changed(&config_map("gluetun-gateway-settings")?, |_, _| false)
            .await
            .err()
            .ok_or("expected an error")?;
        assert!(
            matches!(&error, KubeError::Forbidden { verb, resource, .. } if verb == "get" && resource == "configmaps"),
            "{error:?}"
        );

        // `juju trust`: the same calls now work at once.
        bed.cluster.trust(ns, app)?;
        assert!(
            statefulsets
                .patch(app, plan_add(app, "0badcafe"))
                .await?
                .written()
        );
        assert!(
            config_maps
                .apply_if_changed(&config_map("gluetun-gateway-settings")?, |_, _| false)
                .await?
                .written()
        );
        TestResult::Ok(())
    })
}

fn not_found_is_distinguishable(bed: &Bed) -> TestResult {
    let ns = "missing";
    bed.cluster.create_namespace(ns)?;
    run(async {
        let kube = kube(&bed.admin_via_proxy, ns, BUDGET, fast_policy()).await?;
        let statefulsets = kube.api::<StatefulSet>();
        let config_maps = kube.api::<ConfigMap>();
        assert!(statefulsets.get(APP).await?.is_none());
        let error = statefulsets
            .patch(APP, plan_add(APP, "0badcafe"))
            .await
            .err()
            .ok_or("expected an error")?;
        assert!(error.is_not_found(), "{error:?}");
        assert!(!config_maps.delete("never-there").await?);
        // A 404 injected on the apply itself (e.g. the namespace vanished) is NotFound too.
        let rule = bed.proxy.arm(
            Rule::new(Action::status(404))
                .verb(Verb::Patch)
                .resource("configmaps")
                .times(1),
        );
        let error = config_maps
            .apply_if_changed(&config_map("cm")?, |_, _| false)
            .await
            .err()
            .ok_or("expected an error")?;
        assert!(error.is_not_found(), "{error:?}");
        assert_eq!(bed.proxy.hits(rule), 1);
        TestResult::Ok(())
    })
}

fn budget_and_dropped_connections(bed: &Bed) -> TestResult {
    let ns = "slow";
    bed.cluster.create_namespace(ns)?;
    run(async {
        // The server answers only after 5 s; the hook's budget is 1 s.
        let rule = bed.proxy.arm(
            Rule::new(Action::delay(Duration::from_secs(5)))
                .verb(Verb::Get)
                .resource("configmaps"),
        );
        let kube = kube(
            &bed.admin_via_proxy,
            ns,
            Duration::from_secs(1),
            fast_policy(),
        )
        .await?;
        let config_maps = kube.api::<ConfigMap>();
        let started = Instant::now();
        let error = config_maps
            .get("cm")
            .await
            .err()
            .ok_or("expected an error")?;
        let elapsed = started.elapsed();
        assert!(elapsed < Duration::from_millis(1800), "{elapsed:?}");
        assert!(
            matches!(
                &error,
                KubeError::GetObject {
                    source: Failure::GaveUp { .. } | Failure::BudgetExhausted,
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(
            chain(&error).contains("Juju will retry the hook"),
            "{}",
            chain(&error)
        );
        // The budget is spent: the next call fails at once, without a request.
        bed.proxy.clear_log();
        let error = config_maps
            .get("cm")
            .await
            .err()
            .ok_or("expected an error")?;
        assert!(
            matches!(
                &error,
                KubeError::GetObject {
                    source: Failure::BudgetExhausted,
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(bed.proxy.log().is_empty());
        bed.proxy.disarm(rule);

        // One dropped connection: retried, then success.
        let kube = kube_for(bed, ns).await?;
        let config_maps = kube.api::<ConfigMap>();
        let rule = bed.proxy.arm(
            Rule::new(Action::Drop)
                .verb(Verb::Get)
                .resource("configmaps")
                .times(1),
        );
        assert!(config_maps.get("cm").await?.is_none());
        assert_eq!(bed.proxy.hits(rule), 1);

        // Dropped for ever: bounded, then an error.
        let rule = bed.proxy.arm(
            Rule::new(Action::Drop)
                .verb(Verb::Get)
                .resource("configmaps"),
        );
        let error = config_maps
            .get("cm")
            .await
            .err()
            .ok_or("expected an error")?;
        assert!(
            matches!(
                &error,
                KubeError::GetObject {
                    source: Failure::GaveUp { attempts: 4, .. },
                    ..
                }
            ),
            "{error:?}"
        );
        assert_eq!(bed.proxy.hits(rule), 4);
        bed.proxy.disarm(rule);
        TestResult::Ok(())
    })
}

async fn kube_for(bed: &Bed, ns: &str) -> TestResult<juju_charm::k8s::Kube> {
    kube(&bed.admin_via_proxy, ns, BUDGET, fast_policy()).await
}

/// The PATCH is held back by the proxy past our request timeout: we resend the same patch
/// (same resourceVersion precondition, so had the first one landed, the resend would get 409
/// and re-plan from a fresh read). The StatefulSet ends up with our items exactly once and
/// Juju's untouched, and the next reconcile writes nothing. (This proxy drops a held request
/// whose client went away, so here the resend is the write that lands.)
fn a_write_that_timed_out_is_retried_safely(bed: &Bed) -> TestResult {
    let ns = "late-write";
    bed.cluster.create_namespace(ns)?;
    run(async {
        let admin = bed.cluster.admin_client().await?;
        create_juju_statefulset(&admin, ns, APP).await?;
        let policy = juju_charm::k8s::RetryPolicy {
            request_timeout: Duration::from_secs(1),
            ..fast_policy()
        };
        let kube = kube(&bed.admin_via_proxy, ns, BUDGET, policy).await?;
        let statefulsets = kube.api::<StatefulSet>();
        bed.proxy.clear_log();
        let rule = bed.proxy.arm(
            Rule::new(Action::delay(Duration::from_secs(2)))
                .verb(Verb::Patch)
                .resource("statefulsets")
                .times(1),
        );
        statefulsets.patch(APP, plan_add(APP, "0badcafe")).await?;
        assert_eq!(bed.proxy.hits(rule), 1);
        // Bounded wait until the held-back request has been answered (it was held 2 s; if the
        // proxy dropped it with our closed connection, its status stays unset).
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let delayed = bed.proxy.log().into_iter().find(|r| r.rule == Some(rule));
            if delayed.as_ref().is_some_and(|r| r.status.is_some()) || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await; // bounded polling
        }
        let live = Api::<StatefulSet>::namespaced(admin.clone(), ns)
            .get(APP)
            .await?;
        assert_eq!(
            names(&live, "initContainers"),
            ["vpn-route-init", "charm-init"]
        );
        assert_eq!(
            names(&live, "containers"),
            ["vpn-route-sidecar", "charm", "workload"]
        );
        assert_eq!(
            names(&live, "volumes"),
            ["pod-gateway-config", "charm-data"]
        );
        // And the next reconcile finds everything in place.
        bed.proxy.clear_log();
        assert!(
            !statefulsets
                .patch(APP, plan_add(APP, "0badcafe"))
                .await?
                .written()
        );
        assert!(bed.proxy.writes().is_empty());
        TestResult::Ok(())
    })
}
