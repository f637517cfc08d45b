//! Recording one backend call: dispatches, copies and clears go into a list,
//! their parameter blocks into one upload; [`Batch::submit`] encodes them in
//! order into one command buffer and submits it. Dispatches that touch the
//! same buffer are ordered by wgpu's barriers, so steps can be listed as on
//! the CPU.
//!
//! Merging: a run of consecutive dispatches of one kernel with equal
//! parameters and grids (the same step for many items, recorded step by
//! step) becomes one dispatch over all of them when their buffers are small
//! (`MERGE_MAX_BYTES`): each per-item buffer is copied into slot z of one
//! gathered buffer per binding, the dispatch runs workgroups (x, y, z = item)
//! with `H_ITEM_STRIDE`/`H_ITEM_MASK` telling the shaders where slot z is
//! (`item_base` in modarith.wgsl), and the written slots are copied back.
//! Where a dispatch costs a fixed overhead whatever its size (Mesa lavapipe:
//! about 1.5 ms), this turns a batch's cost from per item to per step; the
//! copies are cheap next to it at these sizes.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::context::{Context, H_ITEM_MASK, H_ITEM_STRIDE, HEADER_WORDS, Kernel, NTT_TILE, PARAM_WORDS};
use super::pool::{Kind, Pool, WgpuBuffer};
use super::timing::Timing;
use crate::backend::launch_plan::ntt_phases;
pub(super) use crate::backend::launch_plan::{Launch, LimbMap};
use crate::backend::{BackendError, Result};

/// Per-item buffers larger than this are not gathered: their dispatches
/// are large enough to pay for themselves, and the copies would not be cheap.
const MERGE_MAX_BYTES: u64 = 1 << 20;

/// Slots of a gathered buffer start at multiples of this many bytes.
const SLOT_ALIGN: u64 = 256;

enum Command<'a> {
    Dispatch { kernel: Kernel, block: usize, buffers: Vec<&'a wgpu::Buffer>, grid: [u32; 2] },
    Copy { src: &'a wgpu::Buffer, src_offset: u64, dst: &'a wgpu::Buffer, dst_offset: u64, bytes: u64 },
    Clear(&'a wgpu::Buffer),
}

/// A run of dispatches merged into one: commands `first .. first + count`,
/// slot bytes, and for each binding the gathered buffer (`None`: shared by
/// every item, bound as is).
struct Merged {
    first: usize,
    count: usize,
    slot_bytes: u64,
    gathered: Vec<Option<WgpuBuffer>>,
}

/// The commands of one backend call.
pub(super) struct Batch<'a> {
    ctx: &'a Context,
    pool: &'a Arc<Pool>,
    dispatches: &'a AtomicU64,
    timing: &'a Timing,
    cst: &'a wgpu::Buffer,
    log_n: u32,
    q_total: u32,
    params: Vec<u32>,
    commands: Vec<Command<'a>>,
}

