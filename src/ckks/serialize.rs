//! Versioned files for keys, ciphertexts and parameter sets.
//!
//! Keys and ciphertexts use one binary container. All integers are
//! little-endian:
//!
//! | offset   | size  | field                                                                  |
//! |----------|-------|------------------------------------------------------------------------|
//! | 0        | 4     | magic `b"HETL"`                                                        |
//! | 4        | 2     | format version (u16, = [`FORMAT_VERSION`])                             |
//! | 6        | 1     | kind (u8): 1 secret key, 2 public key, 3 evaluation keys, 4 ciphertext |
//! | 7        | 1     | reserved, 0                                                            |
//! | 8        | 16    | parameter fingerprint ([`Params::fingerprint`])                        |
//! | 24       | 8     | payload length L (u64)                                                 |
//! | 32       | L     | payload (below)                                                        |
//! | 32 + L   | 32    | SHA-256 of bytes 0 .. 32 + L                                           |
//!
//! Payloads. A *poly* is `q: u32, p: u32` (its basis: Q limbs, P limbs)
//! followed by `(q + p)·N` words (u32), limb-major, NTT domain, each below
//! its limb's prime. A *switching key* is `digits: u32` (= ceil(#Q / alpha))
//! followed by `digits × (poly b, poly a)` over the full basis Q ∪ P.
//! `key_id` is 16 bytes, shared by all keys of one key pair.
//!
//! | kind            | payload                                                                   |
//! |-----------------|---------------------------------------------------------------------------|
//! | secret key      | key_id, `N: u32`, N × i8 coefficients in {-1, 0, 1}                       |
//! | public key      | key_id, poly b, poly a (both over the full Q)                             |
//! | evaluation keys | key_id, `relin: u8` (0/1), relinearization switching key if 1,            |
//! |                 | `count: u32`, count × (`galois: u64`, switching key), elements ascending  |
//! | ciphertext      | `level: u32`, `slots: u32`, `scale: u64` (f64 bits), key_id,              |
//! |                 | `polys: u32` (2 or 3), polys × poly (the level's Q limbs, no P)           |
//!
//! Loading checks, in this order: magic, version, kind, fingerprint (a
//! different one is reported as [`SerializationError::ParamsMismatch`] once
//! the file's checksum has been verified by streaming, so a corrupt header
//! reads as corrupt), the payload length against the largest object of that
//! kind the parameter set allows (before any allocation), the checksum, and
//! then every field of the payload. Loading never panics and never returns
//! an object that violates the invariants the evaluator relies on.
//!
//! A parameter set is stored as JSON:
//! `{"format_version": 1, "literal": {...}, "fingerprint": "32 hex digits"}`;
//! loading rebuilds it with [`Params::try_from_literal`] and compares fingerprints.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::keys::{PublicKey, SecretKey, SwitchingKey};
use super::{Ciphertext, CkksError, Context, EvaluationKeys, Params, ParamsLiteral, Result, SerializationError};
use crate::backend::{Basis, DevicePoly, digit_ranges};
use crate::sched::OpKind;

/// Format version written by this build (and the only one it reads).
pub const FORMAT_VERSION: u16 = 1;
/// The four bytes every hetl binary file starts with.
pub const MAGIC: [u8; 4] = *b"HETL";
/// Bytes before the payload.
pub const HEADER_LEN: usize = 32;
/// Bytes of the trailing SHA-256.
pub const CHECKSUM_LEN: usize = 32;
/// Largest buffer reserved up front for a payload; bigger payloads grow as
/// their bytes actually arrive, so a corrupt length cannot allocate more
/// than the file holds.
const MAX_PREALLOC: usize = 16 << 20;
/// Bytes of a ciphertext payload before its polynomials.
const CT_FIXED: u64 = 4 + 4 + 8 + 16 + 4;

/// What a binary hetl file holds (the header's kind byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ObjectKind {
    /// A [`SecretKey`].
    SecretKey = 1,
    /// A [`PublicKey`].
    PublicKey = 2,
    /// [`EvaluationKeys`].
    EvaluationKeys = 3,
    /// A [`Ciphertext`].
    Ciphertext = 4,
}

impl ObjectKind {
    /// Human name used in error messages.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::SecretKey => "secret key",
            Self::PublicKey => "public key",
            Self::EvaluationKeys => "evaluation keys",
            Self::Ciphertext => "ciphertext",
        }
    }
}

fn malformed(msg: impl Into<String>) -> CkksError {
    SerializationError::Malformed(msg.into()).into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------------------
// Writer / Reader

/// Appends little-endian fields to a buffer that is wiped when dropped (it
/// may hold secret-key bytes; the capacity is reserved up front so that no
/// reallocation leaves copies behind).
struct Writer {
    buf: Zeroizing<Vec<u8>>,
    /// Total file length announced to [`Writer::new`].
    total: usize,
}

impl Writer {
    /// Writes the header (with a placeholder length) of a file whose payload
    /// will be `payload_len` bytes.
    fn new(kind: ObjectKind, fingerprint: [u8; 16], payload_len: usize) -> Self {
        let total = HEADER_LEN + payload_len + CHECKSUM_LEN;
        let mut w = Self { buf: Zeroizing::new(Vec::with_capacity(total)), total };
        w.bytes(&MAGIC);
        w.u16(FORMAT_VERSION);
        w.u8(kind as u8);
        w.u8(0);
        w.bytes(&fingerprint);
        w.u64(0);
        w
    }

    fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }
    fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.bytes(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
    fn usize32(&mut self, v: usize) {
        // Every count written (level, slots, limbs, digits) is far below 2^32.
        self.u32(u32::try_from(v).expect("counts of a valid object fit in u32"));
    }
    fn words(&mut self, words: &[u32]) {
        for w in words {
            self.u32(*w);
        }
    }

    /// Patches the payload length and appends the checksum.
    fn finish(mut self) -> Zeroizing<Vec<u8>> {
        let payload_len = (self.buf.len() - HEADER_LEN) as u64;
        self.buf[24..32].copy_from_slice(&payload_len.to_le_bytes());
        let digest = Sha256::digest(&self.buf[..]);
        self.buf.extend_from_slice(&digest);
        debug_assert_eq!(self.buf.len(), self.total, "payload size was computed exactly");
        self.buf
    }
}

/// Reads little-endian fields from a verified payload; every read checks the
/// remaining length first.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(malformed(format!(
                "payload ends inside {what}: {n} bytes needed at offset {}, {} left",
                self.pos,
                self.remaining()
            )));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn array<const K: usize>(&mut self, what: &str) -> Result<[u8; K]> {
        let mut out = [0u8; K];
        out.copy_from_slice(self.take(K, what)?);
        Ok(out)
    }
    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.array::<1>(what)?[0])
    }
    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
    fn usize32(&mut self, what: &str) -> Result<usize> {
        Ok(self.u32(what)? as usize)
    }

    /// Errors unless the whole payload was consumed.
    fn finish(&self, kind: ObjectKind) -> Result<()> {
        match self.remaining() {
            0 => Ok(()),
            extra => Err(malformed(format!("{extra} unexpected bytes after the {} payload", kind.name()))),
        }
    }
}

