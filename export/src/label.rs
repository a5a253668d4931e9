//! Lowering a conditional network's class label (`gan_models::LabelInput`): the embedding row of
//! each label is a `Gather` from the embedding table; a generator joins it to `z` with `Concat`,
//! a projection discriminator adds `⟨embedding, h⟩` (`Mul`, `ReduceSum`) to its logit.

use gan_models::weights::Tensor;

use crate::builder::{GraphBuilder, attr_int};

/// The embedding rows of the labels in value `label`: `[batch, dim]`.
pub fn embed(graph: &mut GraphBuilder, table: &Tensor, label: &str) -> String {
    let table = graph.constant_f32("label_embedding.weight", &table.shape, &table.values);
    let rows = graph.fresh("label_embedding");
    graph.node(
        "Gather",
        "label_embedding",
        &[&table, label],
        &rows,
        vec![attr_int("axis", 0)],
    );
    rows
}

/// `[input, embedded]` along axis 1: the generator's first layer input.
pub fn join(graph: &mut GraphBuilder, input: &str, embedded: &str) -> String {
    let joined = graph.fresh("z_and_label");
    graph.node(
        "Concat",
        "join_label",
        &[input, embedded],
        &joined,
        vec![attr_int("axis", 1)],
    );
    joined
}

/// The projection term `⟨embedded, flatten(h)⟩`, `[batch, 1]`.
pub fn project(graph: &mut GraphBuilder, h: &str, embedded: &str) -> String {
    let flat = graph.fresh("projection_input");
    graph.node(
        "Flatten",
        "projection_flatten",
        &[h],
        &flat,
        vec![attr_int("axis", 1)],
    );
    let product = graph.fresh("projection_product");
    graph.node(
        "Mul",
        "projection_mul",
        &[&flat, embedded],
        &product,
        vec![],
    );
    let axes = graph.constant_i64("projection_axes", &[1]);
    let term = graph.fresh("projection");
    graph.node(
        "ReduceSum",
        "projection_sum",
        &[&product, &axes],
        &term,
        vec![attr_int("keepdims", 1)],
    );
    term
}
