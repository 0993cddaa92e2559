//! The fault proxy in front of a real API server: every action (status, delay, drop), the
//! `times` count and hit counters, the request log (order, zero writes), name filters, arming
//! from another thread and from another process (the HTTP control endpoint), watches, the TLS
//! side with kube-rs and kubectl.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use kube_testbed::{Action, Cluster, FaultProxy, Rule, Verb, client_for};
use serde_json::json;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn statefulset(name: &str) -> Result<StatefulSet, serde_json::Error> {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
        "spec": {
            "serviceName": name,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": "charm", "image": "busybox"}]}},
        },
    }))
}

fn touch() -> Patch<serde_json::Value> {
    Patch::Merge(json!({"metadata": {"annotations": {"touched": "yes"}}}))
}

/// `(code, reason)` of an API error; `None` on success; `(0, error)` for non-API errors.
fn outcome<T>(r: Result<T, kube::Error>) -> Option<(u16, String)> {
    match r {
        Ok(_) => None,
        Err(kube::Error::Api(s)) => Some((s.code, s.reason)),
        Err(e) => Some((0, e.to_string())),
    }
}

struct Setup {
    cluster: Cluster,
    proxy: FaultProxy,
    client: Client,
    sts: Api<StatefulSet>,
    no_retry_client: Client,
    no_retry: Api<StatefulSet>,
}

/// A client without kube's default retry of 429/503/504.
async fn no_retry_client(
    kubeconfig: &std::path::Path,
) -> Result<Client, Box<dyn std::error::Error>> {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig)?;
    let mut config =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await?;
    config.default_retry = false;
    Ok(Client::try_from(config)?)
}

#[tokio::test(flavor = "current_thread")]
async fn fault_proxy_actions() -> TestResult {
    let cluster = Cluster::start()?;
    let app = cluster.add_app("px", "app")?;
    cluster.trust("px", "app")?;
    let admin = cluster.admin_client().await?;
    let admin_sts: Api<StatefulSet> = Api::namespaced(admin.clone(), "px");
    for name in ["app", "other"] {
        admin_sts
            .create(&PostParams::default(), &statefulset(name)?)
            .await?;
    }
    let proxy = FaultProxy::start(&cluster)?;
    let via_proxy = app.kubeconfig_for_server(&proxy.url(), None, "proxy")?;
    let client = client_for(&via_proxy).await?;
    let sts = Api::default_namespaced(client.clone());
    let no_retry_client = no_retry_client(&via_proxy).await?;
    let no_retry = Api::default_namespaced(no_retry_client.clone());
    let s = Setup {
        cluster,
        proxy,
        client,
        sts,
        no_retry_client,
        no_retry,
    };

    status_answers(&s).await?;
    retry_after_on_429(&s).await?;
    delay_then_forward(&s).await?;
    drop_connection(&s).await?;
    times_and_counters(&s).await?;
    request_log_order_and_zero_writes(&s).await?;
    name_filter(&s).await?;
    armed_from_another_thread(&s).await?;
    control_endpoint_over_http(&s).await?;
    watch_passes_through(&s).await?;
    tls_side_and_kubectl(&s).await?;
    drop(s.proxy);
    drop(s.cluster);
    Ok(())
}

async fn status_answers(s: &Setup) -> TestResult {
    let pp = PatchParams::default();
    for (code, reason) in [
        (409, "Conflict"),
        (500, "InternalError"),
        (403, "Forbidden"),
        (404, "NotFound"),
        (422, "Invalid"),
    ] {
        let rule = s.proxy.arm(
            Rule::new(Action::status(code))
                .verb(Verb::Patch)
                .resource("statefulsets")
                .namespace("px")
                .name("app")
                .times(1),
        );
        assert_eq!(
            outcome(s.sts.patch("app", &pp, &touch()).await),
            Some((code, reason.to_owned()))
        );
        assert_eq!(s.proxy.hits(rule), 1);
        assert_eq!(
            outcome(s.sts.patch("app", &pp, &touch()).await),
            None,
            "rule {code} not used up"
        );
    }
    // A 409 on create is AlreadyExists, as the real server answers.
    s.proxy.arm(
        Rule::new(Action::status(409))
            .verb(Verb::Create)
            .resource("statefulsets")
            .name("new")
            .times(1),
    );
    assert_eq!(
        outcome(
            s.sts
                .create(&PostParams::default(), &statefulset("new")?)
                .await
        ),
        Some((409, "AlreadyExists".to_owned()))
    );
    // The body is a full Status, shaped like the server's.
    s.proxy
        .arm(Rule::new(Action::status(409)).verb(Verb::Update).times(1));
    let current = s.sts.get("app").await?;
    match s.sts.replace("app", &PostParams::default(), &current).await {
        Err(kube::Error::Api(st)) => {
            assert_eq!(
                st.status,
                Some(kube::core::response::StatusSummary::Failure)
            );
            assert!(
                st.message
                    .starts_with("Operation cannot be fulfilled on statefulsets.apps \"app\""),
                "{}",
                st.message
            );
        }
        other => return Err(format!("expected 409, got {other:?}").into()),
    }
    s.proxy.clear_rules();
    Ok(())
}