// ---------------------------------------------------------------------------
// Framing

/// Reads into `buf` until it is full or the reader ends; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(SerializationError::Io(e).into()),
        }
    }
    Ok(got)
}

/// Fixed header fields.
struct Header {
    bytes: [u8; HEADER_LEN],
    reserved: u8,
    fingerprint: [u8; 16],
    payload_len: u64,
}

fn read_header(r: &mut impl Read, kind: ObjectKind) -> Result<Header> {
    let mut bytes = [0u8; HEADER_LEN];
    let got = read_full(r, &mut bytes)?;
    let wrong_kind = || CkksError::from(SerializationError::WrongKind { expected: kind.name() });
    // Identify the file from whatever prefix is there before calling it truncated.
    let magic_len = got.min(MAGIC.len());
    if bytes[..magic_len] != MAGIC[..magic_len] {
        return Err(wrong_kind());
    }
    if got >= 6 {
        let version = u16::from_le_bytes([bytes[4], bytes[5]]);
        if version != FORMAT_VERSION {
            return Err(SerializationError::Version { found: version, supported: FORMAT_VERSION }.into());
        }
    }
    if got >= 7 && bytes[6] != kind as u8 {
        return Err(wrong_kind());
    }
    if got < HEADER_LEN {
        return Err(SerializationError::Truncated { expected: HEADER_LEN, found: got }.into());
    }
    let mut fingerprint = [0u8; 16];
    fingerprint.copy_from_slice(&bytes[8..24]);
    let payload_len = u64::from_le_bytes(bytes[24..32].try_into().expect("8 bytes"));
    Ok(Header { bytes, reserved: bytes[7], fingerprint, payload_len })
}

/// A `Write` that only hashes and counts.
struct HashSink {
    hasher: Sha256,
    count: u64,
}

impl Write for HashSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.hasher.update(buf);
        self.count += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Total file length for a payload of `payload_len` bytes, saturated to usize.
fn file_len(payload_len: u64) -> usize {
    usize::try_from(payload_len).unwrap_or(usize::MAX).saturating_add(HEADER_LEN + CHECKSUM_LEN)
}

/// Reads the trailing checksum and compares it with `hasher`'s digest.
fn verify_checksum(r: &mut impl Read, hasher: Sha256, payload_len: u64) -> Result<()> {
    let mut stored = [0u8; CHECKSUM_LEN];
    let got = read_full(r, &mut stored)?;
    if got < CHECKSUM_LEN {
        let expected = file_len(payload_len);
        return Err(SerializationError::Truncated { expected, found: expected - CHECKSUM_LEN + got }.into());
    }
    if hasher.finalize().as_slice() == stored { Ok(()) } else { Err(SerializationError::Checksum.into()) }
}

/// Reads one framed object of `kind` for `params` and returns its verified
/// payload (in a buffer wiped on drop). `max_payload` is the largest payload
/// `params` allows for this kind; `exact` requires exactly that length.
fn read_frame(
    r: &mut impl Read,
    kind: ObjectKind,
    params: &Params,
    max_payload: u64,
    exact: bool,
) -> Result<Zeroizing<Vec<u8>>> {
    let header = read_header(r, kind)?;
    let len = header.payload_len;
    if header.fingerprint != params.fingerprint() {
        // Stream the rest through the hash (no allocation): a corrupt file is
        // reported as corrupt, an intact one as made for other parameters.
        let mut sink = HashSink { hasher: Sha256::new(), count: 0 };
        sink.hasher.update(header.bytes);
        std::io::copy(&mut r.take(len), &mut sink).map_err(SerializationError::Io)?;
        if sink.count < len {
            let expected = file_len(len);
            return Err(SerializationError::Truncated { expected, found: HEADER_LEN + sink.count as usize }.into());
        }
        verify_checksum(r, sink.hasher, len)?;
        return Err(SerializationError::ParamsMismatch {
            found: hex(&header.fingerprint),
            expected: params.fingerprint_hex(),
        }
        .into());
    }
    if len > max_payload || (exact && len != max_payload) {
        let bound = if exact { "exactly" } else { "at most" };
        return Err(malformed(format!(
            "payload length {len} is invalid: a {} takes {bound} {max_payload} bytes under parameter set {} \
             (corrupt length field?)",
            kind.name(),
            params.name()
        )));
    }
    // len ≤ max_payload, which fits in memory for any valid parameter set;
    // still, only reserve a bounded amount up front.
    let len_usize = len as usize;
    let mut payload = Zeroizing::new(Vec::with_capacity(len_usize.min(MAX_PREALLOC)));
    r.take(len).read_to_end(&mut payload).map_err(SerializationError::Io)?;
    if payload.len() < len_usize {
        return Err(SerializationError::Truncated { expected: file_len(len), found: HEADER_LEN + payload.len() }.into());
    }
    let mut hasher = Sha256::new();
    hasher.update(header.bytes);
    hasher.update(&payload[..]);
    verify_checksum(r, hasher, len)?;
    if header.reserved != 0 {
        return Err(malformed(format!("reserved header byte is {} (must be 0 in format version 1)", header.reserved)));
    }
    Ok(payload)
}

/// Runs `load` on `bytes` and rejects anything after the checksum.
fn from_bytes<T>(bytes: &[u8], kind: ObjectKind, load: impl FnOnce(&mut &[u8]) -> Result<T>) -> Result<T> {
    let mut r = bytes;
    let out = load(&mut r)?;
    if r.is_empty() {
        Ok(out)
    } else {
        Err(malformed(format!("{} unexpected bytes after the {} file's checksum", r.len(), kind.name())))
    }
}