impl<'a> Batch<'a> {
    /// An empty batch for ring degree 2^`log_n` with `q_total` Q primes;
    /// gathered buffers of merged dispatches come from `pool`, every
    /// dispatch encoded is counted in `dispatches`, and `timing` stamps the
    /// submission when on.
    pub(super) fn new(
        ctx: &'a Context,
        (pool, dispatches, timing): (&'a Arc<Pool>, &'a AtomicU64, &'a Timing),
        cst: &'a wgpu::Buffer,
        (log_n, q_total): (u32, usize),
    ) -> Self {
        let (params, commands) = (Vec::new(), Vec::new());
        Self { ctx, pool, dispatches, timing, cst, log_n, q_total: q_total as u32, params, commands }
    }

    fn n(&self) -> usize {
        1 << self.log_n
    }

    /// Appends a parameter block and returns its index.
    fn block(&mut self, launch: &Launch, limbs: Range<usize>, data: &[u32]) -> usize {
        let index = self.params.len() / PARAM_WORDS;
        let header = [
            self.n() as u32,
            self.log_n,
            limbs.start as u32,
            limbs.len() as u32,
            launch.map.shift,
            launch.map.q_count,
            self.q_total,
            launch.op,
        ];
        self.params.extend(header);
        self.params.extend(launch.args);
        self.params.resize(index * PARAM_WORDS + HEADER_WORDS, 0);
        self.params.extend(data);
        self.params.resize((index + 1) * PARAM_WORDS, 0);
        index
    }

    /// One invocation per coefficient of `launch.limbs`; `per_limb` holds
    /// `stride` words per limb (passed at `H_DATA`), split over several
    /// dispatches when they do not fit one parameter block. `buffers` are
    /// bindings 2, 3, ... of the kernel's family.
    pub(super) fn coefficients(
        &mut self,
        kernel: Kernel,
        launch: &Launch,
        per_limb: &[u32],
        stride: usize,
        buffers: &[&'a wgpu::Buffer],
    ) {
        let chunk = (PARAM_WORDS - HEADER_WORDS).checked_div(stride).unwrap_or(usize::MAX);
        let x = (self.n() as u32).div_ceil(kernel.workgroup_size());
        let mut start = launch.limbs.start;
        while start < launch.limbs.end {
            let end = launch.limbs.end.min(start.saturating_add(chunk));
            let offset = (start - launch.limbs.start) * stride;
            let data = &per_limb[offset.min(per_limb.len())..((end - launch.limbs.start) * stride).min(per_limb.len())];
            let block = self.block(launch, start..end, data);
            self.commands.push(Command::Dispatch {
                kernel,
                block,
                buffers: buffers.to_vec(),
                grid: [x, (end - start) as u32],
            });
            start = end;
        }
    }

    /// Forward or inverse NTT of the given limbs of every item (buffer,
    /// limbs, their primes), in at most two phases (see `ntt.wgsl`):
    /// contiguous tiles of up to `NTT_TILE` words and, for larger N, a
    /// strided phase before (forward) or after (inverse) them. Recorded
    /// phase by phase across the items, so that equal ones merge.
    pub(super) fn ntt(
        &mut self,
        tw: &'a wgpu::Buffer,
        items: &[(&'a wgpu::Buffer, Range<usize>, LimbMap)],
        forward: bool,
    ) {
        let kernel = if forward { Kernel::NttForward } else { Kernel::NttInverse };
        let phases = ntt_phases(self.log_n, NTT_TILE, forward);
        let count = phases.len();
        for (i, phase) in phases.into_iter().enumerate() {
            let last = u32::from(i + 1 == count);
            for (data, limbs, map) in items.iter().filter(|(_, limbs, _)| !limbs.is_empty()) {
                let args = [phase.log_stride, phase.stages, phase.log_cols, last];
                let launch = Launch::new(limbs.clone(), *map).args(args);
                let block = self.block(&launch, limbs.clone(), &[]);
                self.commands.push(Command::Dispatch {
                    kernel,
                    block,
                    buffers: vec![tw, *data],
                    grid: [phase.groups(self.log_n), limbs.len() as u32],
                });
            }
        }
    }

    /// Copies `limbs` limbs from limb `src_limb` of `src` to limb `dst_limb` of `dst`.
    pub(super) fn copy(
        &mut self,
        src: &'a wgpu::Buffer,
        src_limb: usize,
        dst: &'a wgpu::Buffer,
        dst_limb: usize,
        limbs: usize,
    ) {
        let limb_bytes = self.n() as u64 * 4;
        if limbs > 0 {
            self.commands.push(Command::Copy {
                src,
                src_offset: src_limb as u64 * limb_bytes,
                dst,
                dst_offset: dst_limb as u64 * limb_bytes,
                bytes: limbs as u64 * limb_bytes,
            });
        }
    }

    /// Fills all of `buffer` with zeros.
    pub(super) fn clear(&mut self, buffer: &'a wgpu::Buffer) {
        self.commands.push(Command::Clear(buffer));
    }

    /// The parameter block (header and data) of block `index`.
    fn block_words(&self, index: usize) -> &[u32] {
        &self.params[index * PARAM_WORDS..(index + 1) * PARAM_WORDS]
    }

    /// The bindings of the dispatches `first .. first + count`.
    fn buffers(&self, first: usize, count: usize) -> Vec<&[&'a wgpu::Buffer]> {
        self.commands[first..first + count]
            .iter()
            .filter_map(|c| if let Command::Dispatch { buffers, .. } = c { Some(buffers.as_slice()) } else { None })
            .collect()
    }

    /// The run of dispatches from command `first` on that merge into one
    /// (`None`: fewer than two): same kernel, parameters and grid, buffers
    /// [`merge_layout`] accepts, within the binding size and grid z limits.
    fn mergeable(&self, first: usize) -> Option<(usize, MergeLayout)> {
        let Command::Dispatch { kernel, block, grid, .. } = &self.commands[first] else { return None };
        let same = |c: &Command<'a>| {
            matches!(c, Command::Dispatch { kernel: k, block: b, grid: g, .. }
                if k == kernel && g == grid && self.block_words(*b) == self.block_words(*block))
        };
        let max_items = self.ctx.limits.max_compute_workgroups_per_dimension as usize;
        let count = self.commands[first..].iter().take(max_items).take_while(|c| same(c)).count();
        if count < 2 {
            return None;
        }
        let layout = merge_layout(&self.buffers(first, count), &kernel.written(), &self.ctx.unused_write)?;
        // A shorter run keeps the layout valid (its buffers are a subset).
        let count = count.min((self.ctx.max_buffer_bytes() / layout.slot_bytes.max(1)) as usize);
        (count >= 2).then_some((count, layout))
    }

    /// Plans the merges, writing the item words into their parameter blocks.
    fn plan_merges(&mut self) -> Result<Vec<Merged>> {
        let mut merges = Vec::new();
        let mut i = 0;
        while i < self.commands.len() {
            let Some((count, layout)) = self.mergeable(i) else {
                i += 1;
                continue;
            };
            let Command::Dispatch { block, .. } = &self.commands[i] else {
                unreachable!("mergeable starts at a dispatch")
            };
            let block = *block;
            let mut gathered = Vec::with_capacity(layout.shared.len());
            let mut mask = 0u32;
            for (slot, &shared) in layout.shared.iter().enumerate() {
                if shared {
                    gathered.push(None);
                } else {
                    mask |= 1 << slot;
                    gathered.push(Some(self.pool.acquire(Kind::Storage, layout.slot_bytes * count as u64)?));
                }
            }
            let words = &mut self.params[block * PARAM_WORDS..];
            words[H_ITEM_STRIDE] = (layout.slot_bytes / 4) as u32;
            words[H_ITEM_MASK] = mask;
            merges.push(Merged { first: i, count, slot_bytes: layout.slot_bytes, gathered });
            i += count;
        }
        Ok(merges)
    }

    /// Encodes every command in order (merged runs as one dispatch between
    /// their gather and scatter copies) and submits them as one command buffer.
    pub(super) fn submit(mut self) -> Result<()> {
        let merges = self.plan_merges()?;
        let ctx = self.ctx;
        let params = ctx.params_at_least((self.params.len() * 4).max(PARAM_WORDS * 4) as u64);
        if !self.params.is_empty() {
            ctx.queue.write_buffer(&params, 0, bytemuck::cast_slice(&self.params));
        }
        let mut encoder = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("hetl") });
        let timed = self.timing.begin(&ctx.device, &mut encoder);
        let mut merges = merges.iter().peekable();
        let mut i = 0;
        while i < self.commands.len() {
            if let Some(m) = merges.next_if(|m| m.first == i) {
                self.encode_merged(&mut encoder, &params, m);
                i += m.count;
                continue;
            }
            match &self.commands[i] {
                Command::Copy { src, src_offset, dst, dst_offset, bytes } => {
                    encoder.copy_buffer_to_buffer(src, *src_offset, dst, *dst_offset, *bytes);
                }
                Command::Clear(buffer) => encoder.clear_buffer(buffer, 0, None),
                Command::Dispatch { .. } => {
                    // Consecutive dispatches up to the next merged run share a pass.
                    let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
                    let end = merges.peek().map_or(self.commands.len(), |m| m.first);
                    while let Some(Command::Dispatch { kernel, block, buffers, grid }) = self.commands[i..end].first() {
                        self.dispatch(&mut pass, &params, (*kernel, *block), buffers, [grid[0], grid[1], 1]);
                        i += 1;
                    }
                    continue;
                }
            }
            i += 1;
        }
        if let Some(set) = &timed {
            self.timing.end(&ctx.device, &mut encoder, set);
        }
        ctx.queue.submit([encoder.finish()]);
        // Lets wgpu retire finished submissions and free what they held,
        // without waiting for the GPU.
        ctx.device
            .poll(wgpu::PollType::Poll)
            .map_err(|e| BackendError::Device { op: "submit", reason: e.to_string() })?;
        Ok(())
    }

    /// Gathers a merged run's per-item buffers, dispatches once over all
    /// items, and copies the read-write slots back.
    fn encode_merged(&self, encoder: &mut wgpu::CommandEncoder, params: &wgpu::Buffer, m: &Merged) {
        let items = self.buffers(m.first, m.count);
        let Command::Dispatch { kernel, block, grid, .. } = &self.commands[m.first] else { return };
        let written = kernel.written();
        for (slot, gathered) in m.gathered.iter().enumerate() {
            if let Some(g) = gathered {
                for (z, buffers) in items.iter().enumerate() {
                    encoder.copy_buffer_to_buffer(
                        buffers[slot],
                        0,
                        g.raw(),
                        z as u64 * m.slot_bytes,
                        buffers[slot].size(),
                    );
                }
            }
        }
        let bound: Vec<&wgpu::Buffer> =
            m.gathered.iter().enumerate().map(|(slot, g)| g.as_ref().map_or(items[0][slot], WgpuBuffer::raw)).collect();
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
            self.dispatch(&mut pass, params, (*kernel, *block), &bound, [grid[0], grid[1], m.count as u32]);
        }
        for (slot, gathered) in m.gathered.iter().enumerate() {
            if let (Some(g), true) = (gathered, written[slot]) {
                for (z, buffers) in items.iter().enumerate() {
                    encoder.copy_buffer_to_buffer(
                        g.raw(),
                        z as u64 * m.slot_bytes,
                        buffers[slot],
                        0,
                        buffers[slot].size(),
                    );
                }
            }
        }
    }

