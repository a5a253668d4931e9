//! The subcommands of the `gan` and `gan-export` binaries. Each is a thin layer over a library
//! crate: parse arguments, call the library, print a summary. This is also the one crate that
//! sees both candle and ONNX, so the export's self-check reference (candle's forward pass)
//! lives here. Libraries report (training events, errors naming configuration fields); this
//! crate renders: [`report`] turns events into progress bars and field names into flags.
//!
//! ```
//! assert_eq!(gan_cli::report::flag("batch_size"), "--batch-size");
//! ```

mod args;
pub mod bench;
pub mod data;
pub mod demo;
pub mod eval;
pub mod export;
pub mod generate;
mod npy;
mod progress_gif;
pub mod reference;
pub mod report;
pub mod scores;
pub mod serve;
pub mod train;

/// Keep freed memory in the process instead of returning it to the kernel. Training frees and
/// re-allocates the same multi-megabyte activations every step; glibc's defaults hand large
/// blocks back (mmap/trim), and the kernel then zero-fills fresh pages on each step — measured
/// as a large share of a DCGAN step. Call once at start-up, before allocating much.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator thresholds; it is called before other threads run.
    unsafe {
        // Largest allowed threshold (32 MiB on 64-bit); bigger buffers are pooled by the kernels.
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_TOP_PAD, 256 << 20);
    }
}
