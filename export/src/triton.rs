//! An NVIDIA Triton Inference Server model repository entry for an exported model.

use std::path::Path;

use crate::ExportError;
use crate::onnx::data_type;

/// Write `repo/<name>/config.pbtxt` and `repo/<name>/1/model.onnx`.
pub fn write_model(
    repo: &Path,
    name: &str,
    model: &[u8],
    inputs: &[(String, i32, Vec<usize>)],
    outputs: &[(String, i32, Vec<usize>)],
) -> Result<(), ExportError> {
    let version_dir = repo.join(name).join("1");
    std::fs::create_dir_all(&version_dir)
        .map_err(|e| ExportError::file(&version_dir, format!("cannot create: {e}")))?;
    let tensor = |(n, t, dims): &(String, i32, Vec<usize>)| {
        let dims = dims
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let ty = if *t == data_type::UINT8 {
            "TYPE_UINT8"
        } else {
            "TYPE_FP32"
        };
        format!("  {{\n    name: \"{n}\"\n    data_type: {ty}\n    dims: [ {dims} ]\n  }}")
    };
    let list =
        |l: &[(String, i32, Vec<usize>)]| l.iter().map(tensor).collect::<Vec<_>>().join(",\n");
    let config = format!(
        "name: \"{name}\"\nplatform: \"onnxruntime_onnx\"\nmax_batch_size: 256\ninput [\n{}\n]\noutput [\n{}\n]\ndynamic_batching {{ }}\n",
        list(inputs),
        list(outputs)
    );
    for (path, bytes) in [
        (repo.join(name).join("config.pbtxt"), config.into_bytes()),
        (version_dir.join("model.onnx"), model.to_vec()),
    ] {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, &bytes)
            .and_then(|_| std::fs::rename(&tmp, &path))
            .map_err(|e| ExportError::file(&path, format!("cannot write: {e}")))?;
    }
    Ok(())
}
