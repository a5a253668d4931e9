//! gan-ffi: the C ABI of gan-runtime, for game engines and other languages — built as
//! `libgan_runtime.so` / `libgan_runtime.a` with the header `include/gan_runtime.h`, which
//! cbindgen generates from this file (`GAN_UPDATE_HEADER=1 cargo test -p gan-ffi --test header`;
//! the same test fails when the committed header is stale). `examples/c/` holds complete C
//! programs; the tests compile and run them.
//!
//! Every function returns a [`GanStatus`]; on failure [`gan_last_error`] describes it. Null
//! pointers, too-small buffers and handles that `gan_generator_load` did not return (or that
//! were freed) are errors, and no panic crosses the boundary.
//!
//! A handle is a key, not memory: `gan_generator_load` registers an `Arc<Generator>` under a
//! never-reused address and returns that address, which the C side never dereferences and
//! neither do we. Each call clones the `Arc` out of the registry under its lock, so a
//! `gan_generator_free` on another thread only drops the registry's reference: a call in flight
//! finishes with the generator it started with, and later calls get `BAD_HANDLE`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use runtime::{Backend, Device, Generator, LoadOptions, OutputRange};

/// Result of every call.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GanStatus {
    /// Success.
    Ok = 0,
    /// A required pointer was null.
    NullPointer = 1,
    /// An argument is out of range (bad UTF-8 path, unknown enum value, zero count).
    InvalidArgument = 2,
    /// The model could not be loaded; see `gan_last_error`.
    LoadFailed = 3,
    /// Generation failed; see `gan_last_error`.
    GenerateFailed = 4,
    /// The output buffer is smaller than `n × width × height × 4` bytes.
    BufferTooSmall = 5,
    /// The handle is not a live generator.
    BadHandle = 6,
    /// An internal error was caught at the boundary.
    Internal = 7,
}

/// Backends for [`GanLoadOptions::backend`].
pub const GAN_BACKEND_TRACT: i32 = 0;
/// ONNX Runtime (this library must be built with its `ort` feature).
pub const GAN_BACKEND_ORT: i32 = 1;
/// Devices for [`GanLoadOptions::device`].
pub const GAN_DEVICE_CPU: i32 = 0;
/// CUDA through ONNX Runtime.
pub const GAN_DEVICE_CUDA: i32 = 1;
/// TensorRT through ONNX Runtime.
pub const GAN_DEVICE_TENSORRT: i32 = 2;
/// Ranges for [`GanLoadOptions::output_range`] (0: from the model's metadata).
pub const GAN_RANGE_FROM_MODEL: i32 = 0;
/// Output values in [-1, 1].
pub const GAN_RANGE_MINUS1_1: i32 = 1;
/// Output values in [0, 1].
pub const GAN_RANGE_0_1: i32 = 2;
/// Output values in [0, 255].
pub const GAN_RANGE_0_255: i32 = 3;

/// Load options; start from `gan_options_default`. Zero means "not given" for the numbers.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct GanLoadOptions {
    /// `GAN_BACKEND_*`.
    pub backend: i32,
    /// `GAN_DEVICE_*`.
    pub device: i32,
    /// Non-zero: run on the CPU (logged) when the device cannot be used.
    pub allow_fallback: i32,
    /// Intra-op threads (0: the machine's cores).
    pub threads: u32,
    /// ONNX Runtime library path, or null for `ORT_DYLIB_PATH`.
    pub ort_library: *const c_char,
    /// For models without metadata.
    pub latent_dim: u32,
    /// Image shape, for models without metadata.
    pub channels: u32,
    /// Image height, for models without metadata.
    pub height: u32,
    /// Image width, for models without metadata.
    pub width: u32,
    /// `GAN_RANGE_*`.
    pub output_range: i32,
    /// A foreign conditional model's class label input name, or null for `label`.
    pub label_input: *const c_char,
    /// A foreign conditional model's class count, when its metadata does not list its classes.
    pub class_count: u32,
}

