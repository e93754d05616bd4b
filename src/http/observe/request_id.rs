//! The request id: the client's `X-Request-Id` when it is short and
//! plain, else a fresh one. Every log line written while the request is
//! served, however deep (a store warning in `ApiError::unavailable`, a
//! timeout, a panic), names it, with the method and the route template
//! (`telemetry::RequestContext`). The response echoes the id.

use poem::Request;
use poem::http::{HeaderName, HeaderValue};

/// The request id header.
pub const REQUEST_ID: &str = "x-request-id";

/// [`REQUEST_ID`] as a header name, made once: a `&str` name is parsed
/// and checked again at every look-up.
pub static REQUEST_ID_NAME: HeaderName = HeaderName::from_static(REQUEST_ID);

/// Counter values a thread takes at a time for its ids: the shared
/// counter is touched once per block, not per request (its cache line
/// went back and forth between the cores on every request).
const ID_BLOCK: u64 = 1024;

/// The next counter value of this thread's block, taking a new block from
/// the process's counter when it is used up. Unique in the process; one
/// thread's values increase.
fn next_counter() -> u64 {
    use std::cell::Cell;
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    thread_local! {
        /// The next value and the end of this thread's block.
        static BLOCK: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
    }
    BLOCK.with(|block| {
        let (mut next, mut end) = block.get();
        if next == end {
            next = COUNTER.fetch_add(ID_BLOCK, Ordering::Relaxed);
            end = next + ID_BLOCK;
        }
        block.set((next + 1, end));
        next
    })
}

/// A fresh request id: 32 hex digits, a random per-process prefix and a
/// counter. Unique, which is all an id needs; a random one per request
/// cost a `getrandom` system call on every request. Written straight into
/// the header value's bytes: no `String` on the way.
fn new_request_id() -> HeaderValue {
    use std::sync::OnceLock;
    static PREFIX: OnceLock<u64> = OnceLock::new();
    let prefix = *PREFIX.get_or_init(|| {
        let mut bytes = [0u8; 8];
        // Without the OS's randomness, ids are still unique in-process.
        let _ = getrandom::fill(&mut bytes);
        u64::from_le_bytes(bytes)
    });
    let n = next_counter();
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut id = [0u8; 32];
    let words = [prefix.to_be_bytes(), n.to_be_bytes()];
    for (i, byte) in words.as_flattened().iter().enumerate() {
        id[2 * i] = HEX[usize::from(byte >> 4)];
        id[2 * i + 1] = HEX[usize::from(byte & 0xf)];
    }
    // Hex digits are always a valid header value.
    HeaderValue::from_bytes(&id).expect("hex digits")
}

/// Whether a client's request id is short and plain; anything else could
/// forge log lines.
fn acceptable(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    (1..=128).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
}

/// The request's id, as it is echoed: the client's (shared, not copied)
/// when acceptable, else a fresh one. Always plain ASCII.
pub fn request_id(req: &Request) -> HeaderValue {
    match req.headers().get(&REQUEST_ID_NAME) {
        Some(v) if acceptable(v) => v.clone(),
        _ => new_request_id(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_ids_are_unique_hex() {
        let (a, b) = (new_request_id(), new_request_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a.as_bytes().iter().all(u8::is_ascii_hexdigit));
    }

    #[test]
    fn fresh_ids_are_the_prefix_then_the_counter_in_hex() {
        let (a, b) = (new_request_id(), new_request_id());
        let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
        assert_eq!(a[..16], b[..16], "the same prefix");
        let counter = |id: &str| u64::from_str_radix(&id[16..], 16).unwrap();
        assert!(counter(a) < counter(b), "{a} then {b}");
    }

    #[test]
    fn ids_from_many_threads_are_unique() {
        let ids: Vec<Vec<HeaderValue>> = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..4)
                .map(|_| scope.spawn(|| (0..3 * ID_BLOCK).map(|_| new_request_id()).collect()))
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        let all: std::collections::HashSet<_> = ids.iter().flatten().collect();
        assert_eq!(all.len(), 4 * 3 * ID_BLOCK as usize);
    }

    #[test]
    fn only_plain_short_ids_are_kept() {
        let req = |id: &str| Request::builder().header(REQUEST_ID, id).finish();
        assert_eq!(request_id(&req("abc-1.2:3_x")), "abc-1.2:3_x");
        for bad in ["a b", "a\"b", &"x".repeat(129)] {
            assert_ne!(request_id(&req(bad)), bad);
        }
    }
}
