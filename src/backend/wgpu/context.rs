//! Device, queue, shader modules, layouts and pipelines, built once per
//! backend. Per-call code (`batch.rs`) only binds and dispatches.

use std::borrow::Cow;
use std::sync::{Mutex, PoisonError};

use crate::backend::{BackendError, Result};

const NAME: &str = "wgpu";

/// Shared modular arithmetic, prepended to every family's source.
const MODARITH: &str = include_str!("../../../shaders/modarith.wgsl");

/// Threads per workgroup of the NTT (`NTT_WG` in ntt.wgsl).
pub(super) const NTT_WG: u32 = 256;
/// Words of workgroup memory per NTT workgroup (`NTT_TILE` in ntt.wgsl).
pub(super) const NTT_TILE: u32 = 2048;
/// Threads per workgroup of the element-wise kernels (`EW_WG` in elementwise.wgsl).
pub(super) const EW_WG: u32 = 256;
/// Threads per workgroup of the automorphism (`AUT_WG` in automorphism.wgsl).
pub(super) const AUT_WG: u32 = 256;
/// Threads per workgroup of the rescale lift (`RS_WG` in rescale.wgsl).
pub(super) const RS_WG: u32 = 256;
/// Threads per workgroup of the tensor product (`TS_WG` in tensor.wgsl).
pub(super) const TS_WG: u32 = 256;
/// Threads per workgroup of the key-switching product (`KS_WG` in keyswitch.wgsl).
pub(super) const KS_WG: u32 = 256;
/// Threads per workgroup of the basis conversion (`BX_WG` in basis_ext.wgsl).
pub(super) const BX_WG: u32 = 256;

/// Words in one dispatch's parameter block (`prm` in modarith.wgsl).
pub(super) const PARAM_WORDS: usize = 128;
/// Header words at the start of a parameter block (`H_DATA`).
pub(super) const HEADER_WORDS: usize = 16;
/// Header word of a merged dispatch: words between the items' slots (`H_ITEM_STRIDE`).
pub(super) const H_ITEM_STRIDE: usize = 12;
/// Header word of a merged dispatch: bit b − 2 set for per-item bindings b (`H_ITEM_MASK`).
pub(super) const H_ITEM_MASK: usize = 13;

/// Storage bindings a kernel family declares after `prm` and `cst`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    Read,
    ReadWrite,
}

/// One WGSL file: a family of kernels sharing one bind group layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Ntt,
    Elementwise,
    Automorphism,
    Rescale,
    Tensor,
    KeySwitch,
    BasisExt,
}

impl Family {
    /// Every family, in declaration order (`family as usize` indexes it).
    const ALL: [Self; 7] = [
        Self::Ntt,
        Self::Elementwise,
        Self::Automorphism,
        Self::Rescale,
        Self::Tensor,
        Self::KeySwitch,
        Self::BasisExt,
    ];

    fn file(self) -> &'static str {
        match self {
            Self::Ntt => "ntt.wgsl",
            Self::Elementwise => "elementwise.wgsl",
            Self::Automorphism => "automorphism.wgsl",
            Self::Rescale => "rescale.wgsl",
            Self::Tensor => "tensor.wgsl",
            Self::KeySwitch => "keyswitch.wgsl",
            Self::BasisExt => "basis_ext.wgsl",
        }
    }

    fn source(self) -> &'static str {
        match self {
            Self::Ntt => include_str!("../../../shaders/ntt.wgsl"),
            Self::Elementwise => include_str!("../../../shaders/elementwise.wgsl"),
            Self::Automorphism => include_str!("../../../shaders/automorphism.wgsl"),
            Self::Rescale => include_str!("../../../shaders/rescale.wgsl"),
            Self::Tensor => include_str!("../../../shaders/tensor.wgsl"),
            Self::KeySwitch => include_str!("../../../shaders/keyswitch.wgsl"),
            Self::BasisExt => include_str!("../../../shaders/basis_ext.wgsl"),
        }
    }

    /// Bindings 2, 3, ... as declared in the file's header.
    fn bindings(self) -> &'static [Access] {
        use Access::{Read, ReadWrite};
        match self {
            Self::Ntt => &[Read, ReadWrite],
            Self::Elementwise | Self::Automorphism | Self::Rescale => &[ReadWrite, Read],
            Self::Tensor => &[Read, Read, Read, Read, ReadWrite, ReadWrite, ReadWrite],
            Self::KeySwitch => &[Read, Read, Read, ReadWrite, ReadWrite],
            Self::BasisExt => &[Read, ReadWrite, ReadWrite],
        }
    }
}