fn write_all(w: &mut impl Write, bytes: &[u8]) -> Result<()> {
    w.write_all(bytes).map_err(|e| SerializationError::Io(e).into())
}

// ---------------------------------------------------------------------------
// Sizes

/// Bytes of a serialized polynomial over `basis`.
fn poly_len(basis: Basis, n: usize) -> u64 {
    8 + (basis.limbs() * n * 4) as u64
}

fn full_basis(params: &Params) -> Basis {
    Basis { q: params.ring().q.len(), p: params.ring().p.len() }
}

/// Digits of a switching key under `params`.
fn digit_count(params: &Params) -> usize {
    digit_ranges(params.ring().q.len(), params.alpha()).len()
}

fn switching_key_len(params: &Params) -> u64 {
    4 + (2 * digit_count(params)) as u64 * poly_len(full_basis(params), params.n())
}

fn secret_key_len(params: &Params) -> u64 {
    16 + 4 + params.n() as u64
}

fn public_key_len(params: &Params) -> u64 {
    16 + 2 * poly_len(Basis::q(params.ring().q.len()), params.n())
}

/// Largest evaluation-key payload: relinearization plus a key for every
/// non-identity Galois element (N − 1 of them).
fn max_evaluation_keys_len(params: &Params) -> u64 {
    let swk = switching_key_len(params);
    (16 + 1 + 4 + swk).saturating_add((params.n() as u64 - 1).saturating_mul(8 + swk))
}

fn max_ciphertext_len(params: &Params) -> u64 {
    CT_FIXED + 3 * poly_len(Basis::q(params.q_limbs(params.max_level())), params.n())
}

// ---------------------------------------------------------------------------
// Polynomials

impl Context {
    fn check_params_id(&self, op: &'static str, params_id: [u8; 16]) -> Result<()> {
        if params_id == self.params().fingerprint() { Ok(()) } else { Err(CkksError::ParamsMismatch { op }) }
    }

    fn write_poly(&self, w: &mut Writer, poly: &DevicePoly) -> Result<()> {
        let basis = poly.basis();
        let words = self.run(OpKind::Download, |b| b.download(poly))?;
        if words.len() != basis.limbs() * self.params().n() {
            // Should not happen unless a backend breaks the layout contract.
            return Err(CkksError::InvalidInput {
                op: "save",
                reason: format!("device returned {} words for basis {basis:?}", words.len()),
            });
        }
        w.usize32(basis.q);
        w.usize32(basis.p);
        w.words(&words);
        Ok(())
    }

    /// Reads a polynomial that must have basis `expected`; `what` names it
    /// in errors and `why` says where the expected basis comes from.
    fn read_poly(&self, rd: &mut Reader<'_>, expected: Basis, what: &str, why: &str) -> Result<DevicePoly> {
        let q = rd.usize32(what)?;
        let p = rd.usize32(what)?;
        if (q, p) != (expected.q, expected.p) {
            return Err(malformed(format!(
                "{what} has {q} Q + {p} P limbs, expected {} Q + {} P ({why})",
                expected.q, expected.p
            )));
        }
        let n = self.params().n();
        let ring = self.params().ring();
        let bytes = rd.take(expected.limbs() * n * 4, what)?;
        let mut words = Vec::with_capacity(expected.limbs() * n);
        for (k, limb) in bytes.chunks_exact(4 * n).enumerate() {
            let prime = ring.modulus(expected.global(k, ring)).value();
            for (i, c) in limb.chunks_exact(4).enumerate() {
                let w = u32::from_le_bytes(c.try_into().expect("4 bytes"));
                if w >= prime {
                    return Err(malformed(format!(
                        "{what}: residue {w} at limb {k}, coefficient {i} is not below its prime {prime}"
                    )));
                }
                words.push(w);
            }
        }
        self.run(OpKind::Upload, |b| b.upload(expected, &words))
    }

    fn write_switching_key(&self, w: &mut Writer, key: &SwitchingKey) -> Result<()> {
        w.usize32(key.digits.len());
        for [b, a] in &key.digits {
            self.write_poly(w, b)?;
            self.write_poly(w, a)?;
        }
        Ok(())
    }

    fn read_switching_key(&self, rd: &mut Reader<'_>, what: &str) -> Result<SwitchingKey> {
        let expected = digit_count(self.params());
        let count = rd.usize32(what)?;
        if count != expected {
            return Err(malformed(format!(
                "{what} has {count} digits, expected {expected} (dnum = {} over {} Q limbs)",
                self.params().dnum(),
                self.params().ring().q.len()
            )));
        }
        let basis = full_basis(self.params());
        let mut digits = Vec::with_capacity(count);
        for j in 0..count {
            let b = self.read_poly(rd, basis, &format!("{what}, digit {j}, b"), "keys span Q and P")?;
            let a = self.read_poly(rd, basis, &format!("{what}, digit {j}, a"), "keys span Q and P")?;
            digits.push([b, a]);
        }
        Ok(SwitchingKey { digits })
    }
}

// ---------------------------------------------------------------------------
// Public API: ciphertexts and keys

impl Context {
    /// Serializes `ct` (downloaded from the device) into a framed hetl file.
    pub fn ciphertext_to_bytes(&self, ct: &Ciphertext) -> Result<Vec<u8>> {
        self.check_params_id("save ciphertext", ct.params_id)?;
        if !(ct.scale.is_finite() && ct.scale >= 1.0) {
            return Err(CkksError::InvalidInput {
                op: "save ciphertext",
                reason: format!("scale {} is not finite or below 1", ct.scale),
            });
        }
        let n = self.params().n();
        let len = CT_FIXED + ct.polys.iter().map(|p| poly_len(p.basis(), n)).sum::<u64>();
        let mut w = Writer::new(ObjectKind::Ciphertext, self.params().fingerprint(), len as usize);
        w.usize32(ct.level);
        w.usize32(ct.slots);
        w.u64(ct.scale.to_bits());
        w.bytes(&ct.key_id);
        w.usize32(ct.polys.len());
        for p in &ct.polys {
            self.write_poly(&mut w, p)?;
        }
        Ok(std::mem::take(&mut *w.finish()))
    }

