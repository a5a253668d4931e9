//! [`Scorer`]: the one entry point to scoring. It opens a classifier once, resolves which of its
//! outputs hold class scores and features and how images are scaled for it, and turns pictures
//! (from a generator, a folder or memory) into [`Scores`]. `gan eval *`, the scores taken while
//! training and the bindings all go through it, so they cannot compute a score differently.

use std::path::Path;

use crate::classifier::{Classifier, Rows};
use crate::frechet::{FeatureStats, FrechetDistance, frechet_distance};
use crate::inception::{InceptionScore, in_split_order, inception_score, probabilities};
use crate::kernel::{KernelDistance, kernel_distance};
use crate::pictures::{Normalize, Picture, Preprocess};
use crate::{ClassAccuracy, EvalError, Result, class_accuracy, match_classes};

/// Images per classifier run unless the caller or the model says otherwise.
pub const DEFAULT_BATCH: usize = 50;

/// What the caller says about a classifier beyond its file; each `None` defers to the file's
/// `gan.*` metadata.
#[derive(Debug, Clone)]
pub struct ScorerOptions {
    /// Images per classifier run (a model with a fixed batch size uses its own).
    pub batch_size: usize,
    /// How images are scaled for the classifier.
    pub normalize: Option<Normalize>,
    /// The output holding class scores (else the metadata's, else the first output).
    pub logits_output: Option<String>,
    /// The output holding feature vectors (else the metadata's; FID and KID need one).
    pub features_output: Option<String>,
}

impl Default for ScorerOptions {
    fn default() -> Self {
        ScorerOptions {
            batch_size: DEFAULT_BATCH,
            normalize: None,
            logits_output: None,
            features_output: None,
        }
    }
}

/// The real images' side of FID and KID, computed once and compared with any number of
/// generated sets.
#[derive(Debug, Clone)]
pub struct Reference {
    pub features: Rows,
    pub stats: FeatureStats,
}

/// Which scores to compute for a set of generated pictures.
#[derive(Debug, Clone, Default)]
pub struct Request<'a> {
    /// Inception Score over this many splits.
    pub inception_splits: Option<usize>,
    /// FID against this reference.
    pub fid: Option<&'a Reference>,
    /// KID against this reference: (reference, subsets, subset size).
    pub kid: Option<(&'a Reference, usize, usize)>,
    /// Class accuracy: the generator's class names and, per picture, the class it was asked for.
    pub accuracy: Option<(&'a [String], &'a [usize])>,
}

/// What [`Scorer::score`] found, with the classifier outputs it used (for outside checks).
#[derive(Debug, Clone, Default)]
pub struct Scores {
    pub inception: Option<InceptionScore>,
    pub fid: Option<FrechetDistance>,
    pub kid: Option<KernelDistance>,
    pub accuracy: Option<ClassAccuracy>,
    /// The generated pictures' class scores, in the Inception Score's split order.
    pub logits: Option<Rows>,
    /// The generated pictures' features.
    pub features: Option<Rows>,
}

#[derive(Debug)]
pub struct Scorer {
    classifier: Classifier,
    preprocess: Preprocess,
    logits: usize,
    features: Option<usize>,
}

impl Scorer {
    /// Open the classifier at `path` and resolve its outputs and input scaling.
    pub fn open(path: &Path, options: &ScorerOptions) -> Result<Self> {
        let classifier = Classifier::load(path, options.batch_size)?;
        let declared = classifier
            .declared_normalize()
            .map(str::parse::<Normalize>)
            .transpose()
            .map_err(|e| EvalError::file(path, format!("gan.normalize: {e}")))?;
        let Some(normalize) = options.normalize.or(declared) else {
            return Err(EvalError::NeedsOption {
                path: path.to_path_buf(),
                reason: "does not say how its input is scaled (gan.normalize): give minus1_1, \
                         zero_1 or imagenet (torchvision's Inception v3: imagenet)"
                    .into(),
                option: "normalize",
            });
        };
        let logits = match options
            .logits_output
            .as_deref()
            .or(classifier.declared_logits_output())
        {
            Some(name) => classifier.output_index(name)?,
            None => 0,
        };
        let features = options
            .features_output
            .as_deref()
            .or(classifier.declared_features_output())
            .map(|name| classifier.output_index(name))
            .transpose()?;
        let [channels, height, width] = classifier.input_shape();
        Ok(Scorer {
            classifier,
            preprocess: Preprocess {
                channels,
                height,
                width,
                normalize,
            },
            logits,
            features,
        })
    }

