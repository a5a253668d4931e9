//! Training data: where it comes from ([`DataSource`]) and the in-memory [`Dataset`] every
//! source is turned into (samples already at the model's shape, scaled to [-1, 1] for images).

mod image_folder;
pub mod rotation;
mod shapes;
mod toy2d;

pub use gan_models::DataSource;
pub use gan_models::mnist::{Mnist, read_mnist};
pub use image_folder::{LoadReport, read_image_folder};
pub use shapes::{labelled_shapes, shapes};
pub use toy2d::toy2d_points;

use crate::error::{Result, TrainError};

/// Samples of one shape, stored contiguously.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Per-sample shape: `[2]` or `[C, H, W]`.
    pub shape: Vec<usize>,
    values: Vec<f32>,
}

impl Dataset {
    pub fn new(shape: Vec<usize>, values: Vec<f32>) -> Self {
        let size: usize = shape.iter().product();
        assert!(
            size > 0 && values.len().is_multiple_of(size),
            "values hold whole samples"
        );
        Dataset { shape, values }
    }

    pub fn sample_size(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn len(&self) -> usize {
        self.values.len() / self.sample_size()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn sample(&self, i: usize) -> &[f32] {
        let n = self.sample_size();
        &self.values[i * n..(i + 1) * n]
    }

    pub fn values(&self) -> &[f32] {
        &self.values
    }
}

/// Samples with a class each.
#[derive(Debug, Clone)]
pub struct LabelledDataset {
    pub data: Dataset,
    /// Each sample's class, an index into `class_names`.
    pub labels: Vec<u8>,
    /// The classes' names, in label order.
    pub class_names: Vec<String>,
    /// What loading skipped (with `skip_bad`).
    pub report: LoadReport,
}

impl LabelledDataset {
    pub fn classes(&self) -> usize {
        self.class_names.len()
    }
}

/// Load a labelled `source` at `shape`: `mnist:DIR` (the digits 0–9), `shapes` (disc 0, square
/// 1), or a folder of class folders (`DIR/<class name>/<image>`, classes in sorted name order).
pub fn load_labelled(
    source: &DataSource,
    shape: &[usize],
    seed: u64,
    skip_bad: bool,
) -> Result<LabelledDataset> {
    let names = |list: &[&str]| list.iter().map(ToString::to_string).collect();
    match source {
        DataSource::Mnist(dir) => {
            let mnist = read_mnist(dir)?;
            Ok(LabelledDataset {
                data: image_folder::digits_to_dataset(&mnist, shape),
                labels: mnist.labels,
                class_names: (0..10).map(|d| d.to_string()).collect(),
                report: LoadReport::default(),
            })
        }
        DataSource::Shapes => {
            let (data, labels) = labelled_shapes(1024, shape, seed);
            Ok(LabelledDataset {
                data,
                labels,
                class_names: names(&["disc", "square"]),
                report: LoadReport::default(),
            })
        }
        DataSource::ImageFolder(dir) => {
            let (data, labels, class_names, report) =
                image_folder::read_class_folders(dir, shape, skip_bad)?;
            Ok(LabelledDataset {
                data,
                labels,
                class_names,
                report,
            })
        }
        DataSource::Toy2d => Err(TrainError::invalid(
            "data",
            "toy2d has no classes: labelled data is mnist:DIR, shapes or a folder of class folders",
        )),
    }
}

/// Options for turning a source into a [`Dataset`].
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The model's per-sample shape; images are converted and resized to it.
    pub shape: Vec<usize>,
    /// Skip unreadable images with a warning instead of failing.
    pub skip_bad: bool,
    /// Seed for generated data (toy2d).
    pub seed: u64,
}

/// Load `source` at the shape the model wants.
pub fn load(source: &DataSource, options: &LoadOptions) -> Result<(Dataset, LoadReport)> {
    let wants_points = options.shape == [2];
    match source {
        DataSource::Toy2d if wants_points => {
            Ok((toy2d_points(1000, options.seed), LoadReport::default()))
        }
        DataSource::Toy2d => Err(TrainError::invalid(
            "model",
            "the toy2d data set holds 2-D points; only the toy2d model trains on it",
        )),
        _ if wants_points => Err(TrainError::invalid(
            "data",
            "the toy2d model trains on the toy2d data set, not on images",
        )),
        DataSource::Shapes => Ok((
            shapes(1024, &options.shape, options.seed),
            LoadReport::default(),
        )),
        DataSource::Mnist(dir) => {
            let mnist = read_mnist(dir)?;
            Ok((
                image_folder::digits_to_dataset(&mnist, &options.shape),
                LoadReport::default(),
            ))
        }
        DataSource::ImageFolder(dir) => read_image_folder(dir, &options.shape, options.skip_bad),
    }
}
