//! [`TokenLayout`]: a sequence of token vectors spread over ciphertexts,
//! one token per block of slots (the layout every encrypted layer takes and
//! returns), and the plaintext masks that select parts of it.

use ndarray::{Array2, ArrayView2};

use crate::nn::linalg::RowBlocks;
use crate::nn::{NnError, Result};

/// Width of a head's segment inside a token block: MiniLM's head size.
pub const SEGMENT: usize = 32;

/// `tokens` vectors of `width` values, one per block of `block` slots
/// (`width` ≤ `block`, zero-padded), R = slots / block tokens per
/// ciphertext, ⌈tokens / R⌉ ciphertexts. Token t sits in ciphertext t / R,
/// block t mod R. The unused blocks of the last ciphertext repeat the last
/// token, so that every block holds values inside the calibrated domains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenLayout {
    rows: RowBlocks,
}

impl TokenLayout {
    /// The layout of `tokens` vectors of `width` in blocks of `block` of `slots` slots.
    pub fn new(tokens: usize, width: usize, block: usize, slots: usize) -> Result<Self> {
        if width > block {
            return Err(NnError::InvalidShape(format!("token width {width} exceeds the block of {block} slots")));
        }
        Ok(Self { rows: RowBlocks::new(tokens, width, block, slots)? })
    }

    /// The same tokens with vectors of another `width` (wider than the
    /// block: column chunks, see [`RowBlocks`]).
    pub fn with_width(&self, width: usize) -> Result<RowBlocks> {
        Ok(self.rows.reshaped(self.tokens(), width)?)
    }

    /// The row-block packing (one chunk).
    #[must_use]
    pub fn rows(&self) -> RowBlocks {
        self.rows
    }

    /// Number of tokens.
    #[must_use]
    pub fn tokens(&self) -> usize {
        self.rows.rows()
    }

    /// Values per token.
    #[must_use]
    pub fn width(&self) -> usize {
        self.rows.cols()
    }

    /// Block width.
    #[must_use]
    pub fn block(&self) -> usize {
        self.rows.block()
    }

    /// Slots per ciphertext.
    #[must_use]
    pub fn slots(&self) -> usize {
        self.rows.slots()
    }

    /// Tokens per ciphertext.
    #[must_use]
    pub fn per_ciphertext(&self) -> usize {
        self.rows.rows_per_ciphertext()
    }

    /// Ciphertexts.
    #[must_use]
    pub fn ciphertexts(&self) -> usize {
        self.rows.groups()
    }

    /// (ciphertext, block) of token `t`.
    #[must_use]
    pub fn position(&self, t: usize) -> (usize, usize) {
        (t / self.per_ciphertext(), t % self.per_ciphertext())
    }

    /// Slot values of each ciphertext for `x` (tokens × width), unused
    /// blocks filled with the last token.
    pub fn pack(&self, x: ArrayView2<f64>) -> Result<Vec<Vec<f64>>> {
        self.pack_rows(x, self.rows)
    }

    /// [`Self::pack`] for a wider matrix in `rows` (column chunks).
    pub fn pack_rows(&self, x: ArrayView2<f64>, rows: RowBlocks) -> Result<Vec<Vec<f64>>> {
        let padded_rows = self.ciphertexts() * self.per_ciphertext();
        let last = x.nrows().checked_sub(1).ok_or_else(|| NnError::InvalidShape("no tokens".into()))?;
        let padded = Array2::from_shape_fn((padded_rows, x.ncols()), |(r, c)| x[[r.min(last), c]]);
        Ok(rows.reshaped(padded_rows, x.ncols())?.pack(padded.view())?)
    }

    /// The tokens × `rows.cols()` matrix back from slot values (unused blocks ignored).
    pub fn unpack_rows(&self, slots: &[Vec<f64>], rows: RowBlocks) -> Result<Array2<f64>> {
        let padded_rows = self.ciphertexts() * self.per_ciphertext();
        let all = rows.reshaped(padded_rows, rows.cols())?.unpack(slots)?;
        Ok(all.slice(ndarray::s![..self.tokens(), ..]).to_owned())
    }

    /// [`Self::unpack_rows`] for this layout.
    pub fn unpack(&self, slots: &[Vec<f64>]) -> Result<Array2<f64>> {
        self.unpack_rows(slots, self.rows)
    }

    /// A vector of `values` (≤ block) repeated in every block.
    #[must_use]
    pub fn replicate(&self, values: &[f64]) -> Vec<f64> {
        let block = self.block();
        (0..self.slots()).map(|j| values.get(j % block).copied().unwrap_or(0.0)).collect()
    }

    /// `value` at the slots of every block whose in-block offset passes `keep`, 0 elsewhere.
    #[must_use]
    pub fn mask(&self, value: f64, keep: impl Fn(usize) -> bool) -> Vec<f64> {
        let block = self.block();
        (0..self.slots()).map(|j| if keep(j % block) { value } else { 0.0 }).collect()
    }

    /// `value` at the first `width` slots of block `b`, 0 elsewhere.
    #[must_use]
    pub fn block_mask(&self, b: usize, value: f64) -> Vec<f64> {
        let (block, width) = (self.block(), self.width());
        (0..self.slots()).map(|j| if j / block == b && j % block < width { value } else { 0.0 }).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_repeats_the_last_token_and_unpack_inverts() {
        let layout = TokenLayout::new(3, 3, 4, 8).unwrap();
        assert_eq!((layout.per_ciphertext(), layout.ciphertexts()), (2, 2));
        let x = Array2::from_shape_fn((3, 3), |(r, c)| (10 * r + c) as f64);
        let packed = layout.pack(x.view()).unwrap();
        assert_eq!(packed[1], [20.0, 21.0, 22.0, 0.0, 20.0, 21.0, 22.0, 0.0]);
        assert_eq!(layout.unpack(&packed).unwrap(), x);
        assert_eq!(layout.position(2), (1, 0));
        assert_eq!(layout.block_mask(1, 2.0), [0.0, 0.0, 0.0, 0.0, 2.0, 2.0, 2.0, 0.0]);
        assert!(TokenLayout::new(3, 5, 4, 8).is_err());
    }
}
