//! The bound on Kubernetes answers ([`MAX_ANSWER_BYTES`]) against a local HTTP server standing
//! in for the API server: a real one cannot answer that much for one object (etcd refuses
//! objects over its request limit, 1.5 MiB by default), and the kube-testbed fault proxy
//! answers with a status, a delay or a drop, never a large body. An answer at the bound is
//! read; one over it, announced or streamed without end, is `Failure::TooLarge` after ONE
//! request (not retried), long before the request timeout.

use std::error::Error as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use juju_charm::k8s::{Failure, Kube, KubeError, MAX_ANSWER_BYTES, RetryPolicy};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// What the server answers every request with (status 200, JSON).
#[derive(Clone)]
enum Body {
    /// This body, with its length.
    Whole(Arc<Vec<u8>>),
    /// A `Content-Length` of this many bytes, then nothing (the connection held open).
    Announced(usize),
    /// Chunks of 64 KiB for as long as the client reads.
    Endless,
}

/// Serves `body` to every request on every connection; returns the address and the number
/// of requests seen.
async fn api_server(body: Body) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let requests = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&requests);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(serve(socket, body.clone(), Arc::clone(&seen)));
        }
    });
    (addr, requests)
}

async fn serve(mut socket: TcpStream, body: Body, requests: Arc<AtomicUsize>) {
    let mut buf = [0u8; 4096];
    loop {
        // Our GETs carry no body: a request is its head.
        let mut head = Vec::new();
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        requests.fetch_add(1, Ordering::SeqCst);
        let framing = match &body {
            Body::Whole(bytes) => format!("Content-Length: {}", bytes.len()),
            Body::Announced(n) => format!("Content-Length: {n}"),
            Body::Endless => "Transfer-Encoding: chunked".to_owned(),
        };
        let head =
            format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{framing}\r\n\r\n");
        if socket.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        match &body {
            Body::Whole(bytes) => {
                if socket.write_all(bytes).await.is_err() {
                    return;
                }
            }
            Body::Announced(_) => std::future::pending::<()>().await,
            Body::Endless => {
                let chunk = format!("10000\r\n{}\r\n", " ".repeat(0x10000));
                // Ends when the client hangs up.
                while socket.write_all(chunk.as_bytes()).await.is_ok() {}
                return;
            }
        }
    }
}

/// A client of the server at `addr` (plain HTTP), with the default retry policy: a 10 s
/// request timeout and 6 attempts, so reading an endless answer out would end in
/// `Failure::GaveUp`, not `Failure::TooLarge`.
fn kube(addr: &str) -> Kube {
    let config = kube::Config::new(format!("http://{addr}").parse().unwrap());
    Kube::from_config(
        &config,
        "demo",
        "charmarr",
        Duration::from_mins(1),
        RetryPolicy::default(),
    )
    .unwrap()
}

/// The error chain as the run loop logs it.
fn chain(error: &KubeError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text = format!("{text}: {e}");
        source = e.source();
    }
    text
}

fn assert_too_large(error: &KubeError, want_resource: &str, want_name: &str) {
    assert!(
        matches!(error, KubeError::GetObject { resource, name, source: Failure::TooLarge { limit } }
            if resource == want_resource && name == want_name && *limit == MAX_ANSWER_BYTES),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_answer_at_the_bound_is_read() {
    let mut json = br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"}}"#.to_vec();
    json.resize(MAX_ANSWER_BYTES, b' ');
    let (addr, requests) = api_server(Body::Whole(Arc::new(json))).await;
    let config_map = kube(&addr).api::<ConfigMap>().get("big").await.unwrap();
    assert_eq!(config_map.unwrap().metadata.name.as_deref(), Some("big"));
    assert_eq!(requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_announced_answer_over_the_bound_is_refused_unread_and_not_retried() {
    let (addr, requests) = api_server(Body::Announced(MAX_ANSWER_BYTES + 1)).await;
    let error = kube(&addr).api::<ConfigMap>().get("big").await.unwrap_err();
    assert_too_large(&error, "configmaps", "big");
    assert_eq!(
        chain(&error),
        format!(
            "cannot read configmaps \"big\": the server's answer is larger than {MAX_ANSWER_BYTES} bytes"
        )
    );
    assert_eq!(requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_endless_answer_is_read_only_to_the_bound_and_not_retried() {
    let (addr, requests) = api_server(Body::Endless).await;
    let kube = kube(&addr);
    let error = kube
        .api::<CustomResourceDefinition>()
        .cluster_scoped()
        .exists("ciliumnetworkpolicies.cilium.io")
        .await
        .unwrap_err();
    assert_too_large(
        &error,
        "customresourcedefinitions.apiextensions.k8s.io",
        "ciliumnetworkpolicies.cilium.io",
    );
    assert_eq!(requests.load(Ordering::SeqCst), 1);
}