/// A compute entry point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kernel {
    NttForward,
    NttInverse,
    Binary,
    Unary,
    Scaled,
    Automorphism,
    RescaleLift,
    Tensor,
    KeySwitchDigit,
    ConvPrep,
    ConvOverflow,
    ConvApply,
}

impl Kernel {
    /// Every kernel, in declaration order (`kernel as usize` indexes it).
    const ALL: [Self; 12] = [
        Self::NttForward,
        Self::NttInverse,
        Self::Binary,
        Self::Unary,
        Self::Scaled,
        Self::Automorphism,
        Self::RescaleLift,
        Self::Tensor,
        Self::KeySwitchDigit,
        Self::ConvPrep,
        Self::ConvOverflow,
        Self::ConvApply,
    ];

    /// Whether each of bindings 2, 3, ... is read-write.
    pub(super) fn written(self) -> Vec<bool> {
        self.family().bindings().iter().map(|a| *a == Access::ReadWrite).collect()
    }

    fn family(self) -> Family {
        match self {
            Self::NttForward | Self::NttInverse => Family::Ntt,
            Self::Binary | Self::Unary | Self::Scaled => Family::Elementwise,
            Self::Automorphism => Family::Automorphism,
            Self::RescaleLift => Family::Rescale,
            Self::Tensor => Family::Tensor,
            Self::KeySwitchDigit => Family::KeySwitch,
            Self::ConvPrep | Self::ConvOverflow | Self::ConvApply => Family::BasisExt,
        }
    }

    fn entry(self) -> &'static str {
        match self {
            Self::NttForward => "ntt_forward",
            Self::NttInverse => "ntt_inverse",
            Self::Binary => "binary",
            Self::Unary => "unary",
            Self::Scaled => "scaled",
            Self::Automorphism => "automorphism",
            Self::RescaleLift => "rescale_lift",
            Self::Tensor => "tensor",
            Self::KeySwitchDigit => "key_switch_digit",
            Self::ConvPrep => "conv_prep",
            Self::ConvOverflow => "conv_overflow",
            Self::ConvApply => "conv_apply",
        }
    }

    /// Workgroup size of a one-invocation-per-coefficient kernel.
    pub(super) fn workgroup_size(self) -> u32 {
        match self {
            Self::NttForward | Self::NttInverse => NTT_WG,
            Self::Binary | Self::Unary | Self::Scaled => EW_WG,
            Self::Automorphism => AUT_WG,
            Self::RescaleLift => RS_WG,
            Self::Tensor => TS_WG,
            Self::KeySwitchDigit => KS_WG,
            Self::ConvPrep | Self::ConvOverflow | Self::ConvApply => BX_WG,
        }
    }
}

/// Runs `f` inside validation, out-of-memory and internal error scopes of
/// `device` and returns the first error they caught. wgpu reports errors of
/// native backends when the call is made, so the scopes resolve at once.
pub(super) fn capture<T>(device: &wgpu::Device, f: impl FnOnce() -> T) -> (T, Option<wgpu::Error>) {
    let memory = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let internal = device.push_error_scope(wgpu::ErrorFilter::Internal);
    let out = f();
    let errors = [internal.pop(), validation.pop(), memory.pop()].map(pollster::block_on);
    (out, errors.into_iter().flatten().next())
}

/// The device and everything built once on it.
pub(super) struct Context {
    pub(super) device: wgpu::Device,
    pub(super) queue: wgpu::Queue,
    pub(super) info: wgpu::AdapterInfo,
    pub(super) limits: wgpu::Limits,
    layouts: Vec<wgpu::BindGroupLayout>,
    pipelines: Vec<wgpu::ComputePipeline>,
    /// Bound to read-only slots a kernel does not use.
    pub(super) unused_read: wgpu::Buffer,
    /// Bound to read-write slots a kernel does not use.
    pub(super) unused_write: wgpu::Buffer,
    /// Parameter blocks of the current submission (grown on demand; the
    /// lock also keeps one submission's write and submit together).
    pub(super) params: Mutex<wgpu::Buffer>,
}

/// A wgpu instance for the backends `WGPU_BACKEND` names (default: Vulkan,
/// Metal or DX12).
pub(super) fn instance() -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    if wgpu::Backends::from_env().is_none() {
        desc.backends = wgpu::Backends::PRIMARY;
    }
    wgpu::Instance::new(desc)
}

