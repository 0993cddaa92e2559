//! The bounded GET against raw local TCP servers: exact request line and headers, status and
//! body, the body cap (checked while reading, on bodies that never end), the deadline, a
//! refused port and a dropped connection.

use std::time::{Duration, Instant};

use juju_charm::http::{HttpError, Limits, get};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

/// Serves one connection: reads the request head, then writes `answer` (if any) and closes,
/// or holds the connection open for `hold`. Returns the address and the request head.
async fn serve_once(
    answer: Option<Vec<u8>>,
    hold: Duration,
) -> (String, tokio::task::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let task = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        match answer {
            Some(bytes) => {
                let _ = socket.write_all(&bytes).await;
                let _ = socket.shutdown().await;
            }
            None => tokio::time::sleep(hold).await,
        }
        String::from_utf8_lossy(&head).into_owned()
    });
    (addr, task)
}

fn ok(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[tokio::test]
async fn status_body_and_exact_request() {
    let (addr, server) = serve_once(Some(ok(r#"{"public_ip":"1.2.3.4"}"#)), Duration::ZERO).await;
    let response = get(
        &addr,
        "/v1/publicip/ip",
        &[("X-API-Key", "s3cret")],
        Limits::default(),
    )
    .await
    .unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.body, br#"{"public_ip":"1.2.3.4"}"#);
    let head = server.await.unwrap().to_ascii_lowercase();
    assert!(
        head.starts_with("get /v1/publicip/ip http/1.1\r\n"),
        "{head}"
    );
    assert!(head.contains("x-api-key: s3cret\r\n"), "{head}");
    assert!(head.contains(&format!("host: {addr}\r\n")), "{head}");
}

#[tokio::test]
async fn non_200_status_is_returned_not_an_error() {
    let answer = b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n".to_vec();
    let (addr, _server) = serve_once(Some(answer), Duration::ZERO).await;
    let response = get(&addr, "/", &[], Limits::default()).await.unwrap();
    assert_eq!((response.status, response.body.len()), (401, 0));
}

#[tokio::test]
async fn body_over_the_cap_is_refused() {
    let big = "x".repeat(5000);
    for body in [ok(&big), {
        // Chunked, no length announced: the cap still holds.
        let mut b = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for _ in 0..5 {
            b.extend_from_slice(format!("3e8\r\n{}\r\n", "y".repeat(1000)).as_bytes());
        }
        b.extend_from_slice(b"0\r\n\r\n");
        b
    }] {
        let (addr, _server) = serve_once(Some(body), Duration::ZERO).await;
        let limits = Limits {
            max_body: 4096,
            ..Limits::default()
        };
        let err = get(&addr, "/", &[], limits).await.unwrap_err();
        assert!(
            matches!(err, HttpError::BodyTooLarge { max: 4096, .. }),
            "{err:?}"
        );
    }
    // Exactly at the cap is fine.
    let (addr, _server) = serve_once(Some(ok(&"z".repeat(4096))), Duration::ZERO).await;
    let limits = Limits {
        max_body: 4096,
        ..Limits::default()
    };
    assert_eq!(get(&addr, "/", &[], limits).await.unwrap().body.len(), 4096);
}

/// Serves one connection: reads the request head, writes `head`, then (with `endless`) body
/// chunks of 1000 bytes until the client hangs up, or (without) nothing more, holding the
/// connection open.
async fn serve_without_end(head: &'static str, endless: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
        }
        if socket.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        if !endless {
            std::future::pending::<()>().await;
        }
        let chunk = format!("3e8\r\n{}\r\n", "y".repeat(1000));
        while socket.write_all(chunk.as_bytes()).await.is_ok() {}
    });
    addr
}

#[tokio::test]
async fn the_cap_holds_while_reading_not_after() {
    // The body never ends, and a length over the cap is announced with no body following: a
    // client that read the whole body before checking it would hit the 10 s deadline instead.
    let limits = Limits {
        timeout: Duration::from_secs(10),
        max_body: 4096,
    };
    for addr in [
        serve_without_end(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            true,
        )
        .await,
        serve_without_end("HTTP/1.1 200 OK\r\nContent-Length: 4097\r\n\r\n", false).await,
    ] {
        let err = get(&addr, "/", &[], limits).await.unwrap_err();
        assert!(
            matches!(err, HttpError::BodyTooLarge { max: 4096, .. }),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn silent_server_times_out_within_the_deadline() {
    let (addr, server) = serve_once(None, Duration::from_secs(5)).await;
    let limits = Limits {
        timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let started = Instant::now();
    let err = get(&addr, "/", &[("X-API-Key", "s3cret")], limits)
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, HttpError::Timeout { .. }), "{err:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(!format!("{err} {err:?}").contains("s3cret"));
    server.abort();
}

#[tokio::test]
async fn refused_port_is_a_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    let err = get(&addr, "/", &[], Limits::default()).await.unwrap_err();
    assert!(matches!(err, HttpError::Connect { .. }), "{err:?}");
}

#[tokio::test]
async fn dropped_connection_is_an_http_error() {
    let (addr, _server) = serve_once(Some(Vec::new()), Duration::ZERO).await;
    let err = get(&addr, "/", &[], Limits::default()).await.unwrap_err();
    assert!(matches!(err, HttpError::Http { .. }), "{err:?}");
}

#[tokio::test]
async fn header_value_http_refuses_is_a_build_error_without_the_value() {
    let err = get(
        "127.0.0.1:1",
        "/",
        &[("X-API-Key", "bad\nvalue")],
        Limits::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, HttpError::Build { .. }), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("bad\nvalue"));
}
