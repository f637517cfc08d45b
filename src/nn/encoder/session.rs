//! [`Session`]: what an encrypted forward pass needs besides arithmetic —
//! fresh levels when a step runs out ([`Refresh`]), and a record of every
//! step (time, operations, planned depth, refreshes) for `hetl profile`.

use std::time::Instant;

use super::counting::{Counting, OpCounts};
use crate::ckks::Ciphertext;
use crate::nn::approx::{Arith, CkksArith, PlainArith, PlainValue};
use crate::nn::party::DataParty;
use crate::nn::{NnError, Result};

/// The source of fresh levels. Today the data party's refresh (decrypt and
/// re-encrypt at the top level); bootstrapping implements the same trait
/// later without touching the layers, which only call [`Session::ensure`].
pub trait Refresh<A: Arith> {
    /// `values` back at the top level on the nominal scale.
    fn refresh(&mut self, a: &A, values: &[A::Value]) -> Result<Vec<A::Value>>;

    /// Sees the output of each step (`block`, `step`, in `shape`) and may
    /// return its max abs error against a plaintext twin. A measurement aid
    /// for `hetl profile` (whose data party decrypts the outputs); nothing
    /// by default.
    fn observe(&mut self, block: usize, step: &'static str, values: &[A::Value], shape: Shape) -> Result<Option<f64>> {
        let _ = (block, step, values, shape);
        Ok(None)
    }
}

/// How a step's output ciphertexts map to a matrix, for [`Refresh::observe`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Tokens × `width` in the token layout (column chunks when wider than a block).
    Tokens(usize),
    /// Attention scores or weights: query ciphertext g, key group q at
    /// index g·Qc + q; (query i, head h, key 32q + j′) at slot 32h + j′ of i's block.
    Scores,
    /// One vector of the hidden width replicated in every block.
    Pooled,
}

/// The mirror's refresh: the same values re-encoded at the top level.
pub struct MirrorRefresh;

impl Refresh<PlainArith> for MirrorRefresh {
    fn refresh(&mut self, a: &PlainArith, values: &[PlainValue]) -> Result<Vec<PlainValue>> {
        let top = a.params().max_level();
        values.iter().map(|v| a.encode(v.values(), top)).collect()
    }
}

/// The data party's refresh service: decrypt and re-encrypt at the top level.
impl Refresh<CkksArith<'_>> for DataParty<'_> {
    fn refresh(&mut self, _a: &CkksArith<'_>, values: &[Ciphertext]) -> Result<Vec<Ciphertext>> {
        values.iter().map(|ct| DataParty::refresh(self, ct, |_| Ok::<(), NnError>(()))).collect()
    }
}

/// One step of one encoder block, as measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StepRecord {
    /// Block index (0-based, in the model's numbering).
    pub block: usize,
    /// Step name, e.g. `attention/softmax`.
    pub step: &'static str,
    /// Wall time in seconds (device-synchronous when the scheduler blocks).
    pub seconds: f64,
    /// CKKS operations.
    pub ops: OpCounts,
    /// Levels the step consumes by plan (refreshed levels included).
    pub depth: usize,
    /// Refresh rounds (each a decrypt/re-encrypt of a set of ciphertexts).
    pub refreshes: usize,
    /// Max abs error of the step's output against the plaintext twin, when measured.
    pub max_error: Option<f64>,
    /// Ciphertexts refreshed.
    pub refreshed_ciphertexts: usize,
}

/// What a forward pass runs with: the refresh source and the step records.
pub struct Session<'r, A: Arith> {
    refresher: &'r mut dyn Refresh<A>,
    records: Vec<StepRecord>,
    block: usize,
    pending: (usize, usize),
}

impl<'r, A: Arith> Session<'r, A> {
    /// A session refreshing through `refresher`.
    pub fn new(refresher: &'r mut dyn Refresh<A>) -> Self {
        Self { refresher, records: Vec::new(), block: 0, pending: (0, 0) }
    }

    /// Sets the block index the next steps are recorded under.
    pub fn set_block(&mut self, block: usize) {
        self.block = block;
    }

    /// The records so far.
    #[must_use]
    pub fn records(&self) -> &[StepRecord] {
        &self.records
    }

    /// `values` unchanged if all have at least `needed` levels, else all refreshed.
    pub fn ensure(&mut self, a: &Counting<A>, values: Vec<A::Value>, needed: usize) -> Result<Vec<A::Value>> {
        if values.iter().all(|v| a.level(v) >= needed) {
            return Ok(values);
        }
        if needed > a.params().max_level() {
            return Err(NnError::NotEnoughLevels {
                what: "encoder step".into(),
                needed,
                level: a.params().max_level(),
            });
        }
        self.pending.0 += 1;
        self.pending.1 += values.len();
        self.refresher.refresh(a.inner(), &values)
    }

    /// Shows the last recorded step's output to the refresh source
    /// ([`Refresh::observe`], outside the step's time) and keeps the error it reports.
    pub fn observe(&mut self, values: &[A::Value], shape: Shape) -> Result<()> {
        if let Some(record) = self.records.last_mut() {
            record.max_error = self.refresher.observe(record.block, record.step, values, shape)?;
        }
        Ok(())
    }

    /// Runs `f` as step `step` of the current block with planned `depth`, and records it.
    pub fn step<T>(
        &mut self,
        a: &Counting<A>,
        step: &'static str,
        depth: usize,
        f: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<T> {
        let before = a.counts();
        let previous = a.enter_layer(step);
        self.pending = (0, 0);
        let start = Instant::now();
        let out = f(self);
        let seconds = start.elapsed().as_secs_f64();
        a.enter_layer(previous);
        let out = out?;
        self.records.push(StepRecord {
            block: self.block,
            step,
            seconds,
            ops: a.counts() - before,
            depth,
            refreshes: self.pending.0,
            refreshed_ciphertexts: self.pending.1,
            max_error: None,
        });
        Ok(out)
    }
}