fn unavailable(reason: impl Into<String>) -> BackendError {
    BackendError::DriverUnavailable { backend: NAME, reason: reason.into() }
}

impl Context {
    /// Opens the adapter chosen by `WGPU_BACKEND` (default: Vulkan, Metal or
    /// DX12) and builds every pipeline.
    pub(super) fn new() -> Result<Self> {
        let instance = instance();
        let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..Default::default()
        }))
        .map_err(|e| unavailable(format!("no adapter ({e}); on Linux without a GPU install mesa-vulkan-drivers")))?;
        let info = adapter.get_info();
        if !adapter.get_downlevel_capabilities().flags.contains(wgpu::DownlevelFlags::COMPUTE_SHADERS) {
            return Err(unavailable(format!("adapter {} has no compute shaders", info.name)));
        }
        let limits = adapter.limits();
        let needs = [
            ("storage buffers per stage", limits.max_storage_buffers_per_shader_stage, 8),
            ("workgroup memory bytes", limits.max_compute_workgroup_storage_size, NTT_TILE * 4),
            ("invocations per workgroup", limits.max_compute_invocations_per_workgroup, NTT_WG),
            ("workgroup size x", limits.max_compute_workgroup_size_x, NTT_WG),
        ];
        for (what, have, need) in needs {
            if have < need {
                return Err(unavailable(format!("adapter {} allows {have} {what}, hetl needs {need}", info.name)));
            }
        }
        // GPU timestamps for profiles, where the adapter can write them.
        let timestamps = adapter.features() & super::timing::FEATURES;
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("hetl"),
            required_features: if timestamps == super::timing::FEATURES { timestamps } else { wgpu::Features::empty() },
            required_limits: limits.clone(),
            memory_hints: wgpu::MemoryHints::Performance,
            ..Default::default()
        }))
        .map_err(|e| unavailable(format!("adapter {}: {e}", info.name)))?;

        let mut layouts = Vec::new();
        let mut modules = Vec::new();
        for family in Family::ALL {
            layouts.push(bind_group_layout(&device, family));
            modules.push(compile(&device, family.file(), family.source())?);
        }
        let pipelines = Kernel::ALL
            .into_iter()
            .map(|kernel| {
                let f = kernel.family() as usize;
                let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                    label: Some(kernel.entry()),
                    bind_group_layouts: &[Some(&layouts[f])],
                    immediate_size: 0,
                });
                let (pipeline, error) = capture(&device, || {
                    device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                        label: Some(kernel.entry()),
                        layout: Some(&layout),
                        module: &modules[f],
                        entry_point: Some(kernel.entry()),
                        compilation_options: wgpu::PipelineCompilationOptions::default(),
                        cache: None,
                    })
                });
                match error {
                    None => Ok(pipeline),
                    Some(e) => Err(BackendError::Kernel { name: kernel.family().file(), reason: e.to_string() }),
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let storage = |label| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: 16,
                usage: wgpu::BufferUsages::STORAGE,
                mapped_at_creation: false,
            })
        };
        let (unused_read, unused_write) = (storage("unused read slot"), storage("unused write slot"));
        let params = Mutex::new(params_buffer(&device, 64 * 1024));
        Ok(Self { device, queue, info, limits, layouts, pipelines, unused_read, unused_write, params })
    }

    pub(super) fn pipeline(&self, kernel: Kernel) -> &wgpu::ComputePipeline {
        &self.pipelines[kernel as usize]
    }

    pub(super) fn layout(&self, kernel: Kernel) -> &wgpu::BindGroupLayout {
        &self.layouts[kernel.family() as usize]
    }

    /// The largest buffer that can be created and bound as storage.
    pub(super) fn max_buffer_bytes(&self) -> u64 {
        self.limits.max_storage_buffer_binding_size.min(self.limits.max_buffer_size)
    }

    /// The parameter buffer, at least `bytes` long, locked for one submission.
    pub(super) fn params_at_least(&self, bytes: u64) -> std::sync::MutexGuard<'_, wgpu::Buffer> {
        let mut guard = self.params.lock().unwrap_or_else(PoisonError::into_inner);
        if guard.size() < bytes {
            *guard = params_buffer(&self.device, bytes.next_power_of_two());
        }
        guard
    }
}

