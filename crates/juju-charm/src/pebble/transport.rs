//! HTTP/1.1 over Pebble's Unix socket: one connection per request, a deadline and a size
//! bound on all of it, plus the two encodings Pebble's file API needs (query strings and
//! `multipart/form-data`).
//!
//! Pebble serves plain HTTP/1.1 on `<base>/<container>/pebble.socket`; ops opens a fresh
//! connection per request too (`urllib` with a Unix-socket handler, `ops/pebble.py`).

use std::path::Path;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;

use crate::http::BodyError;

/// What went wrong below Pebble's JSON envelope.
#[derive(Debug)]
pub(crate) enum TransportError {
    /// The socket could not be opened (absent, refused, permission).
    Connect(std::io::Error),
    /// The whole exchange did not finish in time.
    Timeout,
    /// HTTP-level failure (handshake, dropped connection, malformed response).
    Http(hyper::Error),
    /// The answer's body is larger than the bound given to [`round_trip`]; reading stopped
    /// there.
    TooLarge,
    /// The request itself could not be built (a bug in this module's callers).
    Build(hyper::http::Error),
}

/// A complete HTTP response: status, `Content-Type` and the whole body.
pub(crate) struct RawResponse {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// Sends one request on a fresh connection and reads the whole answer, all within `deadline`;
/// a body over `max_body` bytes is [`TransportError::TooLarge`], refused as soon as it is
/// announced or read past the bound (never buffered whole first).
pub(crate) async fn round_trip(
    socket: &Path,
    method: Method,
    path_and_query: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
    deadline: Duration,
    max_body: usize,
) -> Result<RawResponse, TransportError> {
    let exchange = async {
        let stream = UnixStream::connect(socket)
            .await
            .map_err(TransportError::Connect)?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(TransportError::Http)?;
        // The connection future drives the socket; it ends when `sender` is dropped or the
        // peer closes. Its own error, if any, resurfaces through `send_request` below.
        let driver = tokio::spawn(async move {
            let _ = connection.await;
        });
        let mut request = Request::builder()
            .method(method)
            // Pebble ignores the host; ops uses `http://localhost` as its base URL.
            .uri(path_and_query)
            .header("Host", "localhost");
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(TransportError::Build)?;
        let result = async {
            let response = sender
                .send_request(request)
                .await
                .map_err(TransportError::Http)?;
            let status = response.status();
            let content_type = response
                .headers()
                .get(hyper::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let body = crate::http::read_body(response.into_body(), max_body)
                .await
                .map_err(|e| match e {
                    BodyError::TooLarge => TransportError::TooLarge,
                    BodyError::Read(e) => TransportError::Http(e),
                })?;
            Ok(RawResponse {
                status,
                content_type,
                body,
            })
        }
        .await;
        drop(sender);
        driver.abort();
        result
    };
    tokio::time::timeout(deadline, exchange)
        .await
        .unwrap_or(Err(TransportError::Timeout))
}

/// Encodes `pairs` as a query string exactly like Python's `urllib.parse.urlencode`
/// (what ops sends): unreserved characters kept, space as `+`, everything else `%XX`.
pub(crate) fn encode_query(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (key, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        quote_plus(key, &mut out);
        out.push('=');
        quote_plus(value, &mut out);
    }
    out
}

fn quote_plus(s: &str, out: &mut String) {
    for byte in s.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            _ => {
                use std::fmt::Write as _;
                // Writing to a String cannot fail.
                let _ = write!(out, "%{byte:02X}");
            }
        }
    }
}

/// Builds the body of a file push: a `request` part with the JSON metadata, then one `files`
/// part whose filename is the destination path (the layout of ops' `_encode_multipart`).
/// Returns the body and its `Content-Type` (with a boundary that does not occur in `content`).
pub(crate) fn encode_push(metadata: &[u8], path: &str, content: &[u8]) -> (Vec<u8>, String) {
    let mut n: u64 = 0;
    let boundary = loop {
        let candidate = format!("juju-charm-pebble-push-{n:016x}");
        if !contains(content, candidate.as_bytes()) && !contains(metadata, candidate.as_bytes()) {
            break candidate;
        }
        n += 1;
    };
    // Quoted-string escaping as Go's `mime` package reads it (Pebble parses the filename with
    // it); ops escapes only `"`, which mangles a path containing a backslash.
    let escaped = path.replace('\\', "\\\\").replace('"', "\\\"");
    let mut body = Vec::with_capacity(content.len() + metadata.len() + 512);
    body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
    body.extend_from_slice(b"Content-Type: application/json\r\n");
    body.extend_from_slice(b"Content-Disposition: form-data; name=\"request\"\r\n\r\n");
    body.extend_from_slice(metadata);
    body.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
    body.extend_from_slice(b"Content-Type: application/octet-stream\r\n");
    body.extend_from_slice(
        format!("Content-Disposition: form-data; name=\"files\"; filename=\"{escaped}\"\r\n\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (
        body,
        format!("multipart/form-data; boundary=\"{boundary}\""),
    )
}

/// One part of a `multipart/form-data` body.
pub(crate) struct Part<'a> {
    /// `name` from `Content-Disposition`.
    pub name: String,
    /// `filename` from `Content-Disposition`, when present.
    pub filename: Option<String>,
    /// The raw content.
    pub content: &'a [u8],
}

