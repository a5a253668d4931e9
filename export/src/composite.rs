//! Layers that lower to several standard ONNX nodes rather than one: nearest upsampling
//! (`Resize`), the GLU (`Split`, `Sigmoid`, `Mul`) and skip-layer excitation (`AveragePool`,
//! two `Conv`s, `LeakyRelu`, `Sigmoid`, `Mul`), so every runtime runs them unchanged.

use std::collections::HashMap;

use gan_models::weights::Tensor;
use gan_models::{Activation, Excite, Layer, ParamRole};

use crate::ExportError;
use crate::builder::{GraphBuilder, attr_int, attr_ints, attr_string};
use crate::lower::lower_layer;

/// Skip-layer excitation as standard operators: `AveragePool` to 4×4 (none for a 4×4 source),
/// `Conv` 4×4, `LeakyRelu`, `Conv` 1×1, `Sigmoid`, and `Mul` with the gated value.
pub(crate) struct Gate<'a> {
    pub excite: &'a Excite,
    /// The value the gate is computed from, and its side.
    pub source: &'a str,
    pub side: usize,
}

impl Gate<'_> {
    pub fn lower(
        &self,
        graph: &mut GraphBuilder,
        name: &str,
        params: &HashMap<ParamRole, Tensor>,
        input: &str,
        output: &str,
    ) -> Result<(), ExportError> {
        let window = Excite::pool_window(self.side).ok_or_else(|| {
            ExportError::Invalid(format!("{name}: cannot pool a {} px map to 4×4", self.side))
        })?;
        let mut value = self.source.to_string();
        if window > 1 {
            let pooled = graph.fresh(&format!("{name}.pooled"));
            let w = window as i64;
            graph.node(
                "AveragePool",
                &format!("{name}.pool"),
                &[&value],
                &pooled,
                vec![
                    attr_ints("kernel_shape", &[w, w]),
                    attr_ints("strides", &[w, w]),
                ],
            );
            value = pooled;
        }
        // The gate's convolutions and activations are ordinary layers: `lower_layer` writes
        // them, their weights under `{name}.squeeze.weight` and `{name}.expand.weight`.
        let [squeeze, expand] = self.excite.convolutions();
        let rectifier = Layer::Activation(Activation::LeakyRelu {
            slope: Excite::SLOPE,
        });
        let sigmoid = Layer::Activation(Activation::Sigmoid);
        let steps: [(Layer, Option<ParamRole>, &str, &str); 4] = [
            (
                Layer::Conv(squeeze),
                Some(ParamRole::ExciteSqueeze),
                "squeeze",
                "squeeze",
            ),
            (rectifier, None, "rectify", "rectified"),
            (
                Layer::Conv(expand),
                Some(ParamRole::ExciteExpand),
                "expand",
                "expand",
            ),
            (sigmoid, None, "sigmoid", "gate"),
        ];
        for (layer, role, part, value_hint) in steps {
            let own = match role {
                Some(role) => {
                    let weight = params.get(&role).ok_or_else(|| {
                        ExportError::Invalid(format!("{name}: no {} tensor", role.suffix()))
                    })?;
                    HashMap::from([(ParamRole::Weight, weight.clone())])
                }
                None => HashMap::new(),
            };
            let next = graph.fresh(&format!("{name}.{value_hint}"));
            lower_layer(
                graph,
                &layer,
                &format!("{name}.{part}"),
                &own,
                &value,
                &next,
            );
            value = next;
        }
        graph.node(
            "Mul",
            &format!("{name}.excite"),
            &[input, &value],
            output,
            vec![],
        );
        Ok(())
    }
}

/// Nearest upsampling as `Resize` (PyTorch's `nn.Upsample(mode="nearest")` export: asymmetric
/// coordinates, floor).
pub(crate) fn upsample(
    graph: &mut GraphBuilder,
    name: &str,
    factor: usize,
    input: &str,
    output: &str,
) {
    let f = factor as f32;
    let scales = graph.constant_f32(&format!("{name}.scales"), &[4], &[1.0, 1.0, f, f]);
    let attributes = vec![
        attr_string("mode", "nearest"),
        attr_string("coordinate_transformation_mode", "asymmetric"),
        attr_string("nearest_mode", "floor"),
    ];
    graph.node("Resize", name, &[input, "", &scales], output, attributes);
}

/// A GLU over channels as `Split` into halves, `Sigmoid` of the second and `Mul`.
pub(crate) fn glu(
    graph: &mut GraphBuilder,
    name: &str,
    channels: usize,
    input: &str,
    output: &str,
) {
    let half = (channels / 2) as i64;
    let split = graph.constant_i64(&format!("{name}.split"), &[half, half]);
    let (value, gate) = (
        graph.fresh(&format!("{name}.value")),
        graph.fresh(&format!("{name}.gate")),
    );
    graph.node_with_outputs(
        "Split",
        &format!("{name}.halves"),
        &[input, &split],
        &[&value, &gate],
        vec![attr_int("axis", 1)],
    );
    let sigmoid = graph.fresh(&format!("{name}.sigmoid"));
    graph.node(
        "Sigmoid",
        &format!("{name}.sigmoid"),
        &[&gate],
        &sigmoid,
        vec![],
    );
    graph.node("Mul", name, &[&value, &sigmoid], output, vec![]);
}
