//! [`RowBlocks`]: how a matrix is spread over ciphertexts for the matrix
//! products ([`super::MatMulPlain`], [`super::MatMulABt`], [`super::MatMulAtB`]).

use ndarray::{Array2, ArrayView2};

use crate::ckks::{CkksError, Result};

/// Row-block packing of an r × c matrix into ciphertexts of `slots` slots.
///
/// The columns are cut into chunks of `block` columns and the rows into
/// groups of s = `slots` / `block` rows (both powers of two). Ciphertext
/// g·chunks + t holds row group g, column chunk t: row g·s + i of the matrix
/// sits in block i (slots i·block .. (i + 1)·block), its columns
/// t·block .. (t + 1)·block in order, zero-padded. Example: a 3 × 5 matrix
/// with block 4 in 8 slots is four ciphertexts (2 groups × 2 chunks); the
/// first holds rows 0 and 1, columns 0..4: `[x00 x01 x02 x03 | x10 x11 x12 x13]`.
///
/// With block ≥ c this is one row per block, the layout of a transformer's
/// token matrix (one token per block) and of the samples of
/// [`crate::nn::head::logreg`]; a rotation by a multiple of `block` moves
/// whole rows, a rotation inside a block moves columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowBlocks {
    rows: usize,
    cols: usize,
    block: usize,
    slots: usize,
}

impl RowBlocks {
    /// The packing of a `rows` × `cols` matrix with the given block width
    /// and slot count (powers of two, block ≤ slots).
    pub fn new(rows: usize, cols: usize, block: usize, slots: usize) -> Result<Self> {
        if rows == 0 || cols == 0 || !block.is_power_of_two() || !slots.is_power_of_two() || block > slots {
            return Err(CkksError::InvalidInput {
                op: "row blocks",
                reason: format!(
                    "{rows}×{cols} matrix in blocks of {block} of {slots} slots \
                     (non-empty; block and slots powers of two, block ≤ slots)"
                ),
            });
        }
        Ok(Self { rows, cols, block, slots })
    }

    /// The packing that makes [`super::MatMulPlain`] cheapest for a
    /// `rows` × `cols` matrix in at most `max_slots` slots: the narrowest
    /// block that still fits every row in one ciphertext, block =
    /// `max_slots` / rows (powers of two), capped at the padded column count;
    /// then the fewest slots that hold it. Narrower blocks mean fewer
    /// rotations per ciphertext, but below this width the rows no longer
    /// fill the slots and the plaintext multiplications grow (see
    /// `matmul`). 16 × 384 in 8192 slots: block 512, one
    /// ciphertext; 128 × 384: block 64, six ciphertexts.
    pub fn densest(rows: usize, cols: usize, max_slots: usize) -> Result<Self> {
        let rows_pad = rows.max(1).next_power_of_two();
        let cols_pad = cols.max(1).next_power_of_two();
        let block = (max_slots / rows_pad).clamp(1, cols_pad);
        Self::new(rows, cols, block, (rows_pad * block).min(max_slots))
    }

    /// The same packing for a matrix of `rows` × `cols`.
    pub fn reshaped(&self, rows: usize, cols: usize) -> Result<Self> {
        Self::new(rows, cols, self.block, self.slots)
    }

    /// Number of matrix rows.
    #[must_use]
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of matrix columns.
    #[must_use]
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Block width: columns per chunk.
    #[must_use]
    pub fn block(&self) -> usize {
        self.block
    }

    /// Slots of every ciphertext.
    #[must_use]
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// Rows per ciphertext: slots / block.
    #[must_use]
    pub fn rows_per_ciphertext(&self) -> usize {
        self.slots / self.block
    }

    /// Column chunks: ⌈cols / block⌉.
    #[must_use]
    pub fn chunks(&self) -> usize {
        self.cols.div_ceil(self.block)
    }

    /// Row groups: ⌈rows / rows per ciphertext⌉.
    #[must_use]
    pub fn groups(&self) -> usize {
        self.rows.div_ceil(self.rows_per_ciphertext())
    }

