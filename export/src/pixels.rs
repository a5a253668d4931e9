//! The optional `pixels` output: RGBA8 `[batch, H, W, 4]` computed in-graph from `image`, so an
//! engine can upload it as a texture without any math.

use gan_contract::pixels::OutputRange;

use crate::builder::{GraphBuilder, attr_int, attr_ints};
use crate::onnx::data_type;

/// The pixel rule of `gan_contract::pixels` in ONNX: `round((image + 1) · 127.5)` (ONNX `Round`
/// rounds half to even, as the rule does) clamped to [0, 255], gray repeated to RGB, alpha 255
/// unless the image has its own fourth channel, NHWC, u8.
pub fn lower_pixels(graph: &mut GraphBuilder, image: &str, channels: usize, output: &str) {
    let (shift, scale) = OutputRange::MinusOneToOne.shift_and_scale();
    let one = graph.constant_f32("pixels.one", &[], &[shift]);
    let half_range = graph.constant_f32("pixels.half_range", &[], &[scale]);
    let zero = graph.constant_f32("pixels.zero", &[], &[0.0]);
    let full = graph.constant_f32("pixels.full", &[], &[255.0]);
    let shifted = graph.fresh("pixels");
    graph.node("Add", "pixels.shift", &[image, &one], &shifted, vec![]);
    let scaled = graph.fresh("pixels");
    graph.node(
        "Mul",
        "pixels.scale",
        &[&shifted, &half_range],
        &scaled,
        vec![],
    );
    let rounded = graph.fresh("pixels");
    graph.node("Round", "pixels.round", &[&scaled], &rounded, vec![]);
    let mut rgb = graph.fresh("pixels");
    graph.node(
        "Clip",
        "pixels.clip",
        &[&rounded, &zero, &full],
        &rgb,
        vec![],
    );
    if channels == 1 {
        let gray = rgb;
        rgb = graph.fresh("pixels");
        graph.node(
            "Concat",
            "pixels.gray_to_rgb",
            &[&gray, &gray, &gray],
            &rgb,
            vec![attr_int("axis", 1)],
        );
    }
    // An RGBA image is its own; otherwise pad one channel of 255 after RGB: the alpha plane.
    let rgba = if channels == 4 {
        rgb
    } else {
        let pads = graph.constant_i64("pixels.alpha_pads", &[0, 0, 0, 0, 0, 1, 0, 0]);
        let rgba = graph.fresh("pixels");
        graph.node("Pad", "pixels.alpha", &[&rgb, &pads, &full], &rgba, vec![]);
        rgba
    };
    let nhwc = graph.fresh("pixels");
    graph.node(
        "Transpose",
        "pixels.nhwc",
        &[&rgba],
        &nhwc,
        vec![attr_ints("perm", &[0, 2, 3, 1])],
    );
    graph.node(
        "Cast",
        "pixels.u8",
        &[&nhwc],
        output,
        vec![attr_int("to", data_type::UINT8 as i64)],
    );
}