/// An opaque loaded generator (a handle: never dereferenced, on either side).
pub struct GanGenerator {
    _opaque: [u8; 0],
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// The live generators by handle address, and the next address to hand out.
struct Registry {
    live: HashMap<usize, Arc<Generator>>,
    next: usize,
}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

/// Handles are multiples of this (never 0, so never null), and never reused.
const HANDLE_STRIDE: usize = 16;

fn set_error(message: impl Into<String>) {
    let text = message.into().replace('\0', " ");
    LAST_ERROR.with(|e| *e.borrow_mut() = CString::new(text).unwrap_or_default());
}

/// Run `f` on the registry under its lock.
fn with_registry<T>(f: impl FnOnce(&mut Registry) -> T) -> T {
    let mut guard = REGISTRY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    f(guard.get_or_insert_with(|| Registry {
        live: HashMap::new(),
        next: HANDLE_STRIDE,
    }))
}

fn not_live() -> (GanStatus, String) {
    (
        GanStatus::BadHandle,
        "not a live generator handle (never loaded, or already freed)".into(),
    )
}

/// Run `f` with panics turned into `Internal` and errors recorded.
fn boundary(f: impl FnOnce() -> Result<(), (GanStatus, String)>) -> GanStatus {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => {
            set_error("");
            GanStatus::Ok
        }
        Ok(Err((status, message))) => {
            set_error(message);
            status
        }
        Err(_) => {
            set_error("internal error (a panic was caught at the C boundary)");
            GanStatus::Internal
        }
    }
}

/// The generator behind a handle, shared: it stays alive for this call even if another thread
/// frees the handle meanwhile.
fn handle(generator: *const GanGenerator) -> Result<Arc<Generator>, (GanStatus, String)> {
    if generator.is_null() {
        return Err((GanStatus::NullPointer, "generator is null".into()));
    }
    with_registry(|r| r.live.get(&generator.addr()).cloned()).ok_or_else(not_live)
}

/// The last error message of this thread ("" after a success). Valid until the next call on
/// this thread; never null.
#[unsafe(no_mangle)]
pub extern "C" fn gan_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// Fill `out` with the defaults (tract, CPU, everything from the model).
///
/// # Safety
/// `out` must be null or point to writable memory for one `GanLoadOptions`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gan_options_default(out: *mut GanLoadOptions) -> GanStatus {
    boundary(|| {
        if out.is_null() {
            return Err((GanStatus::NullPointer, "out is null".into()));
        }
        let defaults = GanLoadOptions {
            backend: GAN_BACKEND_TRACT,
            device: GAN_DEVICE_CPU,
            allow_fallback: 0,
            threads: 0,
            ort_library: std::ptr::null(),
            latent_dim: 0,
            channels: 0,
            height: 0,
            width: 0,
            output_range: GAN_RANGE_FROM_MODEL,
            label_input: std::ptr::null(),
            class_count: 0,
        };
        // SAFETY: checked non-null; the caller promises it is writable.
        unsafe { out.write(defaults) };
        Ok(())
    })
}

fn to_options(o: &GanLoadOptions) -> Result<LoadOptions, (GanStatus, String)> {
    let invalid = |m: String| (GanStatus::InvalidArgument, m);
    let nonzero = |v: u32| (v > 0).then_some(v as usize);
    let text = |p: *const c_char, what: &str| -> Result<Option<String>, (GanStatus, String)> {
        if p.is_null() {
            return Ok(None);
        }
        // SAFETY: the caller promises a NUL-terminated string.
        let s = unsafe { CStr::from_ptr(p) }
            .to_str()
            .map_err(|_| invalid(format!("{what} is not UTF-8")))?;
        Ok(Some(s.to_string()))
    };
    let ort_library = text(o.ort_library, "ort_library")?.map(PathBuf::from);
    let label_input = text(o.label_input, "label_input")?;
    Ok(LoadOptions {
        backend: match o.backend {
            GAN_BACKEND_TRACT => Backend::Tract,
            GAN_BACKEND_ORT => Backend::Ort,
            b => return Err(invalid(format!("unknown backend {b}"))),
        },
        device: match o.device {
            GAN_DEVICE_CPU => Device::Cpu,
            GAN_DEVICE_CUDA => Device::Cuda,
            GAN_DEVICE_TENSORRT => Device::TensorRt,
            d => return Err(invalid(format!("unknown device {d}"))),
        },
        allow_fallback: o.allow_fallback != 0,
        ort_library,
        threads: nonzero(o.threads),
        latent_dim: nonzero(o.latent_dim),
        image_shape: match (nonzero(o.channels), nonzero(o.height), nonzero(o.width)) {
            (Some(c), Some(h), Some(w)) => Some((c, h, w)),
            _ => None,
        },
        output_range: match o.output_range {
            GAN_RANGE_FROM_MODEL => None,
            GAN_RANGE_MINUS1_1 => Some(OutputRange::MinusOneToOne),
            GAN_RANGE_0_1 => Some(OutputRange::ZeroToOne),
            GAN_RANGE_0_255 => Some(OutputRange::ZeroTo255),
            r => return Err(invalid(format!("unknown output range {r}"))),
        },
        label_input,
        class_count: nonzero(o.class_count),
        ..LoadOptions::default()
    })
}