    /// Writes `ct` to `w` (see the module docs for the format).
    pub fn save_ciphertext(&self, ct: &Ciphertext, w: &mut impl Write) -> Result<()> {
        write_all(w, &self.ciphertext_to_bytes(ct)?)
    }

    /// Reads one ciphertext from `r`, fully validated against this context's
    /// parameters; reads nothing past its checksum.
    pub fn load_ciphertext(&self, r: &mut impl Read) -> Result<Ciphertext> {
        let params = self.params();
        let payload = read_frame(r, ObjectKind::Ciphertext, params, max_ciphertext_len(params), false)?;
        let mut rd = Reader::new(&payload);
        let level = rd.usize32("level")?;
        if level > params.max_level() {
            return Err(malformed(format!(
                "ciphertext level {level} is above the maximum level {} of parameter set {}",
                params.max_level(),
                params.name()
            )));
        }
        let slots = rd.usize32("slots")?;
        if !slots.is_power_of_two() || slots > params.max_slots() {
            return Err(malformed(format!(
                "ciphertext slot count {slots} is not a power of two in [1, {}] (N/2)",
                params.max_slots()
            )));
        }
        let scale = f64::from_bits(rd.u64("scale")?);
        if !(scale.is_finite() && scale >= 1.0) {
            return Err(malformed(format!("ciphertext scale {scale} is not finite or below 1")));
        }
        let key_id = rd.array::<16>("key id")?;
        let count = rd.usize32("polynomial count")?;
        if !(2..=3).contains(&count) {
            return Err(malformed(format!("ciphertext has {count} polynomials, expected 2 or 3")));
        }
        let basis = Basis::q(params.q_limbs(level));
        let why = format!("level {level}");
        let polys = (0..count)
            .map(|i| self.read_poly(&mut rd, basis, &format!("ciphertext polynomial {i}"), &why))
            .collect::<Result<Vec<_>>>()?;
        rd.finish(ObjectKind::Ciphertext)?;
        Ok(Ciphertext { polys, level, scale, slots, params_id: params.fingerprint(), key_id })
    }

    /// [`Context::load_ciphertext`] from a byte slice that must hold exactly one file.
    pub fn ciphertext_from_bytes(&self, bytes: &[u8]) -> Result<Ciphertext> {
        from_bytes(bytes, ObjectKind::Ciphertext, |r| self.load_ciphertext(r))
    }

    /// Serializes the public key.
    pub fn public_key_to_bytes(&self, pk: &PublicKey) -> Result<Vec<u8>> {
        self.check_params_id("save public key", pk.params_id)?;
        let mut w =
            Writer::new(ObjectKind::PublicKey, self.params().fingerprint(), public_key_len(self.params()) as usize);
        w.bytes(&pk.key_id);
        for p in &pk.polys {
            self.write_poly(&mut w, p)?;
        }
        Ok(std::mem::take(&mut *w.finish()))
    }

    /// Writes the public key to `w`.
    pub fn save_public_key(&self, pk: &PublicKey, w: &mut impl Write) -> Result<()> {
        write_all(w, &self.public_key_to_bytes(pk)?)
    }

    /// Reads a public key from `r`, fully validated; reads nothing past its checksum.
    pub fn load_public_key(&self, r: &mut impl Read) -> Result<PublicKey> {
        let params = self.params();
        let payload = read_frame(r, ObjectKind::PublicKey, params, public_key_len(params), true)?;
        let mut rd = Reader::new(&payload);
        let key_id = rd.array::<16>("key id")?;
        let basis = Basis::q(params.ring().q.len());
        let b = self.read_poly(&mut rd, basis, "public key polynomial b", "the public key spans all of Q")?;
        let a = self.read_poly(&mut rd, basis, "public key polynomial a", "the public key spans all of Q")?;
        rd.finish(ObjectKind::PublicKey)?;
        Ok(PublicKey { polys: [b, a], params_id: params.fingerprint(), key_id })
    }

    /// [`Context::load_public_key`] from a byte slice that must hold exactly one file.
    pub fn public_key_from_bytes(&self, bytes: &[u8]) -> Result<PublicKey> {
        from_bytes(bytes, ObjectKind::PublicKey, |r| self.load_public_key(r))
    }

    /// Serializes the evaluation keys (relinearization and Galois keys).
    pub fn evaluation_keys_to_bytes(&self, keys: &EvaluationKeys) -> Result<Vec<u8>> {
        let params = self.params();
        self.check_params_id("save evaluation keys", keys.params_id)?;
        let swk = switching_key_len(params);
        let len = 16 + 1 + 4 + u64::from(keys.relin.is_some()) * swk + keys.galois.len() as u64 * (8 + swk);
        let mut w = Writer::new(ObjectKind::EvaluationKeys, params.fingerprint(), len as usize);
        w.bytes(&keys.key_id);
        w.u8(u8::from(keys.relin.is_some()));
        if let Some(relin) = &keys.relin {
            self.write_switching_key(&mut w, relin)?;
        }
        w.usize32(keys.galois.len());
        for (&g, key) in &keys.galois {
            w.u64(g);
            self.write_switching_key(&mut w, key)?;
        }
        Ok(std::mem::take(&mut *w.finish()))
    }

    /// Writes the evaluation keys to `w`.
    pub fn save_evaluation_keys(&self, keys: &EvaluationKeys, w: &mut impl Write) -> Result<()> {
        write_all(w, &self.evaluation_keys_to_bytes(keys)?)
    }

    /// Reads evaluation keys from `r`, fully validated; reads nothing past its checksum.
    pub fn load_evaluation_keys(&self, r: &mut impl Read) -> Result<EvaluationKeys> {
        let params = self.params();
        let payload = read_frame(r, ObjectKind::EvaluationKeys, params, max_evaluation_keys_len(params), false)?;
        let mut rd = Reader::new(&payload);
        let key_id = rd.array::<16>("key id")?;
        let relin = match rd.u8("relinearization flag")? {
            0 => None,
            1 => Some(self.read_switching_key(&mut rd, "relinearization key")?),
            f => return Err(malformed(format!("relinearization flag is {f}, expected 0 or 1"))),
        };
        let count = rd.usize32("Galois key count")?;
        let two_n = 2 * params.n() as u64;
        if count >= params.n() {
            return Err(malformed(format!(
                "{count} Galois keys, but at most N − 1 = {} elements exist",
                params.n() - 1
            )));
        }
        let mut galois = BTreeMap::new();
        let mut previous = 1u64;
        for i in 0..count {
            let g = rd.u64("Galois element")?;
            if g % 2 == 0 || g >= two_n {
                return Err(malformed(format!("Galois element {g} must be odd and below 2N = {two_n}")));
            }
            if g <= previous {
                return Err(malformed(format!(
                    "Galois element {g} (key {i}) is the identity, a duplicate or out of order (elements must be \
                     strictly increasing and above 1)"
                )));
            }
            previous = g;
            let key = self.read_switching_key(&mut rd, &format!("Galois key {g}"))?;
            galois.insert(g, key);
        }
        rd.finish(ObjectKind::EvaluationKeys)?;
        Ok(EvaluationKeys { relin, galois, params_id: params.fingerprint(), key_id })
    }

