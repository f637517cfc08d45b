//! Recording one backend call: dispatches, copies and clears go into a list,
//! their parameter blocks into one upload; [`Batch::submit`] encodes them in
//! order into one command buffer and submits it. Dispatches that touch the
//! same buffer are ordered by wgpu's barriers, so steps can be listed as on
//! the CPU.

use std::ops::Range;

use super::context::{Context, HEADER_WORDS, Kernel, NTT_TILE, PARAM_WORDS};
use crate::backend::launch_plan::ntt_phases;
pub(super) use crate::backend::launch_plan::{Launch, LimbMap};
use crate::backend::{BackendError, Result};

enum Command<'a> {
    Dispatch { kernel: Kernel, block: usize, buffers: Vec<&'a wgpu::Buffer>, grid: [u32; 2] },
    Copy { src: &'a wgpu::Buffer, src_offset: u64, dst: &'a wgpu::Buffer, dst_offset: u64, bytes: u64 },
    Clear(&'a wgpu::Buffer),
}

/// The commands of one backend call.
pub(super) struct Batch<'a> {
    ctx: &'a Context,
    cst: &'a wgpu::Buffer,
    log_n: u32,
    q_total: u32,
    params: Vec<u32>,
    commands: Vec<Command<'a>>,
}

impl<'a> Batch<'a> {
    /// An empty batch for ring degree 2^`log_n` with `q_total` Q primes.
    pub(super) fn new(ctx: &'a Context, cst: &'a wgpu::Buffer, log_n: u32, q_total: usize) -> Self {
        Self { ctx, cst, log_n, q_total: q_total as u32, params: Vec::new(), commands: Vec::new() }
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

    /// Forward or inverse NTT of `limbs` of `data` (primes by `map`), in at
    /// most two phases (see `ntt.wgsl`): contiguous tiles of up to
    /// `NTT_TILE` words and, for larger N, a strided phase before (forward)
    /// or after (inverse) them.
    pub(super) fn ntt(
        &mut self,
        tw: &'a wgpu::Buffer,
        data: &'a wgpu::Buffer,
        limbs: Range<usize>,
        map: LimbMap,
        forward: bool,
    ) {
        if limbs.is_empty() {
            return;
        }
        let kernel = if forward { Kernel::NttForward } else { Kernel::NttInverse };
        let phases = ntt_phases(self.log_n, NTT_TILE, forward);
        let count = phases.len();
        for (i, phase) in phases.into_iter().enumerate() {
            let last = u32::from(i + 1 == count);
            let launch = Launch::new(limbs.clone(), map).args([phase.log_stride, phase.stages, phase.log_cols, last]);
            let block = self.block(&launch, limbs.clone(), &[]);
            self.commands.push(Command::Dispatch {
                kernel,
                block,
                buffers: vec![tw, data],
                grid: [phase.groups(self.log_n), limbs.len() as u32],
            });
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

    /// Encodes every command in order and submits them as one command buffer.
    pub(super) fn submit(self) -> Result<()> {
        let ctx = self.ctx;
        let params = ctx.params_at_least((self.params.len() * 4).max(PARAM_WORDS * 4) as u64);
        if !self.params.is_empty() {
            ctx.queue.write_buffer(&params, 0, bytemuck::cast_slice(&self.params));
        }
        let block_bytes = wgpu::BufferSize::new((PARAM_WORDS * 4) as u64);
        let mut encoder = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("hetl") });
        let mut commands = self.commands.iter().peekable();
        while let Some(command) = commands.next() {
            match command {
                Command::Copy { src, src_offset, dst, dst_offset, bytes } => {
                    encoder.copy_buffer_to_buffer(src, *src_offset, dst, *dst_offset, *bytes);
                }
                Command::Clear(buffer) => encoder.clear_buffer(buffer, 0, None),
                Command::Dispatch { .. } => {
                    let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
                    let mut next = Some(command);
                    while let Some(Command::Dispatch { kernel, block, buffers, grid }) = next {
                        let mut entries = vec![
                            wgpu::BindGroupEntry {
                                binding: 0,
                                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                                    buffer: &params,
                                    offset: (block * PARAM_WORDS * 4) as u64,
                                    size: block_bytes,
                                }),
                            },
                            wgpu::BindGroupEntry { binding: 1, resource: self.cst.as_entire_binding() },
                        ];
                        for (i, b) in buffers.iter().enumerate() {
                            entries
                                .push(wgpu::BindGroupEntry { binding: i as u32 + 2, resource: b.as_entire_binding() });
                        }
                        let group = ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
                            label: None,
                            layout: ctx.layout(*kernel),
                            entries: &entries,
                        });
                        pass.set_pipeline(ctx.pipeline(*kernel));
                        pass.set_bind_group(0, &group, &[]);
                        pass.dispatch_workgroups(grid[0], grid[1], 1);
                        next = commands.next_if(|c| matches!(c, Command::Dispatch { .. }));
                    }
                }
            }
        }
        ctx.queue.submit([encoder.finish()]);
        // Lets wgpu retire finished submissions and free what they held,
        // without waiting for the GPU.
        ctx.device
            .poll(wgpu::PollType::Poll)
            .map_err(|e| BackendError::Device { op: "submit", reason: e.to_string() })?;
        Ok(())
    }
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