    /// One dispatch of `kernel` with parameter block `block` and `buffers`
    /// at bindings 2, 3, ...
    fn dispatch(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        params: &wgpu::Buffer,
        (kernel, block): (Kernel, usize),
        buffers: &[&wgpu::Buffer],
        grid: [u32; 3],
    ) {
        let ctx = self.ctx;
        let mut entries = vec![
            wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: params,
                    offset: (block * PARAM_WORDS * 4) as u64,
                    size: wgpu::BufferSize::new((PARAM_WORDS * 4) as u64),
                }),
            },
            wgpu::BindGroupEntry { binding: 1, resource: self.cst.as_entire_binding() },
        ];
        for (i, b) in buffers.iter().enumerate() {
            entries.push(wgpu::BindGroupEntry { binding: i as u32 + 2, resource: b.as_entire_binding() });
        }
        let group = ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: ctx.layout(kernel),
            entries: &entries,
        });
        pass.set_pipeline(ctx.pipeline(kernel));
        pass.set_bind_group(0, &group, &[]);
        pass.dispatch_workgroups(grid[0], grid[1], grid[2]);
        self.dispatches.fetch_add(1, Ordering::Relaxed);
    }
}

/// How a merged run binds its buffers: the slot bytes of the gathered
/// buffers, and per binding whether every item uses the same buffer (bound
/// as is) or each its own (gathered).
struct MergeLayout {
    slot_bytes: u64,
    shared: Vec<bool>,
}