/// Extracts the `boundary` parameter of a `multipart/form-data` content type.
pub(crate) fn multipart_boundary(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';');
    let media = params.next()?.trim();
    if !media.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params
        .find_map(|p| {
            let (key, value) = p.trim().split_once('=')?;
            key.trim()
                .eq_ignore_ascii_case("boundary")
                .then(|| value.trim().trim_matches('"').to_owned())
        })
        .filter(|b| !b.is_empty())
}

/// Splits a `multipart/form-data` body (as Go's `mime/multipart` writes it) into its parts.
pub(crate) fn parse_multipart<'a>(body: &'a [u8], boundary: &str) -> Option<Vec<Part<'a>>> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let first = find(body, delimiter)?;
    let mut rest = &body[first + delimiter.len()..];
    let mut parts = Vec::new();
    loop {
        if rest.starts_with(b"--") {
            return Some(parts);
        }
        rest = rest.strip_prefix(b"\r\n")?;
        let mut next_delimiter = b"\r\n".to_vec();
        next_delimiter.extend_from_slice(delimiter);
        let end = find(rest, &next_delimiter)?;
        let part = &rest[..end];
        rest = &rest[end + next_delimiter.len()..];
        let header_end = find(part, b"\r\n\r\n")?;
        let headers = std::str::from_utf8(&part[..header_end]).ok()?;
        let content = &part[header_end + 4..];
        let disposition = headers.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("content-disposition")
                .then_some(value)
        })?;
        parts.push(Part {
            name: disposition_param(disposition, "name")?,
            filename: disposition_param(disposition, "filename"),
            content,
        });
    }
}

fn disposition_param(disposition: &str, key: &str) -> Option<String> {
    // `form-data; name="files"; filename="/a;b \"c\""`: parameters split on `;` outside
    // quoted strings; quoted values use backslash escapes (Go's `mime.ParseMediaType`).
    let mut rest = disposition.split_once(';')?.1;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ';']);
        if rest.is_empty() {
            return None;
        }
        let (k, after) = rest.split_once('=')?;
        let after = after.trim_start();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next().map(|(_, c)| c)),
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    c => value.push(c),
                }
            }
            (value, &quoted[end?..])
        } else {
            let end = after.find(';').unwrap_or(after.len());
            (after[..end].trim().to_owned(), &after[end..])
        };
        if k.trim().eq_ignore_ascii_case(key) {
            return Some(value);
        }
        rest = next;
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > haystack.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_matches_python_urlencode() {
        assert_eq!(
            encode_query(&[("action", "read"), ("path", "/etc/a b&c")]),
            "action=read&path=%2Fetc%2Fa+b%26c"
        );
    }

    #[test]
    fn push_body_round_trips_through_the_parser() {
        let (body, content_type) = encode_push(br#"{"action":"write"}"#, "/x/\"y\"", b"a\r\nb");
        let boundary = multipart_boundary(&content_type).unwrap_or_default();
        let parts = parse_multipart(&body, &boundary).unwrap_or_default();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "request");
        assert_eq!(parts[0].content, br#"{"action":"write"}"#);
        assert_eq!(parts[1].name, "files");
        assert_eq!(parts[1].filename.as_deref(), Some("/x/\"y\""));
        assert_eq!(parts[1].content, b"a\r\nb");
    }

    proptest::proptest! {
        #[test]
        fn multipart_parser_never_panics(body in proptest::collection::vec(proptest::num::u8::ANY, 0..400), boundary in "[a-z0-9-]{0,12}") {
            let _ = parse_multipart(&body, &boundary);
            let _ = multipart_boundary(&String::from_utf8_lossy(&body));
        }

        #[test]
        fn push_bodies_round_trip(content in proptest::collection::vec(proptest::num::u8::ANY, 0..300), path in "/[ -~]{0,40}") {
            let (body, content_type) = encode_push(b"{}", &path, &content);
            let boundary = multipart_boundary(&content_type).unwrap_or_default();
            let parts = parse_multipart(&body, &boundary).unwrap_or_default();
            proptest::prop_assert_eq!(parts.len(), 2);
            proptest::prop_assert_eq!(parts[1].filename.as_deref(), Some(path.as_str()));
            proptest::prop_assert_eq!(parts[1].content, &content[..]);
        }
    }

    #[test]
    fn boundary_avoids_the_content() {
        let content = b"--juju-charm-pebble-push-0000000000000000";
        let (_, content_type) = encode_push(b"{}", "/f", content);
        assert!(content_type.contains("0000000000000001"));
    }
}
