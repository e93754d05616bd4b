//! The reference model of API.md's access rules, shared by the property
//! tests (`prop_service`, `prop_http`, `prop_tokens`).
//!
//! - [`ops`]: the operations a random script is made of (several users and
//!   admins registering, logging in and out, writing, reading, listing,
//!   voting, promoting and deleting, and the clock moving), their
//!   generators and their readable `Debug`.
//! - [`outcome`]: what the application answered, in terms the model can
//!   predict (status or error variant, and the data where it matters).
//! - [`reference`]: the model itself: users with roles, posts with owners,
//!   drafts and voters, tokens with expiry; it predicts the outcome of
//!   every action.
//! - [`sessions`]: the model's sessions: logins, rotating refresh tokens
//!   (reuse and races), logout here or everywhere, ending a session by id,
//!   the admin's kill switch, password changes, `GET /sessions`.
//! - [`harness`]: runs a script against a [`harness::Driver`] (the service
//!   through its ports, or HTTP), checking each step and the invariants
//!   after it, on the memory store or a fresh Postgres database.
//! - [`support`]: `tests/support`, the plumbing every kind of test shares.

// Each test binary uses a different part of the model.
#![allow(dead_code)]

pub mod harness;
pub mod ops;
pub mod outcome;
pub mod reference;
pub mod sessions;
#[path = "../support/mod.rs"]
pub mod support;