/// kube 5 clients retry 429, 503 and 504 by themselves (honouring Retry-After): the injected
/// answer is seen by the proxy, the caller gets the retried request's success.
async fn retry_after_on_429(s: &Setup) -> TestResult {
    for (code, reason) in [(429, "TooManyRequests"), (503, "ServiceUnavailable")] {
        s.proxy.clear_log();
        let rule = s.proxy.arm(
            Rule::new(Action::status(code))
                .verb(Verb::Get)
                .name("app")
                .times(1),
        );
        assert_eq!(
            outcome(s.sts.get("app").await),
            None,
            "kube retried after {code}"
        );
        let statuses: Vec<_> = s.proxy.log().iter().map(|r| r.status).collect();
        assert_eq!(statuses, [Some(code), Some(200)]);
        assert_eq!(s.proxy.hits(rule), 1);
        // Without kube's retry layer, the caller sees the answer itself.
        s.proxy.arm(
            Rule::new(Action::status(code))
                .verb(Verb::Get)
                .name("app")
                .times(1),
        );
        assert_eq!(
            outcome(s.no_retry.get("app").await),
            Some((code, reason.to_owned()))
        );
    }
    s.proxy.arm(
        Rule::new(Action::status(429))
            .verb(Verb::Get)
            .resource("statefulsets")
            .times(1),
    );
    let req = hyper::Request::get("/apis/apps/v1/namespaces/px/statefulsets/app")
        .body(kube::client::Body::empty())?;
    let resp = s.no_retry_client.send(req).await?;
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(
        resp.headers()
            .get("retry-after")
            .map(hyper::http::HeaderValue::as_bytes),
        Some(&b"1"[..])
    );
    let body: serde_json::Value = serde_json::from_slice(&resp.into_body().collect_bytes().await?)?;
    assert_eq!(body["details"]["retryAfterSeconds"], 1);
    assert_eq!(body["kind"], "Status");
    s.proxy.clear_rules();
    Ok(())
}

async fn delay_then_forward(s: &Setup) -> TestResult {
    let rule = s.proxy.arm(
        Rule::new(Action::delay(Duration::from_millis(600)))
            .verb(Verb::Get)
            .times(1),
    );
    let started = Instant::now();
    assert_eq!(outcome(s.sts.get("app").await), None);
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(s.proxy.hits(rule), 1);
    let started = Instant::now();
    s.sts.get("app").await?;
    assert!(
        started.elapsed() < Duration::from_millis(600),
        "delay applied twice"
    );
    s.proxy.clear_rules();
    Ok(())
}

async fn drop_connection(s: &Setup) -> TestResult {
    let rule = s.proxy.arm(
        Rule::new(Action::Drop)
            .verb(Verb::Get)
            .resource("statefulsets")
            .times(1),
    );
    let (code, _) = outcome(s.sts.get("app").await).ok_or("a dropped request succeeded")?;
    assert_eq!(code, 0, "a drop is a connection error, not an API answer");
    assert_eq!(s.proxy.hits(rule), 1);
    assert_eq!(outcome(s.sts.get("app").await), None);
    let last = s.proxy.log().into_iter().rev().nth(1).ok_or("no log")?;
    assert_eq!((last.rule, last.status), (Some(rule), None));
    s.proxy.clear_rules();
    Ok(())
}

async fn times_and_counters(s: &Setup) -> TestResult {
    let pods: Api<Pod> = Api::default_namespaced(s.client.clone());
    let before = s.proxy.injected();
    let rule = s.proxy.arm(
        Rule::new(Action::status(500))
            .verb(Verb::List)
            .resource("pods")
            .times(2),
    );
    let lp = ListParams::default();
    assert_eq!(outcome(pods.list(&lp).await).map(|e| e.0), Some(500));
    assert_eq!(outcome(pods.list(&lp).await).map(|e| e.0), Some(500));
    assert_eq!(outcome(pods.list(&lp).await), None);
    assert_eq!(s.proxy.hits(rule), 2);
    assert_eq!(s.proxy.injected() - before, 2);
    s.proxy.clear_rules();
    Ok(())
}

async fn request_log_order_and_zero_writes(s: &Setup) -> TestResult {
    let pods: Api<Pod> = Api::default_namespaced(s.client.clone());
    s.proxy.clear_log();
    s.sts.get("app").await?;
    pods.list(&ListParams::default()).await?;
    assert!(s.proxy.writes().is_empty(), "reads only: zero writes");
    s.sts
        .patch("app", &PatchParams::default(), &touch())
        .await?;
    let log = s.proxy.log();
    let seen: Vec<_> = log
        .iter()
        .map(|r| {
            (
                r.verb,
                r.resource.as_deref(),
                r.namespace.as_deref(),
                r.name.as_deref(),
                r.status,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                Some(Verb::Get),
                Some("statefulsets"),
                Some("px"),
                Some("app"),
                Some(200)
            ),
            (Some(Verb::List), Some("pods"), Some("px"), None, Some(200)),
            (
                Some(Verb::Patch),
                Some("statefulsets"),
                Some("px"),
                Some("app"),
                Some(200)
            ),
        ]
    );
    assert_eq!(s.proxy.writes().len(), 1);
    Ok(())
}

