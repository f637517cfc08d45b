//! Encrypted neural-network building blocks on top of the CKKS API:
//! linear algebra over slot-packed ciphertexts ([`linalg`]).
//!
//! Everything here uses only the public `ckks` API, so it runs on every
//! backend through the scheduler.

pub mod linalg;
