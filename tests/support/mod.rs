//! The plumbing every kind of test shares, written once: fresh Postgres
//! databases ([`db`]) and PgBouncer in front of them ([`pgbouncer`]), the
//! real binary on a free port ([`binary`]), a primary and a synchronous
//! standby from `deploy/topology.sh` ([`topology`]) and continuous writers
//! for failovers ([`writers`]), the
//! pieces each harness builds an app from (the base test configuration,
//! a whole-second clock, an HTTP client, a runtime), and the contract's
//! field lists.
//!
//! Included by the harnesses (`tests/common`, `tests/model`,
//! `tests/postgres_support`) with `#[path = "../support/mod.rs"]`, and by
//! the test files that use no harness with `mod support;`.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

pub mod binary;
pub mod db;
pub mod pgbouncer;
pub mod topology;
pub mod writers;

use std::time::Duration;

use posts_api::adapters::clock::ManualClock;
use posts_api::config::{Config, StoreKind};
use time::OffsetDateTime;

/// The fields of a `UserOut`, exactly (API.md): the tests check every
/// answer against this one list, so a field added or leaked shows.
pub const USER_FIELDS: &[&str] = &["id", "email", "role", "created_at"];

/// The fields of a `Post`, exactly (API.md).
pub const POST_FIELDS: &[&str] = &[
    "id",
    "title",
    "content",
    "published",
    "created_at",
    "owner_id",
    "owner",
    "votes",
];

/// The fields of a `SessionOut`, exactly (API.md).
pub const SESSION_FIELDS: &[&str] = &[
    "id",
    "created_at",
    "last_used_at",
    "expires_at",
    "user_agent",
    "current",
];

/// The configuration every in-process test app starts from: `store` (at
/// `database_url`), port 0, the signing key `secret`, bcrypt cost 4 (the
/// cheapest, so that tests that register many users stay fast) and only
/// warnings logged; the rest as shipped. Callers add what they test.
pub fn config(store: StoreKind, database_url: Option<String>, secret: &str) -> Config {
    Config {
        store,
        database_url: database_url.map(Into::into),
        bind_addr: "127.0.0.1:0".into(),
        jwt_secret: Some(secret.into()),
        bcrypt_cost: 4,
        rust_log: "warn".into(),
        ..Config::default()
    }
}

/// A manual clock at the current whole second: token `exp` is in whole
/// seconds, so whole-second steps reach it exactly, and Postgres (which
/// keeps microseconds) stores the start time unchanged.
pub fn whole_second_clock() -> ManualClock {
    let now = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("0 ns is valid");
    ManualClock::new(now)
}

/// A client for a test server: no proxy (a developer's `HTTP_PROXY` must
/// not see test traffic), `redirects` as the caller needs, and a timeout
/// that only a hung server reaches.
pub fn http_client(redirects: reqwest::redirect::Policy) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(redirects)
        .timeout(Duration::from_secs(60))
        .build()
        .expect("a reqwest client")
}

/// A multi-threaded runtime with two workers (bcrypt runs on its blocking
/// pool), for the tests that drive async code from a plain `#[test]`.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}