/// Load the ONNX generator at `path` (UTF-8). `options` may be null for the defaults. On
/// success `*out` holds a handle to free with `gan_generator_free`.
///
/// # Safety
/// `path` must be a NUL-terminated string, `options` null or a valid `GanLoadOptions`, `out`
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gan_generator_load(
    path: *const c_char,
    options: *const GanLoadOptions,
    out: *mut *mut GanGenerator,
) -> GanStatus {
    boundary(|| {
        if path.is_null() || out.is_null() {
            return Err((
                GanStatus::NullPointer,
                "path and out must not be null".into(),
            ));
        }
        runtime::quiet_guarded_panics();
        // SAFETY: non-null, NUL-terminated per the contract.
        let path = unsafe { CStr::from_ptr(path) }
            .to_str()
            .map_err(|_| (GanStatus::InvalidArgument, "path is not UTF-8".into()))?;
        // SAFETY: null or valid per the contract.
        let options = match unsafe { options.as_ref() } {
            Some(o) => to_options(o)?,
            None => LoadOptions::default(),
        };
        let generator =
            Generator::load(path, &options).map_err(|e| (GanStatus::LoadFailed, e.to_string()))?;
        let address = with_registry(|r| {
            let address = r.next;
            r.next += HANDLE_STRIDE;
            r.live.insert(address, Arc::new(generator));
            address
        });
        // SAFETY: checked non-null, writable per the contract.
        unsafe { out.write(std::ptr::without_provenance_mut(address)) };
        Ok(())
    })
}

/// Free a generator. Null is ignored; a handle that is not live is reported, not freed. Calls
/// running on other threads finish first with the generator they started with.
///
/// # Safety
/// None beyond the types: any value is accepted and checked against the live handles.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gan_generator_free(generator: *mut GanGenerator) -> GanStatus {
    boundary(|| {
        if generator.is_null() {
            return Ok(());
        }
        let removed = with_registry(|r| r.live.remove(&generator.addr())).ok_or_else(not_live)?;
        // Outside the lock: the generator itself goes when the last call using it returns.
        drop(removed);
        Ok(())
    })
}

/// The latent size (nz).
///
/// # Safety
/// `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gan_generator_latent_dim(
    generator: *const GanGenerator,
    out: *mut u32,
) -> GanStatus {
    // SAFETY: the same contract.
    unsafe { write_number(generator, out, Generator::latent_dim) }
}

/// Width, height and channels of the model's images (the RGBA8 output always has 4 bytes a
/// pixel).
///
/// # Safety
/// The out pointers must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gan_generator_image_shape(
    generator: *const GanGenerator,
    width: *mut u32,
    height: *mut u32,
    channels: *mut u32,
) -> GanStatus {
    boundary(|| {
        let g = handle(generator)?;
        if width.is_null() || height.is_null() || channels.is_null() {
            return Err((
                GanStatus::NullPointer,
                "width, height and channels must not be null".into(),
            ));
        }
        let (w, h) = g.image_size();
        // SAFETY: checked non-null, writable per the contract.
        unsafe {
            width.write(w as u32);
            height.write(h as u32);
            channels.write(g.channels() as u32);
        }
        Ok(())
    })
}

/// The number of classes of a conditional generator (0: an unconditional one).
///
/// # Safety
/// `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gan_generator_class_count(
    generator: *const GanGenerator,
    out: *mut u32,
) -> GanStatus {
    // SAFETY: the same contract.
    unsafe { write_number(generator, out, |g| g.classes().len()) }
}

/// Write one number about the generator behind `generator` to `out`.
///
/// # Safety
/// `out` must be null or writable.
unsafe fn write_number(
    generator: *const GanGenerator,
    out: *mut u32,
    number: impl FnOnce(&Generator) -> usize,
) -> GanStatus {
    boundary(|| {
        let g = handle(generator)?;
        if out.is_null() {
            return Err((GanStatus::NullPointer, "out is null".into()));
        }
        // SAFETY: checked non-null, writable per the contract.
        unsafe { out.write(number(&g) as u32) };
        Ok(())
    })
}

