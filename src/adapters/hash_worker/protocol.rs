//! The pipe protocol between the service and its hashing worker: frames of
//! a little-endian `u32` length and that many bytes, each starting with a
//! little-endian `u64` request id, so that several requests can be in
//! flight and answered in any order.
//!
//! Requests (service to worker): `id`, an op byte, then
//! - [`HASH`]: the cost (one byte), then the password's bytes;
//! - [`VERIFY`]: the hash's length (`u16`), the hash, then the candidate's
//!   bytes;
//! - [`PING`]: nothing; the worker answers it at once, beside the hashes
//!   in flight, to show that it is alive.
//!
//! Replies (worker to service): `id`, a status byte, then its payload:
//! [`HASHED`] with the hash, [`MATCHED`] or [`NOT_MATCHED`] with none,
//! [`FAILED`] with a reason, [`PONG`] with none, or, once, as the first
//! frame, [`HELLO`] with id 0 and what the worker made of its scheduling.
//!
//! Frames that carry a password are built and read into [`SecretSlice`]s,
//! wiped when dropped.

use secrecy::{ExposeSecret, SecretSlice};

/// The largest frame either side accepts: a bcrypt hash is 60 bytes and a
/// password is sent at most 72, so anything near this is a broken peer.
pub const MAX_FRAME: usize = 4096;

/// Request op: hash a password.
pub const HASH: u8 = 1;
/// Request op: verify a candidate against a hash.
pub const VERIFY: u8 = 2;
/// Request op: answer [`PONG`] now (a liveness check).
pub const PING: u8 = 3;

/// Reply status: the hash, as text.
pub const HASHED: u8 = 1;
/// Reply status: the candidate matches.
pub const MATCHED: u8 = 2;
/// Reply status: the candidate does not match (or the hash is malformed).
pub const NOT_MATCHED: u8 = 3;
/// Reply status: the request failed; the payload says why (no secrets).
pub const FAILED: u8 = 4;
/// The worker's first frame (id 0): it is ready; the payload describes its
/// scheduling, for the service's log.
pub const HELLO: u8 = 5;
/// Reply status: the answer to a [`PING`].
pub const PONG: u8 = 6;

/// A whole frame (length prefix included) of `id`, `kind` and `parts`.
fn frame(id: u64, kind: u8, parts: &[&[u8]]) -> Vec<u8> {
    let body = 8 + 1 + parts.iter().map(|p| p.len()).sum::<usize>();
    let mut out = Vec::with_capacity(4 + body);
    // Bodies are bounded by their callers far below u32::MAX.
    out.extend_from_slice(&u32::try_from(body).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&id.to_le_bytes());
    out.push(kind);
    for part in parts {
        out.extend_from_slice(part);
    }
    out
}

/// A [`HASH`] request.
pub fn hash_request(id: u64, cost: u8, password: &[u8]) -> SecretSlice<u8> {
    frame(id, HASH, &[&[cost], password]).into()
}

/// A [`VERIFY`] request; `None` when the hash is too long to be one.
pub fn verify_request(id: u64, hash: &str, candidate: &[u8]) -> Option<SecretSlice<u8>> {
    let len = u16::try_from(hash.len()).ok()?;
    Some(
        frame(
            id,
            VERIFY,
            &[&len.to_le_bytes(), hash.as_bytes(), candidate],
        )
        .into(),
    )
}

/// A [`PING`] request.
pub fn ping(id: u64) -> SecretSlice<u8> {
    frame(id, PING, &[]).into()
}

/// A reply frame.
pub fn reply(id: u64, status: u8, payload: &[u8]) -> Vec<u8> {
    frame(id, status, &[payload])
}

/// A frame's body split up: its id, its kind (op or status), the rest.
pub struct Frame {
    body: SecretSlice<u8>,
}

impl Frame {
    /// Wraps a body read off the pipe; `None` when it is too short to hold
    /// an id and a kind.
    pub fn new(body: Vec<u8>) -> Option<Self> {
        (body.len() >= 9).then(|| Self { body: body.into() })
    }

    /// The request id.
    pub fn id(&self) -> u64 {
        let mut id = [0u8; 8];
        id.copy_from_slice(&self.body.expose_secret()[..8]);
        u64::from_le_bytes(id)
    }

    /// The op or status byte.
    pub fn kind(&self) -> u8 {
        self.body.expose_secret()[8]
    }

    /// Everything after the kind.
    pub fn payload(&self) -> &[u8] {
        &self.body.expose_secret()[9..]
    }
}

/// A [`HASH`] request's cost and password.
pub fn parse_hash(payload: &[u8]) -> Option<(u8, &[u8])> {
    let (cost, password) = payload.split_first()?;
    Some((*cost, password))
}

/// A [`VERIFY`] request's hash and candidate.
pub fn parse_verify(payload: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = payload.split_at_checked(2)?;
    let len = usize::from(u16::from_le_bytes([len[0], len[1]]));
    rest.split_at_checked(len)
}

/// A frame's length prefix, checked against [`MAX_FRAME`].
pub fn body_len(prefix: [u8; 4]) -> Option<usize> {
    let len = usize::try_from(u32::from_le_bytes(prefix)).ok()?;
    (9..=MAX_FRAME).contains(&len).then_some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(whole: &[u8]) -> Frame {
        let len = body_len(whole[..4].try_into().unwrap()).unwrap();
        assert_eq!(len, whole.len() - 4);
        Frame::new(whole[4..].to_vec()).unwrap()
    }

    #[test]
    fn requests_and_replies_round_trip() {
        let hash = hash_request(7, 12, b"secret pw");
        let parsed = body(hash.expose_secret());
        assert_eq!((parsed.id(), parsed.kind()), (7, HASH));
        assert_eq!(parse_hash(parsed.payload()), Some((12, &b"secret pw"[..])));

        let verify = verify_request(u64::MAX, "$2b$04$abc", b"cand").unwrap();
        let parsed = body(verify.expose_secret());
        assert_eq!((parsed.id(), parsed.kind()), (u64::MAX, VERIFY));
        assert_eq!(
            parse_verify(parsed.payload()),
            Some((&b"$2b$04$abc"[..], &b"cand"[..]))
        );

        let answer = reply(3, MATCHED, b"");
        let parsed = body(&answer);
        assert_eq!(
            (parsed.id(), parsed.kind(), parsed.payload()),
            (3, MATCHED, &b""[..])
        );
    }

    #[test]
    fn broken_frames_are_refused() {
        assert_eq!(
            body_len(8u32.to_le_bytes()),
            None,
            "no room for id and kind"
        );
        let too_long = u32::try_from(MAX_FRAME + 1).unwrap();
        assert_eq!(body_len(too_long.to_le_bytes()), None);
        assert!(Frame::new(vec![0; 8]).is_none());
        assert_eq!(parse_verify(&[10, 0, b'x']), None, "hash cut short");
        assert_eq!(parse_hash(&[]), None);
        assert!(verify_request(1, &"x".repeat(70_000), b"").is_none());
    }
}
