//! Inference engines behind one small trait.

#[cfg(feature = "ort")]
pub mod ort;
#[cfg(feature = "tract")]
pub mod tract;

use crate::error::Result;
use crate::feed::Feed;
use crate::signature::Signature;

/// A loaded model that maps a batch of latents to the generator's outputs.
pub trait Engine: Send + Sync {
    fn signature(&self) -> &Signature;
    /// Engine and device, for people (`tract on the CPU, 2 threads`).
    fn runs_on(&self) -> String;
    /// Why the model runs on the CPU although another device was asked for (a fallback the
    /// caller allowed), for the caller to report.
    fn fallback(&self) -> Option<&str> {
        None
    }
    /// Run `feeds` (one per graph input, in graph order) and return output `output` as f32.
    fn run(&self, feeds: &[Feed], output: usize) -> Result<Vec<f32>>;
}