/// Copy the name of class `class` (UTF-8, NUL-terminated) into `out` (`out_len` bytes). A
/// buffer too small is `BUFFER_TOO_SMALL`, with the size needed in the message.
///
/// # Safety
/// `out` must point to `out_len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gan_generator_class_name(
    generator: *const GanGenerator,
    class: u32,
    out: *mut c_char,
    out_len: usize,
) -> GanStatus {
    boundary(|| {
        let g = handle(generator)?;
        if out.is_null() {
            return Err((GanStatus::NullPointer, "out is null".into()));
        }
        let classes = g.classes();
        let name = classes.get(class as usize).ok_or_else(|| {
            (
                GanStatus::InvalidArgument,
                format!(
                    "class {class} is out of range: the generator has {} classes",
                    classes.len()
                ),
            )
        })?;
        let bytes = name.as_bytes();
        if out_len < bytes.len() + 1 {
            return Err((
                GanStatus::BufferTooSmall,
                format!(
                    "out holds {out_len} bytes; the name needs {}",
                    bytes.len() + 1
                ),
            ));
        }
        // SAFETY: out holds at least bytes.len() + 1 writable bytes (checked above).
        let out = unsafe { std::slice::from_raw_parts_mut(out.cast::<u8>(), bytes.len() + 1) };
        out[..bytes.len()].copy_from_slice(bytes);
        out[bytes.len()] = 0;
        Ok(())
    })
}

/// Generate one RGBA8 image per seed into `out` (`out_len` bytes; needs `n_seeds × width ×
/// height × 4`), images one after another, rows top to bottom.
///
/// # Safety
/// `seeds` must point to `n_seeds` values and `out` to `out_len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gan_generator_generate_rgba8(
    generator: *const GanGenerator,
    seeds: *const u64,
    n_seeds: usize,
    out: *mut u8,
    out_len: usize,
) -> GanStatus {
    // SAFETY: the same contract.
    boundary(|| unsafe { generate_into(generator, seeds, n_seeds, None, out, out_len) })
}

/// [`gan_generator_generate_rgba8`] for a conditional generator: every image of class `class`
/// (0 to the class count − 1).
///
/// # Safety
/// `seeds` must point to `n_seeds` values and `out` to `out_len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gan_generator_generate_class_rgba8(
    generator: *const GanGenerator,
    seeds: *const u64,
    n_seeds: usize,
    class: u32,
    out: *mut u8,
    out_len: usize,
) -> GanStatus {
    // SAFETY: the same contract.
    boundary(|| unsafe {
        generate_into(
            generator,
            seeds,
            n_seeds,
            Some(class as usize),
            out,
            out_len,
        )
    })
}

/// Both generate functions: images for `seeds` (of `class`, for a conditional generator).
///
/// # Safety
/// As [`gan_generator_generate_rgba8`].
unsafe fn generate_into(
    generator: *const GanGenerator,
    seeds: *const u64,
    n_seeds: usize,
    class: Option<usize>,
    out: *mut u8,
    out_len: usize,
) -> Result<(), (GanStatus, String)> {
    {
        let g = handle(generator)?;
        if seeds.is_null() || out.is_null() {
            return Err((
                GanStatus::NullPointer,
                "seeds and out must not be null".into(),
            ));
        }
        if n_seeds == 0 {
            return Err((GanStatus::InvalidArgument, "n_seeds is 0".into()));
        }
        let (w, h) = g.image_size();
        let needed = n_seeds
            .checked_mul(w * h * 4)
            .ok_or((GanStatus::InvalidArgument, "n_seeds is too large".into()))?;
        if out_len < needed {
            return Err((
                GanStatus::BufferTooSmall,
                format!("out holds {out_len} bytes; {n_seeds} images need {needed}"),
            ));
        }
        // SAFETY: the caller promises n_seeds readable values.
        let seeds = unsafe { std::slice::from_raw_parts(seeds, n_seeds) };
        let images = match class {
            Some(class) => g.generate_class(seeds, class),
            None => g.generate(seeds),
        };
        let images = images.map_err(|e| match e {
            runtime::RuntimeError::InvalidArgument(m) => (GanStatus::InvalidArgument, m),
            e => (GanStatus::GenerateFailed, e.to_string()),
        })?;
        // SAFETY: out holds at least `needed` writable bytes (checked above).
        let out = unsafe { std::slice::from_raw_parts_mut(out, needed) };
        for (chunk, image) in out.chunks_exact_mut(w * h * 4).zip(images) {
            chunk.copy_from_slice(&image.pixels);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
