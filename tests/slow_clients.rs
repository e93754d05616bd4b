//! Connection-level defences of the real binary, over raw TCP: slow and
//! idle clients are closed (header-read and keep-alive timeouts), a body
//! that stops arriving gets 408, connections past `MAX_CONNECTIONS` wait,
//! the HTTP parser's own errors carry `{"detail"}` JSON, and no method
//! name or path a client sends becomes a new metric label. HTTP/2 (h2c)
//! connections get the same header-read and keep-alive deadlines.
//!
//! Timeouts are configured small (1 to 4 s) to keep each test short; the
//! bounds asserted are generous.

mod support;

use std::process::Child;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

/// The real binary, killed when dropped.
struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary on a free port with these settings (on top of
/// bcrypt cost 4 and `info` logs), and waits for its ready line.
fn start(settings: &[(&str, &str)]) -> Server {
    let mut env = vec![("BCRYPT_COST", "4"), ("RUST_LOG", "info")];
    env.extend_from_slice(settings);
    let (child, addr) = support::binary::start(&env);
    Server { child, addr }
}

/// A response as a client sees it.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// Asserts the contract's error shape: this status, JSON, exactly
    /// `{"detail": detail}`.
    #[track_caller]
    fn assert_error(&self, status: u16, detail: &str) {
        assert_eq!(self.status, status, "{self:?}");
        let ct = self.header("content-type").unwrap_or_default();
        assert!(ct.starts_with("application/json"), "{self:?}");
        let body: serde_json::Value = serde_json::from_str(&self.body).expect("JSON body");
        assert_eq!(body, serde_json::json!({ "detail": detail }), "{self:?}");
    }
}

/// Reads one response (its body by Content-Length), or `None` when the
/// connection closes first.
async fn read_answer(stream: &mut TcpStream) -> Option<Answer> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).into_owned();
            let status = head.split_whitespace().nth(1)?.parse().ok()?;
            let mut answer = Answer {
                status,
                head,
                body: String::new(),
            };
            let len: usize = answer
                .header("content-length")
                .and_then(|v| v.parse().ok())?;
            while raw.len() < end + 4 + len {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return None,
                    Ok(n) => raw.extend_from_slice(&buf[..n]),
                }
            }
            answer.body = String::from_utf8_lossy(&raw[end + 4..end + 4 + len]).into_owned();
            return Some(answer);
        }
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    }
}

/// Sends `request` on a fresh connection and reads the answer.
async fn exchange(addr: &str, request: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("send");
    tokio::time::timeout(Duration::from_secs(10), read_answer(&mut stream))
        .await
        .expect("answered in time")
        .expect("an answer before the close")
}