fn params_buffer(device: &wgpu::Device, bytes: u64) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("hetl dispatch parameters"),
        size: bytes,
        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}

fn bind_group_layout(device: &wgpu::Device, family: Family) -> wgpu::BindGroupLayout {
    let storage = |binding, read_only| wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    };
    let mut entries = vec![
        wgpu::BindGroupLayoutEntry {
            binding: 0,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Uniform,
                has_dynamic_offset: false,
                min_binding_size: wgpu::BufferSize::new((PARAM_WORDS * 4) as u64),
            },
            count: None,
        },
        storage(1, true),
    ];
    for (i, access) in family.bindings().iter().enumerate() {
        entries.push(storage(i as u32 + 2, *access == Access::Read));
    }
    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor { label: Some(family.file()), entries: &entries })
}

/// Compiles `modarith.wgsl` + `source`; a WGSL error becomes
/// [`BackendError::Kernel`] with the compiler's message and location.
pub(super) fn compile(device: &wgpu::Device, file: &'static str, source: &str) -> Result<wgpu::ShaderModule> {
    let full = format!("{MODARITH}\n{source}");
    let (module, error) = capture(device, || {
        device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(file),
            source: wgpu::ShaderSource::Wgsl(Cow::Owned(full)),
        })
    });
    match error {
        None => Ok(module),
        Some(e) => Err(BackendError::Kernel {
            name: file,
            reason: format!(
                "{e}\n(the source is modarith.wgsl followed by {file}: line L above is line L − {} of {file})",
                MODARITH.lines().count() + 1
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::device_tables::CST_STRIDE;

    #[test]
    fn workgroup_constants_match_the_shaders() {
        let consts = [
            (Family::Ntt, "NTT_WG", NTT_WG),
            (Family::Ntt, "NTT_TILE", NTT_TILE),
            (Family::Elementwise, "EW_WG", EW_WG),
            (Family::Automorphism, "AUT_WG", AUT_WG),
            (Family::Rescale, "RS_WG", RS_WG),
            (Family::Tensor, "TS_WG", TS_WG),
            (Family::KeySwitch, "KS_WG", KS_WG),
            (Family::BasisExt, "BX_WG", BX_WG),
        ];
        for (family, name, value) in consts {
            let decl = format!("const {name}: u32 = {value}u;");
            assert!(family.source().contains(&decl), "{} lacks `{decl}`", family.file());
        }
        let header = [("H_DATA", HEADER_WORDS), ("H_ITEM_STRIDE", H_ITEM_STRIDE), ("H_ITEM_MASK", H_ITEM_MASK)];
        for (name, value) in [("CST_STRIDE", CST_STRIDE)].into_iter().chain(header) {
            assert!(MODARITH.contains(&format!("const {name}: u32 = {value}u;")), "modarith.wgsl: {name}");
        }
        assert!(MODARITH.contains(&format!("array<vec4<u32>, {}>", PARAM_WORDS / 4)));
    }

    #[test]
    fn all_lists_are_in_declaration_order() {
        assert!(Kernel::ALL.iter().enumerate().all(|(i, &k)| k as usize == i));
        assert!(Family::ALL.iter().enumerate().all(|(i, &f)| f as usize == i));
    }

    #[test]
    fn wgsl_errors_name_the_file_and_location() {
        let ctx = match Context::new() {
            Ok(ctx) => ctx,
            Err(e) => {
                eprintln!("skipped: no wgpu adapter (install mesa-vulkan-drivers): {e}");
                return;
            }
        };
        let broken = "fn broken() -> u32 {\n    return undefined_name;\n}\n";
        match compile(&ctx.device, "broken.wgsl", broken) {
            Err(BackendError::Kernel { name: "broken.wgsl", reason }) => {
                let line = MODARITH.lines().count() + 1 + 2;
                assert!(reason.contains("undefined_name"), "{reason}");
                assert!(reason.contains(&format!("wgsl:{line}:")), "{reason}");
            }
            other => panic!("expected a kernel error, got {other:?}"),
        }
    }

    #[test]
    fn every_binding_is_declared_as_the_layout_says() {
        for family in Family::ALL {
            for (i, access) in family.bindings().iter().enumerate() {
                let mode = if *access == Access::Read { "read" } else { "read_write" };
                let decl = format!("@group(0) @binding({}) var<storage, {mode}>", i + 2);
                assert!(family.source().contains(&decl), "{}: {decl}", family.file());
            }
        }
    }
}