    /// [`Context::load_evaluation_keys`] from a byte slice that must hold exactly one file.
    pub fn evaluation_keys_from_bytes(&self, bytes: &[u8]) -> Result<EvaluationKeys> {
        from_bytes(bytes, ObjectKind::EvaluationKeys, |r| self.load_evaluation_keys(r))
    }

    /// Serializes the secret key into a buffer that is wiped when dropped.
    /// The bytes are the secret: store them with restrictive permissions.
    pub fn secret_key_to_bytes(&self, sk: &SecretKey) -> Result<Zeroizing<Vec<u8>>> {
        let params = self.params();
        self.check_params_id("save secret key", sk.params_id)?;
        let mut w = Writer::new(ObjectKind::SecretKey, params.fingerprint(), secret_key_len(params) as usize);
        w.bytes(&sk.key_id);
        w.usize32(sk.coeffs.len());
        for &c in &sk.coeffs {
            w.u8(c as u8);
        }
        Ok(w.finish())
    }

    /// Writes the secret key to `w`; the intermediate buffer is zeroized.
    pub fn save_secret_key(&self, sk: &SecretKey, w: &mut impl Write) -> Result<()> {
        write_all(w, &self.secret_key_to_bytes(sk)?)
    }

    /// Reads a secret key from `r`, fully validated; every buffer that held
    /// key bytes is zeroized. Reads nothing past its checksum.
    pub fn load_secret_key(&self, r: &mut impl Read) -> Result<SecretKey> {
        let params = self.params();
        let n = params.n();
        let payload = read_frame(r, ObjectKind::SecretKey, params, secret_key_len(params), true)?;
        let mut rd = Reader::new(&payload);
        let key_id = rd.array::<16>("key id")?;
        let count = rd.usize32("coefficient count")?;
        if count != n {
            return Err(malformed(format!("secret key has {count} coefficients, expected N = {n}")));
        }
        let bytes = rd.take(n, "secret coefficients")?;
        rd.finish(ObjectKind::SecretKey)?;
        // Exact capacity: no reallocation leaves secret copies behind.
        let mut coeffs: Vec<i8> = Vec::with_capacity(n);
        coeffs.extend(bytes.iter().map(|&b| b as i8));
        // Build the key first so that every early return below wipes the coefficients.
        let sk = SecretKey { coeffs, params_id: params.fingerprint(), key_id };
        if let Some(i) = sk.coeffs.iter().position(|c| !(-1..=1).contains(c)) {
            return Err(malformed(format!("secret coefficient {i} is outside {{-1, 0, 1}}")));
        }
        if let Some(h) = params.literal().secret_hw {
            let weight = sk.coeffs.iter().filter(|&&c| c != 0).count();
            if weight != h {
                return Err(malformed(format!(
                    "secret key has Hamming weight {weight}, parameter set {} requires {h}",
                    params.name()
                )));
            }
        }
        Ok(sk)
    }

    /// [`Context::load_secret_key`] from a byte slice that must hold exactly one file.
    pub fn secret_key_from_bytes(&self, bytes: &[u8]) -> Result<SecretKey> {
        from_bytes(bytes, ObjectKind::SecretKey, |r| self.load_secret_key(r))
    }
}

// ---------------------------------------------------------------------------
// Parameter files (JSON)

/// JSON form of a parameter file.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ParamsFile {
    format_version: u16,
    literal: ParamsLiteral,
    fingerprint: String,
}

/// Writes `params` as a JSON parameter file (literal plus fingerprint).
pub fn save_params(params: &Params, w: &mut impl Write) -> Result<()> {
    let file = ParamsFile {
        format_version: FORMAT_VERSION,
        literal: params.literal().clone(),
        fingerprint: params.fingerprint_hex(),
    };
    let mut text = serde_json::to_string_pretty(&file).map_err(|e| malformed(e.to_string()))?;
    text.push('\n');
    write_all(w, text.as_bytes())
}

/// Reads a JSON parameter file, rebuilds the set with
/// [`Params::try_from_literal`] and checks its fingerprint.
pub fn load_params(r: &mut impl Read) -> Result<Params> {
    let file: ParamsFile = serde_json::from_reader(r).map_err(|e| {
        if e.is_io() {
            CkksError::from(SerializationError::Io(e.into()))
        } else {
            malformed(format!("parameter file: {e}"))
        }
    })?;
    if file.format_version != FORMAT_VERSION {
        return Err(SerializationError::Version { found: file.format_version, supported: FORMAT_VERSION }.into());
    }
    let params = Params::try_from_literal(file.literal)?;
    if !file.fingerprint.eq_ignore_ascii_case(&params.fingerprint_hex()) {
        return Err(
            SerializationError::ParamsMismatch { found: file.fingerprint, expected: params.fingerprint_hex() }.into()
        );
    }
    Ok(params)
}

