//! Checks on a decoded ONNX model before tract sees it, so that a truncated, corrupted or
//! hostile file is an error rather than a panic or an allocation abort: tensor sizes must match
//! their data, external data must stay inside the model's folder, and there is no control flow.

use std::path::{Component, Path};

use tract_onnx::pb::{GraphProto, ModelProto, TensorProto};

use gan_contract::limits::MAX_TENSOR_ELEMENTS;

pub fn validate(model: &ModelProto) -> Result<(), String> {
    let graph = model.graph.as_ref().ok_or("the file has no graph")?;
    validate_graph(graph)
}

/// Whether any initialiser or constant keeps its data in a separate file.
pub fn has_external_data(model: &ModelProto) -> bool {
    let Some(graph) = model.graph.as_ref() else {
        return false;
    };
    let attribute_tensors = graph
        .node
        .iter()
        .flat_map(|n| &n.attribute)
        .flat_map(|a| a.t.iter().chain(&a.tensors));
    graph
        .initializer
        .iter()
        .chain(attribute_tensors)
        .any(is_external)
}

fn is_external(t: &TensorProto) -> bool {
    t.data_location == Some(1) || !t.external_data.is_empty()
}

fn validate_graph(graph: &GraphProto) -> Result<(), String> {
    for t in &graph.initializer {
        validate_tensor(t)?;
    }
    for node in &graph.node {
        for attr in &node.attribute {
            if attr.g.is_some() || !attr.graphs.is_empty() {
                return Err(format!(
                    "node {} ({}) has a subgraph; control flow is not supported",
                    node.name, node.op_type
                ));
            }
            for t in attr.t.iter().chain(&attr.tensors) {
                validate_tensor(t)?;
            }
        }
    }
    for value in graph
        .input
        .iter()
        .chain(&graph.output)
        .chain(&graph.value_info)
    {
        let Some(tract_onnx::pb::type_proto::Value::TensorType(t)) =
            value.r#type.as_ref().and_then(|t| t.value.as_ref())
        else {
            continue;
        };
        for dim in t.shape.iter().flat_map(|s| &s.dim) {
            if let Some(tract_onnx::pb::tensor_shape_proto::dimension::Value::DimValue(d)) =
                dim.value
                && !(0..=(1 << 24)).contains(&d)
            {
                return Err(format!("value {} declares dimension {d}", value.name));
            }
        }
    }
    Ok(())
}

fn validate_tensor(t: &TensorProto) -> Result<(), String> {
    let name = if t.name.is_empty() {
        "(unnamed)"
    } else {
        &t.name
    };
    let mut count: u64 = 1;
    for &d in &t.dims {
        let d =
            u64::try_from(d).map_err(|_| format!("tensor {name} has negative dimension {d}"))?;
        count = count
            .checked_mul(d)
            .filter(|&c| c <= MAX_TENSOR_ELEMENTS)
            .ok_or(format!("tensor {name} is too large ({:?})", t.dims))?;
    }
    if is_external(t) {
        let location = t
            .external_data
            .iter()
            .find(|e| e.key == "location")
            .map_or("", |e| e.value.as_str());
        return validate_external(name, location);
    }
    // Element size and which typed field may hold the data instead of raw_data.
    let (size, typed_len) = match t.data_type {
        1 => (4, t.float_data.len()),
        2 | 3 | 9 => (1, t.int32_data.len()),
        4 | 5 | 10 | 16 => (2, t.int32_data.len()),
        6 => (4, t.int32_data.len()),
        7 => (8, t.int64_data.len()),
        11 => (8, t.double_data.len()),
        12 => (4, t.uint64_data.len()),
        13 => (8, t.uint64_data.len()),
        other => return Err(format!("tensor {name} has unsupported data type {other}")),
    };
    let ok = if !t.raw_data.is_empty() {
        t.raw_data.len() as u64 == count * size
    } else {
        typed_len as u64 == count
    };
    if !ok {
        return Err(format!(
            "tensor {name} declares {:?} but holds a different amount of data",
            t.dims
        ));
    }
    Ok(())
}

/// External data must be a relative path that stays inside the model's folder.
fn validate_external(name: &str, location: &str) -> Result<(), String> {
    let path = Path::new(location);
    let escapes = location.is_empty()
        || path.is_absolute()
        || path
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
    if escapes {
        return Err(format!(
            "tensor {name} refers to external data {location:?} outside the model's folder"
        ));
    }
    Ok(())
}