/// Whether the server closes `stream` (EOF or an error) within `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let drain = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(limit, drain).await.is_ok()
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_heads_and_silent_connections_are_closed() {
    let server = start(&[("HEADER_READ_TIMEOUT_SECONDS", "2")]);
    let mut clients = JoinSet::new();
    for i in 0..301 {
        let addr = server.addr.clone();
        clients.spawn(async move {
            let mut stream = TcpStream::connect(&addr).await.expect("connect");
            if i > 0 {
                stream
                    .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                    .await
                    .expect("send");
            }
            closed_within(&mut stream, Duration::from_secs(8)).await
        });
    }
    let closed = clients.join_all().await.into_iter().filter(|c| *c).count();
    assert_eq!(
        closed, 301,
        "partial heads and the silent connection are closed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowloris_head_is_closed_at_the_header_deadline() {
    let server = start(&[("HEADER_READ_TIMEOUT_SECONDS", "2")]);
    let stream = TcpStream::connect(&server.addr).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let started = Instant::now();
    // One header byte every 300 ms, forever.
    let trickle = tokio::spawn(async move {
        writer
            .write_all(b"GET /healthz HTTP/1.1\r\nX-Slow: ")
            .await?;
        loop {
            tokio::time::sleep(Duration::from_millis(300)).await;
            writer.write_all(b"a").await?;
        }
        #[allow(unreachable_code)]
        Ok::<(), std::io::Error>(())
    });
    let mut buf = [0u8; 64];
    let closed = tokio::time::timeout(Duration::from_secs(8), reader.read(&mut buf)).await;
    trickle.abort();
    assert!(
        matches!(closed, Ok(Ok(0) | Err(_))),
        "closed, not answered or left open: {closed:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "not before the deadline"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_outlives_the_header_timeout_and_then_closes() {
    let server = start(&[
        ("HEADER_READ_TIMEOUT_SECONDS", "1"),
        ("KEEP_ALIVE_TIMEOUT_SECONDS", "4"),
    ]);
    let mut stream = TcpStream::connect(&server.addr).await.expect("connect");
    stream.write_all(HEALTHZ).await.expect("send");
    assert_eq!(
        read_answer(&mut stream).await.expect("first answer").status,
        200
    );
    // Idle longer than the header timeout, shorter than the keep-alive one.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    stream.write_all(HEALTHZ).await.expect("send again");
    let second = read_answer(&mut stream)
        .await
        .expect("the idle connection still answers");
    assert_eq!(second.status, 200);
    // Now idle past the keep-alive timeout.
    assert!(
        closed_within(&mut stream, Duration::from_secs(9)).await,
        "an idle keep-alive connection is closed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_closed() {
    let server = start(&[("KEEP_ALIVE_TIMEOUT_SECONDS", "2")]);
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .set_recv_buffer_size(4096)
        .expect("small receive buffer");
    let addr = server.addr.parse().expect("socket address");
    let mut stream = socket.connect(addr).await.expect("connect");
    // Twenty Swagger UI pages (1.6 MB each), pipelined, and none read.
    let asks = 20;
    let request = b"GET /docs HTTP/1.1\r\nHost: x\r\n\r\n".repeat(asks);
    stream.write_all(&request).await.expect("send");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut received = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    let drain = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received += n,
            }
        }
    };
    let closed = tokio::time::timeout(Duration::from_secs(10), drain).await;
    assert!(closed.is_ok(), "the stalled connection is closed");
    assert!(
        received < asks * 1_000_000,
        "closed before it was all sent: {received} bytes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stops_arriving_gets_408() {
    let server = start(&[("REQUEST_TIMEOUT_SECONDS", "1")]);
    let mut stream = TcpStream::connect(&server.addr).await.expect("connect");
    let request = b"POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                    Content-Length: 100\r\n\r\n{\"email\": \"a@example.com\"";
    stream.write_all(request).await.expect("send");
    let answer = tokio::time::timeout(Duration::from_secs(10), read_answer(&mut stream))
        .await
        .expect("answered in time")
        .expect("an answer");
    answer.assert_error(408, "Request timeout");
    assert!(
        closed_within(&mut stream, Duration::from_secs(5)).await,
        "the connection is closed after the 408"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_wait_for_a_free_slot() {
    let server = start(&[("MAX_CONNECTIONS", "2")]);
    let mut open = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(&server.addr).await.expect("connect");
        stream.write_all(HEALTHZ).await.expect("send");
        assert_eq!(read_answer(&mut stream).await.expect("answer").status, 200);
        open.push(stream);
    }
    let mut third = TcpStream::connect(&server.addr)
        .await
        .expect("the kernel queues it");
    third.write_all(HEALTHZ).await.expect("send");
    let early = tokio::time::timeout(Duration::from_millis(500), read_answer(&mut third)).await;
    assert!(
        early.is_err(),
        "not served while two connections are open: {early:?}"
    );
    drop(open.pop());
    let late = tokio::time::timeout(Duration::from_secs(5), read_answer(&mut third))
        .await
        .expect("served once a slot frees")
        .expect("an answer");
    assert_eq!(late.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_errors_are_json() {
    let server = start(&[]);
    let huge = b"POST /users HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000000000000000\r\n\r\n";
    exchange(&server.addr, huge)
        .await
        .assert_error(400, "Bad Request: malformed HTTP request");
    let two =
        b"POST /users HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab";
    exchange(&server.addr, two)
        .await
        .assert_error(400, "Bad Request: malformed HTTP request");
    let mut many = b"GET /healthz HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..150 {
        many.extend_from_slice(format!("X-Header-{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    exchange(&server.addr, &many)
        .await
        .assert_error(431, "Request header fields too large");
}

/// `/metrics`: its line count and size.
async fn metrics_size(addr: &str) -> (usize, usize) {
    let answer = exchange(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(answer.status, 200);
    (answer.body.lines().count(), answer.body.len())
}

/// Sends `count` requests with distinct method names and distinct unknown
/// paths, and as many GETs of distinct unknown paths.
async fn random_requests(addr: &str, round: &str, count: usize) {
    for i in 0..count {
        let req = format!("FOO{round}{i} /nope-{round}-{i} HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(exchange(addr, req.as_bytes()).await.status, 404);
        let req = format!("GET /nope/{round}/{i}?q={i} HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(exchange(addr, req.as_bytes()).await.status, 404);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_do_not_grow_with_random_methods_and_paths() {
    let server = start(&[]);
    random_requests(&server.addr, "warm", 3).await;
    let _ = metrics_size(&server.addr).await;
    let (lines, bytes) = metrics_size(&server.addr).await;
    random_requests(&server.addr, "r", 200).await;
    let (lines_after, bytes_after) = metrics_size(&server.addr).await;
    assert_eq!(lines_after, lines, "no new series");
    // Only counters and sums gain digits.
    assert!(bytes_after < bytes + 256, "{bytes} -> {bytes_after} bytes");
}

/// h2c with prior knowledge, frame by frame: the preface and an empty
/// SETTINGS frame.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0";

/// One HTTP/2 frame: 24-bit length, type, flags, stream id.
fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len())
        .expect("small frame")
        .to_be_bytes();
    let mut frame = vec![len[1], len[2], len[3], kind, flags];
    frame.extend_from_slice(&stream.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// `GET /healthz` on stream 1 (HPACK: `:method GET`, `:scheme http`
/// indexed, `:path` literal), with END_STREAM and END_HEADERS.
fn h2_get_healthz() -> Vec<u8> {
    let mut block = vec![0x82, 0x86, 0x44, 8];
    block.extend_from_slice(b"/healthz");
    h2_frame(0x1, 0x5, 1, &block)
}

/// Reads frames until the HEADERS frame of stream 1, and returns whether
/// it says `:status 200` (HPACK index 8); `None` when the connection
/// closes first.
async fn h2_status_is_200(stream: &mut TcpStream) -> Option<bool> {
    loop {
        let mut head = [0u8; 9];
        stream.read_exact(&mut head).await.ok()?;
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let mut payload = vec![0u8; len];
        stream.read_exact(&mut payload).await.ok()?;
        let stream_id = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        if head[3] == 0x1 && stream_id == 1 {
            return Some(payload.first() == Some(&0x88));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_connection_that_sends_no_request_is_closed() {
    let server = start(&[("HEADER_READ_TIMEOUT_SECONDS", "2")]);
    let mut stream = TcpStream::connect(&server.addr).await.expect("connect");
    stream.write_all(H2_PREFACE).await.expect("send");
    let started = Instant::now();
    assert!(
        closed_within(&mut stream, Duration::from_secs(8)).await,
        "a preface and then silence is closed"
    );
    assert!(started.elapsed() >= Duration::from_secs(1), "not at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_http2_connection_is_closed_even_while_it_pings() {
    let server = start(&[
        ("HEADER_READ_TIMEOUT_SECONDS", "1"),
        ("KEEP_ALIVE_TIMEOUT_SECONDS", "3"),
    ]);
    let mut stream = TcpStream::connect(&server.addr).await.expect("connect");
    stream.write_all(H2_PREFACE).await.expect("send");
    stream.write_all(&h2_get_healthz()).await.expect("send");
    let answered = tokio::time::timeout(Duration::from_secs(5), h2_status_is_200(&mut stream))
        .await
        .expect("answered in time");
    assert_eq!(answered, Some(true), "GET /healthz over h2c answers 200");
    // No request from now on, only a PING every 400 ms: frames the server
    // answers, but no work, so they must not keep the connection open.
    let idle_since = Instant::now();
    let (mut reader, mut writer) = stream.into_split();
    let pings = tokio::spawn(async move {
        for i in 0u64.. {
            tokio::time::sleep(Duration::from_millis(400)).await;
            if writer
                .write_all(&h2_frame(0x6, 0, 0, &i.to_be_bytes()))
                .await
                .is_err()
            {
                break;
            }
        }
    });
    let mut buf = [0u8; 1024];
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    pings.abort();
    assert!(closed.is_ok(), "a pinging idle h2 connection is closed");
    assert!(
        idle_since.elapsed() >= Duration::from_secs(2),
        "not before the keep-alive timeout: {:?}",
        idle_since.elapsed()
    );
}
