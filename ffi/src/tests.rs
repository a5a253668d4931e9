//! The C functions called from Rust: null pointers, bad handles, small buffers and a free racing
//! with generating threads. (`tests/c_abi.rs` calls them from C programs.)

use std::ffi::{CStr, CString};

use super::*;

use runtime::fixtures::{TINY_IMAGE, TINY_LATENT, tiny_generator};

/// The runtime's tiny test generator in a temporary folder.
struct TinyModel {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
}

impl TinyModel {
    /// Bytes of one RGBA picture.
    const IMAGE_BYTES: usize = TINY_IMAGE[1] * TINY_IMAGE[2] * 4;

    fn write() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiny.onnx");
        std::fs::write(&path, tiny_generator(false)).unwrap();
        TinyModel { _dir: dir, path }
    }

    fn c_path(&self) -> CString {
        CString::new(self.path.to_str().unwrap()).unwrap()
    }
}

#[test]
fn c_abi_rejects_null_pointers_bad_handles_and_small_buffers() {
    let model = TinyModel::write();
    let last_error = || {
        unsafe { CStr::from_ptr(gan_last_error()) }
            .to_string_lossy()
            .into_owned()
    };
    unsafe {
        let mut handle: *mut GanGenerator = std::ptr::null_mut();
        assert_eq!(
            gan_generator_load(std::ptr::null(), std::ptr::null(), &mut handle),
            GanStatus::NullPointer
        );
        let missing = CString::new("/nonexistent/generator.onnx").unwrap();
        assert_eq!(
            gan_generator_load(missing.as_ptr(), std::ptr::null(), &mut handle),
            GanStatus::LoadFailed
        );
        assert!(
            last_error().contains("/nonexistent/generator.onnx"),
            "{}",
            last_error()
        );

        let path = model.c_path();
        assert_eq!(
            gan_generator_load(path.as_ptr(), std::ptr::null(), &mut handle),
            GanStatus::Ok
        );
        let mut nz = 0u32;
        assert_eq!(gan_generator_latent_dim(handle, &mut nz), GanStatus::Ok);
        assert_eq!(nz as usize, TINY_LATENT);
        assert_eq!(
            gan_generator_latent_dim(handle, std::ptr::null_mut()),
            GanStatus::NullPointer
        );
        let bogus = 0x1000 as *const GanGenerator;
        assert_eq!(
            gan_generator_latent_dim(bogus, &mut nz),
            GanStatus::BadHandle
        );

        let seeds = [1u64, 2];
        let mut small = vec![0u8; TinyModel::IMAGE_BYTES];
        assert_eq!(
            gan_generator_generate_rgba8(
                handle,
                seeds.as_ptr(),
                2,
                small.as_mut_ptr(),
                small.len()
            ),
            GanStatus::BufferTooSmall
        );
        assert!(last_error().contains("need"), "{}", last_error());
        let mut out = vec![0u8; 2 * TinyModel::IMAGE_BYTES];
        assert_eq!(
            gan_generator_generate_rgba8(handle, seeds.as_ptr(), 2, out.as_mut_ptr(), out.len()),
            GanStatus::Ok
        );
        assert_eq!(
            gan_generator_generate_rgba8(handle, std::ptr::null(), 2, out.as_mut_ptr(), out.len()),
            GanStatus::NullPointer
        );

        let mut options = std::mem::zeroed::<GanLoadOptions>();
        assert_eq!(gan_options_default(&mut options), GanStatus::Ok);
        options.backend = 9;
        let mut other: *mut GanGenerator = std::ptr::null_mut();
        assert_eq!(
            gan_generator_load(path.as_ptr(), &options, &mut other),
            GanStatus::InvalidArgument
        );

        assert_eq!(gan_generator_free(handle), GanStatus::Ok);
        assert_eq!(gan_generator_free(handle), GanStatus::BadHandle);
        assert_eq!(
            gan_generator_latent_dim(handle, &mut nz),
            GanStatus::BadHandle
        );
    }
}

/// The use-after-free scenario: eight threads generate on one handle while another thread
/// frees it. Every call must return OK (it started before the free, or won the race) or
/// BAD_HANDLE (after it), never touch freed memory, and once the free has returned every call
/// is BAD_HANDLE. Run under valgrind or ASan, a use-after-free would also be reported there.
#[test]
fn freeing_a_handle_while_threads_generate_is_safe() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    let model = TinyModel::write();
    let path = model.c_path();
    for round in 0..5 {
        let mut handle: *mut GanGenerator = std::ptr::null_mut();
        // SAFETY: valid C string and out pointer.
        assert_eq!(
            unsafe { gan_generator_load(path.as_ptr(), std::ptr::null(), &mut handle) },
            GanStatus::Ok
        );
        let address = handle as usize;
        let freed = AtomicBool::new(false);
        let (ok, bad) = (AtomicUsize::new(0), AtomicUsize::new(0));
        std::thread::scope(|scope| {
            for t in 0..8u64 {
                let (freed, ok, bad) = (&freed, &ok, &bad);
                scope.spawn(move || {
                    let handle = address as *const GanGenerator;
                    let mut out = vec![0u8; 2 * TinyModel::IMAGE_BYTES];
                    let started = std::time::Instant::now();
                    for i in 0u64.. {
                        assert!(
                            started.elapsed().as_secs() < 60,
                            "thread {t}: the free never took effect"
                        );
                        let was_freed = freed.load(Ordering::SeqCst);
                        let seeds = [t * 1000 + i, i];
                        // SAFETY: valid seeds and buffer; the handle is checked by the callee.
                        let status = unsafe {
                            gan_generator_generate_rgba8(
                                handle,
                                seeds.as_ptr(),
                                2,
                                out.as_mut_ptr(),
                                out.len(),
                            )
                        };
                        match status {
                            GanStatus::Ok => {
                                assert!(!was_freed, "thread {t}: OK after the free returned");
                                ok.fetch_add(1, Ordering::Relaxed);
                            }
                            GanStatus::BadHandle => {
                                bad.fetch_add(1, Ordering::Relaxed);
                                break;
                            }
                            other => panic!("thread {t}, call {i}: {other:?}"),
                        }
                    }
                });
            }
            let freed = &freed;
            scope.spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(5 + 5 * round));
                let handle = address as *mut GanGenerator;
                // SAFETY: any value is accepted.
                assert_eq!(unsafe { gan_generator_free(handle) }, GanStatus::Ok);
                freed.store(true, Ordering::SeqCst);
            });
        });
        // SAFETY: any value is accepted.
        assert_eq!(unsafe { gan_generator_free(handle) }, GanStatus::BadHandle);
        let (ok, bad) = (ok.into_inner(), bad.into_inner());
        assert_eq!(
            bad, 8,
            "round {round}: every thread ends on BAD_HANDLE ({ok} OK calls)"
        );
    }
}