    /// Ciphertexts of the whole matrix: groups × chunks.
    #[must_use]
    pub fn ciphertexts(&self) -> usize {
        self.groups() * self.chunks()
    }

    /// Slot values of each ciphertext (in order g·chunks + t) for `m`.
    pub fn pack(&self, m: ArrayView2<f64>) -> Result<Vec<Vec<f64>>> {
        if m.dim() != (self.rows, self.cols) {
            return Err(CkksError::InvalidInput {
                op: "row blocks",
                reason: format!("a {:?} matrix does not fit a packing of {}×{}", m.dim(), self.rows, self.cols),
            });
        }
        let mut out = vec![vec![0.0; self.slots]; self.ciphertexts()];
        for ((r, c), &v) in m.indexed_iter() {
            let (ct, slot) = self.position(r, c);
            out[ct][slot] = v;
        }
        Ok(out)
    }

    /// The matrix back from the slot values of each ciphertext (padding ignored).
    pub fn unpack(&self, slots: &[Vec<f64>]) -> Result<Array2<f64>> {
        if slots.len() != self.ciphertexts() || slots.iter().any(|s| s.len() != self.slots) {
            return Err(CkksError::InvalidInput {
                op: "row blocks",
                reason: format!(
                    "{} slot vectors do not match {} ciphertexts of {} slots",
                    slots.len(),
                    self.ciphertexts(),
                    self.slots
                ),
            });
        }
        Ok(Array2::from_shape_fn((self.rows, self.cols), |(r, c)| {
            let (ct, slot) = self.position(r, c);
            slots[ct][slot]
        }))
    }

    /// (ciphertext, slot) of entry (r, c).
    fn position(&self, r: usize, c: usize) -> (usize, usize) {
        let s = self.rows_per_ciphertext();
        ((r / s) * self.chunks() + c / self.block, (r % s) * self.block + c % self.block)
    }
}

#[cfg(test)]
mod tests {
    use ndarray::Array2;

    use super::*;

    #[test]
    fn pack_places_rows_in_blocks_and_unpack_inverts_it() {
        let layout = RowBlocks::new(3, 5, 4, 8).unwrap();
        assert_eq!((layout.rows_per_ciphertext(), layout.chunks(), layout.groups()), (2, 2, 2));
        let m = Array2::from_shape_fn((3, 5), |(r, c)| (10 * r + c) as f64);
        let packed = layout.pack(m.view()).unwrap();
        assert_eq!(packed[0], [0.0, 1.0, 2.0, 3.0, 10.0, 11.0, 12.0, 13.0]);
        assert_eq!(packed[1], [4.0, 0.0, 0.0, 0.0, 14.0, 0.0, 0.0, 0.0]);
        assert_eq!(packed[2], [20.0, 21.0, 22.0, 23.0, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(packed[3], [24.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(layout.unpack(&packed).unwrap(), m);
    }

    #[test]
    fn densest_fills_one_ciphertext_with_the_narrowest_block() {
        let cases =
            [((16, 384), (512, 8192)), ((128, 384), (64, 8192)), ((16, 64), (64, 1024)), ((20000, 3), (1, 8192))];
        for ((rows, cols), (block, slots)) in cases {
            let layout = RowBlocks::densest(rows, cols, 8192).unwrap();
            assert_eq!((layout.block(), layout.slots()), (block, slots), "{rows}×{cols}");
        }
    }

    #[test]
    fn bad_packings_and_shapes_are_refused() {
        assert!(RowBlocks::new(0, 4, 4, 8).is_err());
        assert!(RowBlocks::new(2, 4, 3, 8).is_err());
        assert!(RowBlocks::new(2, 4, 16, 8).is_err());
        let layout = RowBlocks::new(2, 4, 4, 8).unwrap();
        assert!(layout.pack(Array2::<f64>::zeros((2, 5)).view()).is_err());
        assert!(layout.unpack(&[vec![0.0; 8], vec![0.0; 8]]).is_err());
        assert!(layout.unpack(&[vec![0.0; 4]]).is_err());
    }
}