/// The layout for merging dispatches with these buffers (bindings 2, 3, ...
/// of each item; `written[b]`: binding b is read-write), or `None` when they
/// must not merge: a per-item buffer above `MERGE_MAX_BYTES`, a read-write
/// binding shared by the items (other than the placeholder `unused`), or a
/// buffer written by one item and used again in the run.
fn merge_layout(items: &[&[&wgpu::Buffer]], written: &[bool], unused: &wgpu::Buffer) -> Option<MergeLayout> {
    let slots = items[0].len();
    let shared: Vec<bool> = (0..slots).map(|s| items.iter().all(|b| std::ptr::eq(b[s], items[0][s]))).collect();
    let mut uses: HashMap<*const wgpu::Buffer, usize> = HashMap::new();
    for b in items.iter().flat_map(|b| b.iter()) {
        *uses.entry(*b).or_default() += 1;
    }
    let mut slot_bytes = 0;
    for slot in 0..slots {
        if shared[slot] {
            if written[slot] && !std::ptr::eq(items[0][slot], unused) {
                return None;
            }
            continue;
        }
        for b in items {
            if b[slot].size() > MERGE_MAX_BYTES || (written[slot] && uses[&std::ptr::from_ref(b[slot])] > 1) {
                return None;
            }
            slot_bytes = slot_bytes.max(b[slot].size().next_multiple_of(SLOT_ALIGN));
        }
    }
    Some(MergeLayout { slot_bytes, shared })
}

/// Reads `bytes` bytes of `buffer` back to the host through `staging`
/// (a MAP_READ buffer at least as large): copy, submit, map, wait.
pub(super) fn read_back(ctx: &Context, buffer: &wgpu::Buffer, staging: &wgpu::Buffer, bytes: u64) -> Result<Vec<u32>> {
    let device_error = |reason: String| BackendError::Device { op: "download", reason };
    let mut encoder = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("download") });
    encoder.copy_buffer_to_buffer(buffer, 0, staging, 0, bytes);
    ctx.queue.submit([encoder.finish()]);
    let (tx, rx) = std::sync::mpsc::channel();
    staging.map_async(wgpu::MapMode::Read, ..bytes, move |r| {
        // The receiver waits below; a failed send only means it gave up.
        let _ = tx.send(r);
    });
    ctx.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| device_error(e.to_string()))?;
    rx.recv().map_err(|e| device_error(e.to_string()))?.map_err(|e| device_error(e.to_string()))?;
    let words = {
        let view = staging.get_mapped_range(..bytes).map_err(|e| device_error(e.to_string()))?;
        // Copied word by word: the mapping's alignment is not promised.
        view.chunks_exact(4).map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]])).collect()
    };
    staging.unmap();
    Ok(words)
}