async fn name_filter(s: &Setup) -> TestResult {
    let rule = s
        .proxy
        .arm(Rule::new(Action::status(500)).verb(Verb::Get).name("other"));
    assert_eq!(outcome(s.sts.get("app").await), None);
    assert_eq!(outcome(s.sts.get("other").await).map(|e| e.0), Some(500));
    assert_eq!(
        outcome(s.sts.get("other").await).map(|e| e.0),
        Some(500),
        "no times: every match"
    );
    assert_eq!(s.proxy.hits(rule), 2);
    s.proxy.disarm(rule);
    assert_eq!(outcome(s.sts.get("other").await), None);
    Ok(())
}

async fn armed_from_another_thread(s: &Setup) -> TestResult {
    let control = s.proxy.control();
    let rule = std::thread::spawn(move || {
        control.arm(Rule::new(Action::status(500)).verb(Verb::Get).times(1))
    })
    .join()
    .map_err(|_| "arming thread panicked")?;
    assert_eq!(outcome(s.sts.get("app").await).map(|e| e.0), Some(500));
    assert_eq!(s.proxy.hits(rule), 1);
    s.proxy.clear_rules();
    Ok(())
}

/// A bare HTTP/1.1 exchange with the proxy's control endpoint, as another process would do.
fn http(port: u16, method: &str, path: &str, body: &str) -> Result<String, std::io::Error> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

async fn control_endpoint_over_http(s: &Setup) -> TestResult {
    let port = s.proxy.port();
    let rule = r#"{"verb":"patch","resource":"statefulsets","name":"app","action":{"status":{"code":409}},"times":1}"#;
    let answer = http(port, "POST", "/_testbed/faultproxy/rules", rule)?;
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert_eq!(
        outcome(s.sts.patch("app", &PatchParams::default(), &touch()).await),
        Some((409, "Conflict".to_owned()))
    );
    let rules = http(port, "GET", "/_testbed/faultproxy/rules", "")?;
    assert!(
        rules.contains(r#""hits":1"#) && rules.contains(r#""remaining":0"#),
        "{rules}"
    );
    let log = http(port, "GET", "/_testbed/faultproxy/log", "")?;
    assert!(log.contains(r#""verb":"patch""#), "{log}");
    assert!(http(port, "DELETE", "/_testbed/faultproxy/rules", "")?.starts_with("HTTP/1.1 200"));
    assert!(http(port, "POST", "/_testbed/faultproxy/rules", "{}")?.starts_with("HTTP/1.1 400"));
    Ok(())
}

async fn watch_passes_through(s: &Setup) -> TestResult {
    let cms: Api<ConfigMap> = Api::default_namespaced(s.client.clone());
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "watched"}}))?;
    cms.create(&PostParams::default(), &cm).await?;
    let req = hyper::Request::get(
        "/api/v1/namespaces/px/configmaps?watch=true&resourceVersion=0&timeoutSeconds=1",
    )
    .body(Vec::new())?;
    let events = s.client.request_text(req).await?;
    assert!(
        events.contains(r#""type":"ADDED""#) && events.contains("watched"),
        "{events}"
    );
    let last = s.proxy.log().pop().ok_or("no log")?;
    assert_eq!(
        (last.verb, last.resource.as_deref()),
        (Some(Verb::Watch), Some("configmaps"))
    );
    Ok(())
}

async fn tls_side_and_kubectl(s: &Setup) -> TestResult {
    let admin = s.cluster.admin();
    let via_tls = s.proxy.kubeconfig_for(admin)?;
    assert!(
        std::fs::read_to_string(&via_tls)?.contains(&s.proxy.https_url().ok_or("no TLS side")?)
    );
    let sts: Api<StatefulSet> = Api::namespaced(client_for(&via_tls).await?, "px");
    let rule = s.proxy.arm(
        Rule::new(Action::status(500))
            .verb(Verb::Get)
            .name("app")
            .times(1),
    );
    assert_eq!(outcome(sts.get("app").await).map(|e| e.0), Some(500));
    assert_eq!(s.proxy.hits(rule), 1);
    if Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED kubectl through the proxy: no kubectl on PATH");
        return Ok(());
    }
    s.proxy.clear_log();
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&via_tls)
        .args(["get", "statefulsets", "-n", "px"])
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("other"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = s
        .proxy
        .log()
        .iter()
        .any(|r| r.verb == Some(Verb::List) && r.resource.as_deref() == Some("statefulsets"));
    assert!(listed, "kubectl's list went through the proxy");
    Ok(())
}
