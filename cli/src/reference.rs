//! candle's forward pass of a checkpoint in eval mode: the reference the ONNX export is checked
//! against.

use std::path::Path;

use candle_core::Device;
use candle_core::Tensor;
use gan_export::{Reference, ReferenceInput, Role};
use gan_models::run_layout;
use gan_train::net::{Net, batch_tensor};

/// The main output (`image`, `logit` or `logits`) of `role` for `input`, or with
/// `stop = Some(i)` the output of layer `i`, with the weights of the tensor file `weights` (a
/// checkpoint's) of the run whose configuration is `run_dir/config.json`.
pub fn candle_forward(
    run_dir: &Path,
    role: Role,
    stop: Option<usize>,
    weights: &Path,
    input: ReferenceInput,
) -> Result<Vec<f32>, String> {
    let manifest = run_layout::read_manifest(run_dir).map_err(|e| e.to_string())?;
    let arch = manifest.model;
    let mut desc = arch.network(role).map_err(|e| e.to_string())?;
    if let Some(last) = stop {
        desc.layers.truncate(last + 1);
    }
    let device = Device::Cpu;
    let shape = desc.input_shape.clone();
    let net = Net::load(desc, weights, &device).map_err(|e| e.to_string())?;
    let x = batch_tensor(input.values.to_vec(), input.batch, &shape, &device)
        .map_err(|e| e.to_string())?;
    let labels = input
        .labels
        .map(|l| {
            let classes: Vec<u32> = l.iter().map(|&c| c as u32).collect();
            Tensor::from_vec(classes, l.len(), &device)
        })
        .transpose()
        .map_err(|e| e.to_string())?;
    let y = net
        .forward(&x, labels.as_ref(), false)
        .map_err(|e| e.to_string())?;
    y.flatten_all()
        .and_then(|t| t.to_vec1::<f32>())
        .map_err(|e| e.to_string())
}

/// [`candle_forward`] for the run in `run_dir`, shaped as the exporter's self-check reference.
pub fn candle_reference(run_dir: &Path) -> Box<Reference<'_>> {
    Box::new(move |role, stop, weights, input| candle_forward(run_dir, role, stop, weights, input))
}
