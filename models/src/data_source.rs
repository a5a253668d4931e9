//! Where images come from, as a user writes it on the command line (`gan train --data`,
//! `gan eval --images/--real`): built-in sets, MNIST IDX files, or a folder of images.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A data source, as written on the command line (and, as that text, in a run's
/// `config.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum DataSource {
    /// `toy2d`: the 2-D Gaussian of the toy GAN, generated in memory.
    Toy2d,
    /// `shapes`: 1,024 pictures of discs and squares, generated in memory.
    Shapes,
    /// `mnist:DIR`: MNIST IDX files in DIR.
    Mnist(PathBuf),
    /// `DIR`: a folder of images, searched recursively.
    ImageFolder(PathBuf),
}

impl std::str::FromStr for DataSource {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Ok(match s {
            "toy2d" => DataSource::Toy2d,
            "shapes" => DataSource::Shapes,
            _ => match s.strip_prefix("mnist:") {
                Some(dir) => DataSource::Mnist(PathBuf::from(dir)),
                None => DataSource::ImageFolder(PathBuf::from(s)),
            },
        })
    }
}

impl std::fmt::Display for DataSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DataSource::Toy2d => write!(f, "toy2d"),
            DataSource::Shapes => write!(f, "shapes"),
            DataSource::Mnist(dir) => write!(f, "mnist:{}", dir.display()),
            DataSource::ImageFolder(dir) => write!(f, "{}", dir.display()),
        }
    }
}

impl From<&str> for DataSource {
    fn from(s: &str) -> Self {
        let Ok(source) = s.parse();
        source
    }
}

impl From<String> for DataSource {
    fn from(s: String) -> Self {
        DataSource::from(s.as_str())
    }
}

impl From<DataSource> for String {
    fn from(source: DataSource) -> Self {
        source.to_string()
    }
}
