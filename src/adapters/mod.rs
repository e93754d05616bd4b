//! Adapters: the ports implemented over real technology.

pub mod bcrypt;
pub mod clock;
pub mod hash_worker;
pub mod jwt;
pub mod memory;
pub mod postgres;
pub mod stepwise;