    pub fn classifier(&self) -> &Classifier {
        &self.classifier
    }

    /// The name of the output read as class scores.
    pub fn logits_output(&self) -> &str {
        &self.classifier.output_names()[self.logits]
    }

    /// The name of the output read as features, if the classifier has one.
    pub fn features_output(&self) -> Option<&str> {
        self.features
            .map(|i| self.classifier.output_names()[i].as_str())
    }

    /// The feature output's index, or an error that says FID and KID need one.
    fn require_features(&self) -> Result<usize> {
        self.features.ok_or_else(|| EvalError::NeedsOption {
            path: self.classifier.path().to_path_buf(),
            reason: format!(
                "does not say which output holds its features (gan.features_output), which FID \
                 and KID need; its outputs are: {}",
                self.classifier.output_names().join(", ")
            ),
            option: "features_output",
        })
    }

    /// The real images' features and their statistics.
    pub fn reference(
        &self,
        real: &[Picture],
        progress: &mut dyn FnMut(usize),
    ) -> Result<Reference> {
        let output = self.require_features()?;
        let mut run = self
            .classifier
            .run(real, &self.preprocess, &[output], progress)?;
        let features = run.swap_remove(0);
        let stats = FeatureStats::from_rows(&features.values, features.width)?;
        Ok(Reference { features, stats })
    }

    /// The scores `request` asks for, of `generated`, in one pass of the classifier.
    pub fn score(
        &self,
        generated: &[Picture],
        request: &Request,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Scores> {
        let wants_logits = request.inception_splits.is_some() || request.accuracy.is_some();
        let wants_features = request.fid.is_some() || request.kid.is_some();
        let mut wanted = Vec::new();
        if wants_logits {
            wanted.push(self.logits);
        }
        if wants_features {
            wanted.push(self.require_features()?);
        }
        // One row set per wanted output, in `wanted`'s order.
        let mut run = self
            .classifier
            .run(generated, &self.preprocess, &wanted, progress)?
            .into_iter();
        let class_scores = if wants_logits { run.next() } else { None };
        let features = if wants_features { run.next() } else { None };
        let mut scores = Scores::default();
        if let Some(features) = features {
            if let Some(reference) = request.fid {
                let stats = FeatureStats::from_rows(&features.values, features.width)?;
                scores.fid = Some(frechet_distance(&reference.stats, &stats)?);
            }
            if let Some((reference, subsets, subset_size)) = request.kid {
                scores.kid = Some(kernel_distance(
                    &reference.features.values,
                    &features.values,
                    features.width,
                    subsets,
                    subset_size,
                )?);
            }
            scores.features = Some(features);
        }
        if let Some(Rows { values, width }) = class_scores {
            if let Some((names, intended)) = request.accuracy {
                let declared = self.classifier.declared_classes();
                let target = match_classes(names, declared.as_deref(), width)?;
                scores.accuracy = Some(class_accuracy(&values, width, intended, &target)?);
            }
            let logits = Rows {
                values: in_split_order(&values, width),
                width,
            };
            if let Some(splits) = request.inception_splits {
                scores.inception = Some(self.inception(&logits, splits)?);
            }
            scores.logits = Some(logits);
        }
        Ok(scores)
    }

    /// The Inception Score of class scores already in split order.
    fn inception(&self, logits: &Rows, splits: usize) -> Result<InceptionScore> {
        if logits.width < 2 {
            return Err(EvalError::NeedsOption {
                path: self.classifier.path().to_path_buf(),
                reason: format!(
                    "output `{}` gives {} value per image: the Inception Score needs class \
                     scores (2 or more); choose another output",
                    self.logits_output(),
                    logits.width
                ),
                option: "logits_output",
            });
        }
        inception_score(
            &probabilities(&logits.values, logits.width),
            logits.width,
            splits,
        )
    }
}
