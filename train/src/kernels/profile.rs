//! Where the kernels' time goes: wall time per kernel, collected only when `GAN_PROFILE` is set
//! (read by `gan bench train`). On a GPU, where kernels run asynchronously, the phases of an
//! iteration are timed instead ([`phase`]), each ended by a device synchronisation.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

static TIMES: Mutex<BTreeMap<&'static str, (Duration, u64)>> = Mutex::new(BTreeMap::new());

fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("GAN_PROFILE").is_some())
}

/// Run `f`, adding its wall time to `name` when profiling.
pub fn timed<R>(name: &'static str, f: impl FnOnce() -> R) -> R {
    if !enabled() {
        return f();
    }
    let start = Instant::now();
    let result = f();
    let mut times = TIMES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let entry = times.entry(name).or_default();
    entry.0 += start.elapsed();
    entry.1 += 1;
    result
}

/// [`timed`], with a device other than the CPU synchronised before the clock stops: its kernels
/// run asynchronously, so only then does the time belong to `name`.
pub fn timed_on<R>(device: &candle_core::Device, name: &'static str, f: impl FnOnce() -> R) -> R {
    timed(name, || {
        let result = f();
        if enabled() && !device.is_cpu() {
            // Only to make the clock honest; an error here resurfaces at the next operation.
            device.synchronize().ok();
        }
        result
    })
}

/// Run `f` as a phase of an iteration named `name`, timed ([`timed_on`]) on a device other than
/// the CPU; on the CPU the kernels inside it are timed instead.
pub fn phase<R>(device: &candle_core::Device, name: &'static str, f: impl FnOnce() -> R) -> R {
    if device.is_cpu() {
        f()
    } else {
        timed_on(device, name, f)
    }
}

/// The totals so far (name, time, calls), and reset them.
pub fn take() -> Vec<(&'static str, Duration, u64)> {
    let mut times = TIMES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    std::mem::take(&mut *times)
        .into_iter()
        .map(|(name, (time, calls))| (name, time, calls))
        .collect()
}
