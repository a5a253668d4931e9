//! What a run folder trained: a GAN ([`ArchConfig`], a generator and a discriminator) or the
//! classifier ([`ClassifierArch`]). Readers of any run (the exporter, the CLI) see this; the GAN
//! trainer and the classifier trainer each work with their own type, so neither has functions
//! that fail for the other kind.

use serde::{Deserialize, Serialize};

use crate::{ArchConfig, ClassifierArch, ModelError, Network, Role};

/// The `model` of a run's `config.json`, told apart by its `arch` tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RunModel {
    Gan(ArchConfig),
    Classifier(ClassifierArch),
}

impl RunModel {
    /// Lower-case architecture name (`toy2d`, `mlp`, `dcgan`, `classifier`).
    pub fn name(&self) -> &'static str {
        match self {
            RunModel::Gan(arch) => arch.name(),
            RunModel::Classifier(_) => "classifier",
        }
    }

    /// The networks of the run.
    pub fn roles(&self) -> &'static [Role] {
        match self {
            RunModel::Gan(_) => &[Role::Generator, Role::Discriminator],
            RunModel::Classifier(_) => &[Role::Classifier],
        }
    }

    /// The network playing `role`; an error for a role the run does not have.
    pub fn network(&self, role: Role) -> Result<Network, ModelError> {
        match (self, role) {
            (RunModel::Gan(arch), Role::Generator) => arch.generator(),
            (RunModel::Gan(arch), Role::Discriminator) => arch.discriminator(),
            (RunModel::Classifier(arch), Role::Classifier) => arch.network(),
            (_, role) => Err(ModelError::InvalidConfig(format!(
                "a {} run has no {}",
                self.name(),
                role.name()
            ))),
        }
    }

    /// Per-sample shape of the data: `[2]` or `[C, H, W]`.
    pub fn sample_shape(&self) -> Vec<usize> {
        match self {
            RunModel::Gan(arch) => arch.sample_shape(),
            RunModel::Classifier(arch) => arch.sample_shape(),
        }
    }

    /// Whether samples are images rather than points.
    pub fn is_image(&self) -> bool {
        self.sample_shape().len() == 3
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Mlp;

    #[test]
    fn gan_and_classifier_configs_are_told_apart_by_their_tag() {
        let gan: RunModel = serde_json::from_str(r#"{"arch": "mlp", "nz": 8}"#).unwrap();
        assert_eq!(
            gan,
            RunModel::Gan(ArchConfig::Mlp(Mlp {
                nz: 8,
                ..Mlp::default()
            }))
        );
        let classifier = ClassifierArch {
            image_size: 28,
            channels: 1,
            classes: 10,
        };
        let json = serde_json::to_string(&RunModel::Classifier(classifier)).unwrap();
        assert!(json.contains(r#""arch":"classifier""#), "{json}");
        let back: RunModel = serde_json::from_str(&json).unwrap();
        assert_eq!(back, RunModel::Classifier(classifier));
        assert!(back.network(Role::Generator).is_err());
        assert!(gan.network(Role::Classifier).is_err());
    }
}
