//! candle's forward pass of a checkpoint in eval mode: the reference the ONNX export is checked
//! against.

use std::path::Path;

use candle_core::Device;
use gan_export::Role;
use gan_models::run_layout::{self, DISCRIMINATOR_FILE, GENERATOR_FILE};
use gan_train::net::{Net, batch_tensor};

/// The main output (`image` or `logit`) of `role` for `input` (`batch` samples, row-major), with
/// the weights in `checkpoint` of the run whose configuration is `run_dir/config.json`.
pub fn candle_forward(
    run_dir: &Path,
    role: Role,
    checkpoint: &Path,
    input: &[f32],
    batch: usize,
) -> Result<Vec<f32>, String> {
    let manifest = run_layout::read_manifest(run_dir).map_err(|e| e.to_string())?;
    let arch = manifest.model;
    let (desc, file) = match role {
        Role::Generator => (arch.generator(), GENERATOR_FILE),
        Role::Discriminator => (arch.discriminator(), DISCRIMINATOR_FILE),
    };
    let desc = desc.map_err(|e| e.to_string())?;
    let device = Device::Cpu;
    let shape = desc.input_shape.clone();
    let net = Net::load(desc, &checkpoint.join(file), &device).map_err(|e| e.to_string())?;
    let x = batch_tensor(input.to_vec(), batch, &shape, &device).map_err(|e| e.to_string())?;
    let y = net.forward(&x, false).map_err(|e| e.to_string())?;
    y.flatten_all()
        .and_then(|t| t.to_vec1::<f32>())
        .map_err(|e| e.to_string())
}

/// [`candle_forward`] for the run in `run_dir`, shaped as the exporter's self-check reference.
pub fn candle_reference(
    run_dir: &Path,
) -> impl Fn(Role, &Path, &[f32], usize) -> Result<Vec<f32>, String> + '_ {
    move |role, checkpoint, input, batch| candle_forward(run_dir, role, checkpoint, input, batch)
}
