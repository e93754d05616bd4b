//! posts-api: a posts service with users, JWT login, posts, drafts, votes
//! and roles, in the ports-and-adapters style.
//!
//! - [`domain`]: entities, validated newtypes, errors, the access policy.
//! - [`ports`]: the traits the service needs (`UserStore`, `PostStore`, ...).
//! - [`service`]: the use cases over the ports.
//! - [`adapters`]: memory and Postgres stores, JWT, bcrypt, clocks.
//! - [`http`]: the poem-openapi routes, security schemes and error mapping.
//! - [`config`] and [`app`]: configuration and the composition root.

pub mod adapters;
pub mod app;
pub mod config;
pub mod domain;
pub mod http;
pub mod ports;
pub mod service;
pub mod telemetry;
