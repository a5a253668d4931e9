//! An NVIDIA Triton Inference Server model repository entry for an exported model.

use std::path::Path;

use gan_models::atomic;

use crate::ExportError;
use crate::compile::GraphPlan;
use crate::io::GraphValue;

/// Write `repo/<name>/config.pbtxt` and `repo/<name>/1/model.onnx`, each atomically.
pub(crate) fn write_model(
    repo: &Path,
    name: &str,
    model: &[u8],
    plan: &GraphPlan,
) -> Result<(), ExportError> {
    let version_dir = repo.join(name).join("1");
    std::fs::create_dir_all(&version_dir)
        .map_err(|e| ExportError::file(&version_dir, format!("cannot create: {e}")))?;
    let tensor = |v: &&GraphValue| {
        let dims = v
            .dims
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        // Triton needs a dimension per sample: a scalar (a label) is [1] reshaped to [].
        let dims = if v.dims.is_empty() {
            "[ 1 ]\n    reshape: { shape: [ ] }".to_string()
        } else {
            format!("[ {dims} ]")
        };
        format!(
            "  {{\n    name: \"{}\"\n    data_type: {}\n    dims: {dims}\n  }}",
            v.name,
            v.elem.triton()
        )
    };
    let list = |l: &[&GraphValue]| l.iter().map(tensor).collect::<Vec<_>>().join(",\n");
    let (inputs, outputs) = plan.values();
    let config = format!(
        "name: \"{name}\"\nplatform: \"onnxruntime_onnx\"\nmax_batch_size: 256\ninput [\n{}\n]\noutput [\n{}\n]\ndynamic_batching {{ }}\n",
        list(&inputs),
        list(&outputs)
    );
    for (path, bytes) in [
        (repo.join(name).join("config.pbtxt"), config.as_bytes()),
        (version_dir.join("model.onnx"), model),
    ] {
        atomic::write_file(&path, bytes)
            .map_err(|e| ExportError::file(&path, format!("cannot write: {e}")))?;
    }
    Ok(())
}
