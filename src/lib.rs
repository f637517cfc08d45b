//! hetl: GPU-accelerated CKKS homomorphic encryption with encrypted transfer
//! learning on top. See `DESIGN.md` for the architecture.

pub mod backend;
pub mod ckks;
pub mod cli;
pub mod host_memory;
pub mod math;
pub mod model;
pub mod nn;
pub mod sched;
