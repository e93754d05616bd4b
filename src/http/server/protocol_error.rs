//! The HTTP parser's own error answers, in the contract's shape.
//!
//! hyper answers a request it cannot parse by itself (400 for a bad
//! method, URI, version or header, including an unparsable or conflicting
//! Content-Length; 431 for too many or too large headers; 414 for a URI
//! too long) with `content-length: 0`, then closes. The contract wants
//! every error as `{"detail": "<message>"}` JSON, and the service never
//! answers a 4xx with an empty body itself, so such a head is rewritten
//! on its way out (see [`super::io`]).

use poem::http::StatusCode;

use crate::http::error;

/// The message for a status the parser answers with.
fn message(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => error::MALFORMED_REQUEST,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => error::HEADERS_TOO_LARGE,
        StatusCode::URI_TOO_LONG => error::URI_TOO_LONG,
        other => other.canonical_reason().unwrap_or("Bad Request"),
    }
}

/// The status of a `HTTP/1.x 4xx` head, from its first bytes alone: this
/// runs on every write, and almost every write fails it at once.
fn client_error_status(buf: &[u8]) -> Option<StatusCode> {
    let head = buf.get(..13)?;
    if !head.starts_with(b"HTTP/1.") || head[8] != b' ' || head[9] != b'4' || head[12] != b' ' {
        return None;
    }
    StatusCode::from_bytes(&head[9..12]).ok()
}

/// `buf` rewritten with a `{"detail"}` body, if it is a whole 4xx response
/// head with `content-length: 0`; else `None` (write it as it is).
pub(super) fn reshape(buf: &[u8]) -> Option<Vec<u8>> {
    let status = client_error_status(buf)?;
    let head = buf.strip_suffix(b"\r\n\r\n")?;
    let mut lines = head
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let status_line = lines.next()?;
    let mut kept = Vec::new();
    let mut empty = false;
    for line in lines {
        let (name, value) = split_header(line)?;
        if name.eq_ignore_ascii_case(b"content-length") {
            empty = value == b"0";
            if !empty {
                return None;
            }
        } else if !name.eq_ignore_ascii_case(b"connection")
            && !name.eq_ignore_ascii_case(b"content-type")
        {
            kept.push(line);
        }
    }
    if !empty {
        return None;
    }
    let body = serde_json::json!({ "detail": message(status) }).to_string();
    let mut out = Vec::with_capacity(buf.len() + body.len() + 96);
    out.extend_from_slice(status_line);
    out.extend_from_slice(b"\r\n");
    for line in kept {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"content-type: application/json\r\n");
    out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    out.extend_from_slice(b"connection: close\r\n\r\n");
    out.extend_from_slice(body.as_bytes());
    Some(out)
}

/// A header line's name and trimmed value.
fn split_header(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = line.iter().position(|b| *b == b':')?;
    Some((&line[..colon], line[colon + 1..].trim_ascii()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_400: &[u8] = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\ndate: Thu, 26 Nov 2026 13:26:40 GMT\r\n\r\n";

    fn text(bytes: &[u8]) -> String {
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn an_empty_400_gets_a_detail_body() {
        let out = text(&reshape(EMPTY_400).expect("rewritten"));
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert_eq!(body, r#"{"detail":"Bad Request: malformed HTTP request"}"#);
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");
        assert!(
            head.contains("\r\ncontent-type: application/json"),
            "{head}"
        );
        assert!(
            head.contains(&format!("\r\ncontent-length: {}", body.len())),
            "{head}"
        );
        assert!(head.contains("\r\nconnection: close"), "{head}");
        assert!(head.contains("\r\ndate: Thu"), "{head}");
        assert_eq!(head.matches("connection").count(), 1, "{head}");
    }

    #[test]
    fn each_parser_status_has_its_message() {
        for (line, detail) in [
            (
                "HTTP/1.1 431 Request Header Fields Too Large",
                error::HEADERS_TOO_LARGE,
            ),
            ("HTTP/1.1 414 URI Too Long", error::URI_TOO_LONG),
            ("HTTP/1.0 408 Request Timeout", "Request Timeout"),
        ] {
            let head = format!("{line}\r\ncontent-length: 0\r\n\r\n");
            let out = text(&reshape(head.as_bytes()).expect("rewritten"));
            let body = serde_json::json!({ "detail": detail }).to_string();
            assert!(out.starts_with(line) && out.ends_with(&body), "{out}");
        }
    }

    #[test]
    fn other_writes_pass_untouched() {
        for buf in [
            &b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 22\r\n\r\n",
            b"HTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n",
            b"{\"detail\":\"HTTP/1.1 400 \"}",
            b"\x00\x00\x12\x04\x00\x00\x00\x00\x00",
            b"HTTP/1.1 4",
            b"",
        ] {
            assert!(reshape(buf).is_none(), "{:?}", String::from_utf8_lossy(buf));
        }
    }
}