/// The JSON parameter file as a string.
pub fn params_to_json(params: &Params) -> Result<String> {
    let mut out = Vec::new();
    save_params(params, &mut out)?;
    String::from_utf8(out).map_err(|e| malformed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use num_complex::Complex64;

    use super::*;
    use crate::ckks::preset;
    use crate::math::sampling::Csprng;

    struct Fixture {
        ctx: Context,
        sk: SecretKey,
        pk: PublicKey,
        evk: EvaluationKeys,
        rng: Csprng,
    }

    fn fixture(name: &str) -> Fixture {
        let ctx = Context::cpu(Arc::new(preset(name).unwrap()), 1).unwrap();
        let mut rng = Csprng::from_seed([7; 32]);
        let sk = ctx.gen_secret_key(&mut rng);
        let pk = ctx.gen_public_key(&sk, &mut rng).unwrap();
        let evk = ctx.gen_evaluation_keys(&sk, true, &[1, -1], true, &mut rng).unwrap();
        Fixture { ctx, sk, pk, evk, rng }
    }

    fn values(k: usize) -> Vec<Complex64> {
        (0..k).map(|i| Complex64::new((i as f64 * 0.37).sin(), (i as f64 * 0.11).cos())).collect()
    }

    fn encrypt(f: &mut Fixture, level: usize) -> Ciphertext {
        let pt = f.ctx.encode(&values(8), level, f.ctx.params().scale(level)).unwrap();
        f.ctx.encrypt(&pt, &f.pk, &mut f.rng).unwrap()
    }

    fn words(ctx: &Context, p: &DevicePoly) -> Vec<u32> {
        ctx.run(OpKind::Download, |b| b.download(p)).unwrap()
    }

    fn ser(e: CkksError) -> SerializationError {
        match e {
            CkksError::Serialization(s) => s,
            other => panic!("expected a serialization error, got {other:?}"),
        }
    }

    /// Recomputes the trailing checksum after a deliberate edit.
    fn fix_checksum(bytes: &mut [u8]) {
        let end = bytes.len() - CHECKSUM_LEN;
        let digest = Sha256::digest(&bytes[..end]);
        bytes[end..].copy_from_slice(&digest);
    }

    #[test]
    fn ciphertext_round_trip_is_bit_exact() {
        let mut f = fixture("toy-n1024");
        let ct = encrypt(&mut f, 3);
        let prod = f.ctx.mul(&ct, &ct).unwrap(); // three polynomials
        for c in [&ct, &prod] {
            let mut file = Vec::new();
            f.ctx.save_ciphertext(c, &mut file).unwrap();
            let back = f.ctx.load_ciphertext(&mut file.as_slice()).unwrap();
            assert_eq!(
                (back.level, back.slots, back.scale.to_bits(), back.key_id),
                (c.level, c.slots, c.scale.to_bits(), c.key_id)
            );
            assert_eq!(back.polys.len(), c.polys.len());
            for (a, b) in back.polys.iter().zip(&c.polys) {
                assert_eq!(a.basis(), b.basis());
                assert_eq!(words(&f.ctx, a), words(&f.ctx, b));
            }
            let d1 = f.ctx.decode(&f.ctx.decrypt(c, &f.sk).unwrap()).unwrap();
            let d2 = f.ctx.decode(&f.ctx.decrypt(&back, &f.sk).unwrap()).unwrap();
            assert_eq!(d1, d2);
            assert_eq!(f.ctx.ciphertext_to_bytes(&back).unwrap(), file);
        }
    }

    #[test]
    fn keys_round_trip_and_work() {
        let mut f = fixture("toy-n1024");
        let sk_bytes = f.ctx.secret_key_to_bytes(&f.sk).unwrap();
        let sk = f.ctx.secret_key_from_bytes(&sk_bytes).unwrap();
        assert_eq!(sk.coeffs, f.sk.coeffs);
        assert_eq!(sk.key_id, f.sk.key_id);

        let pk = f.ctx.public_key_from_bytes(&f.ctx.public_key_to_bytes(&f.pk).unwrap()).unwrap();
        assert_eq!(pk.key_id, f.pk.key_id);
        for (a, b) in pk.polys.iter().zip(&f.pk.polys) {
            assert_eq!(words(&f.ctx, a), words(&f.ctx, b));
        }

        let evk_bytes = f.ctx.evaluation_keys_to_bytes(&f.evk).unwrap();
        let evk = f.ctx.evaluation_keys_from_bytes(&evk_bytes).unwrap();
        assert_eq!(evk.galois_elements(), f.evk.galois_elements());
        assert_eq!(evk.key_id, f.evk.key_id);
        let pairs = std::iter::once((evk.relin.as_ref().unwrap(), f.evk.relin.as_ref().unwrap()))
            .chain(evk.galois.values().zip(f.evk.galois.values()));
        for (a, b) in pairs {
            assert_eq!(a.digits.len(), b.digits.len());
            for (da, db) in a.digits.iter().zip(&b.digits) {
                for (pa, pb) in da.iter().zip(db) {
                    assert_eq!(words(&f.ctx, pa), words(&f.ctx, pb));
                }
            }
        }

        // The loaded keys work: encrypt with the loaded pk, rotate with the loaded evk, decrypt with the loaded sk.
        let pt = f.ctx.encode(&values(8), 2, f.ctx.params().scale(2)).unwrap();
        let ct = f.ctx.encrypt(&pt, &pk, &mut f.rng).unwrap();
        let rotated = f.ctx.rotate(&ct, 1, &evk).unwrap();
        let out = f.ctx.decode(&f.ctx.decrypt(&rotated, &sk).unwrap()).unwrap();
        let want = values(8);
        for i in 0..8 {
            assert!((out[i] - want[(i + 1) % 8]).norm() < 1e-3, "slot {i}: {} vs {}", out[i], want[(i + 1) % 8]);
        }

        // No relinearization key, no Galois keys.
        let bare = f.ctx.gen_evaluation_keys(&f.sk, false, &[], false, &mut f.rng).unwrap();
        let back = f.ctx.evaluation_keys_from_bytes(&f.ctx.evaluation_keys_to_bytes(&bare).unwrap()).unwrap();
        assert!(!back.has_relin() && back.galois_elements().is_empty());
    }

    #[test]
    fn truncation_never_panics() {
        let mut f = fixture("toy-n1024");
        let ct = encrypt(&mut f, 1);
        let files = [
            f.ctx.ciphertext_to_bytes(&ct).unwrap(),
            f.ctx.public_key_to_bytes(&f.pk).unwrap(),
            f.ctx.evaluation_keys_to_bytes(&f.evk).unwrap(),
            f.ctx.secret_key_to_bytes(&f.sk).unwrap().to_vec(),
        ];
        for (k, file) in files.iter().enumerate() {
            let cuts = (0..20).map(|i| i * file.len() / 20).chain([1, 5, 7, 31, 32, 33, file.len() - 1]);
            for cut in cuts {
                let part = &file[..cut];
                let err = match k {
                    0 => f.ctx.ciphertext_from_bytes(part).map(drop),
                    1 => f.ctx.public_key_from_bytes(part).map(drop),
                    2 => f.ctx.evaluation_keys_from_bytes(part).map(drop),
                    _ => f.ctx.secret_key_from_bytes(part).map(drop),
                }
                .unwrap_err();
                let err = ser(err);
                assert!(
                    matches!(err, SerializationError::Truncated { .. } | SerializationError::Checksum),
                    "file {k} cut at {cut}: {err}"
                );
            }
        }
    }

    #[test]
    fn flipped_bytes_are_detected() {
        let mut f = fixture("toy-n1024");
        let ct = encrypt(&mut f, 0);
        let file = f.ctx.ciphertext_to_bytes(&ct).unwrap();
        let len = file.len();
        let positions = (0..HEADER_LEN + 48).chain((HEADER_LEN..len).step_by(61)).chain(len - CHECKSUM_LEN - 4..len);
        for pos in positions {
            let mut bad = file.clone();
            bad[pos] ^= 0x10;
            let err = f.ctx.ciphertext_from_bytes(&bad).expect_err(&format!("flip at {pos} went unnoticed"));
            let err = ser(err);
            if pos >= HEADER_LEN {
                assert!(matches!(err, SerializationError::Checksum), "flip at {pos}: {err}");
            }
        }
        // Header fields give their specific errors.
        let flip = |pos: usize| {
            let mut bad = file.clone();
            bad[pos] ^= 0x01;
            ser(f.ctx.ciphertext_from_bytes(&bad).unwrap_err())
        };
        assert!(matches!(flip(0), SerializationError::WrongKind { expected: "ciphertext" }));
        assert!(matches!(flip(4), SerializationError::Version { found: 0, supported: 1 }));
        assert!(matches!(flip(6), SerializationError::WrongKind { .. }));
        assert!(matches!(flip(7), SerializationError::Checksum));
        assert!(matches!(flip(8), SerializationError::Checksum), "fingerprint flip reads as corruption");
        // Trailing garbage.
        let mut longer = file.clone();
        longer.push(0);
        assert!(matches!(ser(f.ctx.ciphertext_from_bytes(&longer).unwrap_err()), SerializationError::Malformed(_)));
    }

    #[test]
    fn wrong_kind_is_reported() {
        let f = fixture("toy-n1024");
        let pk = f.ctx.public_key_to_bytes(&f.pk).unwrap();
        let err = f.ctx.ciphertext_from_bytes(&pk).unwrap_err();
        assert_eq!(err.to_string(), "not a hetl ciphertext file (bad magic or kind)");
        let err = f.ctx.secret_key_from_bytes(b"hello, world, this is not a key file at all").unwrap_err();
        assert!(matches!(ser(err), SerializationError::WrongKind { expected: "secret key" }));
        let err = f.ctx.secret_key_from_bytes(b"").unwrap_err();
        assert!(matches!(ser(err), SerializationError::Truncated { expected: 32, found: 0 }));
    }

    #[test]
    fn other_parameter_set_is_a_params_mismatch() {
        let mut big = fixture("toy-n4096");
        let small = fixture("toy-n1024");
        let ct = encrypt(&mut big, 2);
        let file = big.ctx.ciphertext_to_bytes(&ct).unwrap();
        let err = ser(small.ctx.ciphertext_from_bytes(&file).unwrap_err());
        match &err {
            SerializationError::ParamsMismatch { found, expected } => {
                assert_eq!(found, &big.ctx.params().fingerprint_hex());
                assert_eq!(expected, &small.ctx.params().fingerprint_hex());
            }
            other => panic!("{other}"),
        }
        assert!(err.to_string().starts_with("parameter-set mismatch: file was made for"), "{err}");
        let keys = big.ctx.evaluation_keys_to_bytes(&big.evk).unwrap();
        assert!(matches!(
            ser(small.ctx.evaluation_keys_from_bytes(&keys).unwrap_err()),
            SerializationError::ParamsMismatch { .. }
        ));
        // Saving an object under the wrong context is refused.
        assert!(matches!(small.ctx.ciphertext_to_bytes(&ct), Err(CkksError::ParamsMismatch { .. })));
    }

    #[test]
    fn corrupt_length_does_not_allocate() {
        let mut f = fixture("toy-n1024");
        let ct = encrypt(&mut f, 1);
        let file = f.ctx.ciphertext_to_bytes(&ct).unwrap();
        for len in [u64::MAX, 1 << 40, max_ciphertext_len(f.ctx.params()) + 1] {
            let mut bad = file.clone();
            bad[24..32].copy_from_slice(&len.to_le_bytes());
            let err = ser(f.ctx.ciphertext_from_bytes(&bad).unwrap_err());
            assert!(matches!(&err, SerializationError::Malformed(m) if m.contains("payload length")), "{err}");
        }
        // Within the bound but longer than the file: truncated, no over-allocation.
        let mut bad = file.clone();
        bad[24..32].copy_from_slice(&max_ciphertext_len(f.ctx.params()).to_le_bytes());
        assert!(matches!(ser(f.ctx.ciphertext_from_bytes(&bad).unwrap_err()), SerializationError::Truncated { .. }));
        // Foreign fingerprint and a huge length: streamed, reported as truncated.
        let mut bad = file.clone();
        bad[8] ^= 1;
        bad[24..32].copy_from_slice(&(1u64 << 62).to_le_bytes());
        assert!(matches!(ser(f.ctx.ciphertext_from_bytes(&bad).unwrap_err()), SerializationError::Truncated { .. }));
        // Secret keys must have exactly the expected length.
        let mut sk = f.ctx.secret_key_to_bytes(&f.sk).unwrap();
        sk[24..32].copy_from_slice(&5u64.to_le_bytes());
        assert!(matches!(ser(f.ctx.secret_key_from_bytes(&sk).unwrap_err()), SerializationError::Malformed(_)));
    }

    /// Edits a payload field, recomputes the checksum and expects `Malformed` containing `needle`.
    fn expect_malformed<T: std::fmt::Debug>(
        file: &[u8],
        edit: impl FnOnce(&mut Vec<u8>),
        load: impl FnOnce(&[u8]) -> Result<T>,
        needle: &str,
    ) {
        let mut bad = file.to_vec();
        edit(&mut bad);
        fix_checksum(&mut bad);
        match ser(load(&bad).unwrap_err()) {
            SerializationError::Malformed(m) => assert!(m.contains(needle), "{m:?} lacks {needle:?}"),
            other => panic!("expected Malformed({needle}), got {other}"),
        }
    }

    #[test]
    fn structurally_bad_content_is_malformed() {
        let mut f = fixture("toy-n1024");
        let ct = encrypt(&mut f, 2);
        let ctx = &f.ctx;
        let file = ctx.ciphertext_to_bytes(&ct).unwrap();
        let load = |b: &[u8]| ctx.ciphertext_from_bytes(b);
        let p = HEADER_LEN; // payload offset
        let first_word = p + CT_FIXED as usize + 8;
        expect_malformed(
            &file,
            |b| b[first_word..first_word + 4].copy_from_slice(&u32::MAX.to_le_bytes()),
            load,
            "is not below its prime",
        );
        expect_malformed(&file, |b| b[p..p + 4].copy_from_slice(&9u32.to_le_bytes()), load, "above the maximum level");
        expect_malformed(
            &file,
            |b| b[p..p + 4].copy_from_slice(&3u32.to_le_bytes()),
            load,
            "expected 5 Q + 0 P (level 3)",
        );
        expect_malformed(&file, |b| b[p + 4..p + 8].copy_from_slice(&6u32.to_le_bytes()), load, "slot count 6");
        expect_malformed(&file, |b| b[p + 4..p + 8].copy_from_slice(&1024u32.to_le_bytes()), load, "slot count 1024");
        expect_malformed(&file, |b| b[p + 4..p + 8].copy_from_slice(&0u32.to_le_bytes()), load, "slot count 0");
        for bad_scale in [f64::NAN, f64::INFINITY, 0.5] {
            expect_malformed(
                &file,
                |b| b[p + 8..p + 16].copy_from_slice(&bad_scale.to_bits().to_le_bytes()),
                load,
                "scale",
            );
        }
        for count in [1u32, 4, u32::MAX] {
            expect_malformed(
                &file,
                |b| b[p + 32..p + 36].copy_from_slice(&count.to_le_bytes()),
                load,
                "polynomials, expected 2 or 3",
            );
        }
        let poly0 = p + CT_FIXED as usize;
        expect_malformed(
            &file,
            |b| b[poly0..poly0 + 4].copy_from_slice(&u32::MAX.to_le_bytes()),
            load,
            "limbs, expected",
        );
        expect_malformed(
            &file,
            |b| b[poly0 + 4..poly0 + 8].copy_from_slice(&1u32.to_le_bytes()),
            load,
            "limbs, expected",
        );
        // A payload shortened consistently (length field and checksum updated).
        expect_malformed(
            &file,
            |b| {
                let keep = b.len() - CHECKSUM_LEN - 100;
                b.truncate(keep);
                let len = (keep - HEADER_LEN) as u64;
                b[24..32].copy_from_slice(&len.to_le_bytes());
                b.extend_from_slice(&[0; CHECKSUM_LEN]);
            },
            load,
            "payload ends inside ciphertext polynomial 1",
        );
        expect_malformed(&file, |b| b[7] = 1, load, "reserved header byte");

        // Secret key: coefficient outside {-1, 0, 1}, wrong count.
        let sk = ctx.secret_key_to_bytes(&f.sk).unwrap();
        let load_sk = |b: &[u8]| ctx.secret_key_from_bytes(b);
        expect_malformed(&sk, |b| b[p + 20 + 17] = 2, load_sk, "secret coefficient 17 is outside");
        expect_malformed(
            &sk,
            |b| b[p + 16..p + 20].copy_from_slice(&512u32.to_le_bytes()),
            load_sk,
            "512 coefficients",
        );

        // Evaluation keys: bad flag, Galois element, digit count.
        let bare = ctx.gen_evaluation_keys(&f.sk, false, &[1], false, &mut Csprng::from_seed([1; 32])).unwrap();
        let evk = ctx.evaluation_keys_to_bytes(&bare).unwrap();
        let load_evk = |b: &[u8]| ctx.evaluation_keys_from_bytes(b);
        expect_malformed(&evk, |b| b[p + 16] = 2, load_evk, "relinearization flag is 2");
        let g = p + 16 + 1 + 4;
        expect_malformed(&evk, |b| b[g..g + 8].copy_from_slice(&4u64.to_le_bytes()), load_evk, "must be odd");
        expect_malformed(&evk, |b| b[g..g + 8].copy_from_slice(&2049u64.to_le_bytes()), load_evk, "below 2N = 2048");
        expect_malformed(&evk, |b| b[g..g + 8].copy_from_slice(&1u64.to_le_bytes()), load_evk, "identity");
        expect_malformed(
            &evk,
            |b| b[g + 8..g + 12].copy_from_slice(&7u32.to_le_bytes()),
            load_evk,
            "7 digits, expected",
        );
        expect_malformed(
            &evk,
            |b| b[p + 17..p + 21].copy_from_slice(&5000u32.to_le_bytes()),
            load_evk,
            "5000 Galois keys",
        );
    }

    #[test]
    fn params_json_round_trip_and_errors() {
        let params = preset("toy-n1024").unwrap();
        let json = params_to_json(&params).unwrap();
        assert!(json.contains("\"format_version\": 1"), "{json}");
        let back = load_params(&mut json.as_bytes()).unwrap();
        assert_eq!(back, params);

        let tampered = json.replace(&params.fingerprint_hex(), &"0".repeat(32));
        let err = ser(load_params(&mut tampered.as_bytes()).unwrap_err());
        assert!(matches!(err, SerializationError::ParamsMismatch { .. }), "{err}");

        let err = ser(load_params(&mut "{ not json".as_bytes()).unwrap_err());
        assert!(matches!(&err, SerializationError::Malformed(m) if m.contains("parameter file")), "{err}");

        let v2 = json.replace("\"format_version\": 1", "\"format_version\": 2");
        assert!(matches!(
            ser(load_params(&mut v2.as_bytes()).unwrap_err()),
            SerializationError::Version { found: 2, .. }
        ));

        let bad = json.replace("\"depth\": 4", "\"depth\": 0");
        assert!(matches!(load_params(&mut bad.as_bytes()).unwrap_err(), CkksError::Params(_)));
    }
}
