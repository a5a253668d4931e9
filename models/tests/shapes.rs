use gan_models::{ArchConfig, ClassifierArch, Layer, ModelError, ParamRole, Role, RunModel};
use gan_models::{Dcgan, Excite, FastGan, Mlp, ParamSite};

fn dcgan(image_size: usize, channels: usize) -> ArchConfig {
    ArchConfig::Dcgan(Dcgan {
        image_size,
        channels,
        nz: 100,
        ngf: 8,
        ndf: 8,
        ..Dcgan::default()
    })
}

#[test]
fn every_architecture_chains_its_shapes() {
    let cases = [
        (ArchConfig::Toy2d, vec![2]),
        (ArchConfig::Mlp(Mlp::default()), vec![1, 28, 28]),
        (
            ArchConfig::Mlp(Mlp {
                nz: 100,
                batch_norm: true,
                ..Mlp::default()
            }),
            vec![1, 28, 28],
        ),
        (dcgan(16, 1), vec![1, 16, 16]),
        (dcgan(32, 3), vec![3, 32, 32]),
        (dcgan(64, 3), vec![3, 64, 64]),
        (dcgan(128, 1), vec![1, 128, 128]),
        (dcgan(256, 3), vec![3, 256, 256]),
        (fastgan(32, 1), vec![1, 32, 32]),
        (fastgan(64, 3), vec![3, 64, 64]),
        (fastgan(256, 3), vec![3, 256, 256]),
    ];
    for (arch, sample) in cases {
        let g = arch.generator().unwrap();
        let d = arch.discriminator().unwrap();
        assert_eq!(g.input_shape, vec![arch.latent_dim()], "{arch:?}");
        assert_eq!(g.output_shape().unwrap(), sample, "{arch:?} generator");
        assert_eq!(d.input_shape, sample, "{arch:?}");
        assert_eq!(d.output_shape().unwrap(), vec![1], "{arch:?} discriminator");
    }
}

fn fastgan(image_size: usize, channels: usize) -> ArchConfig {
    ArchConfig::FastGan(FastGan {
        image_size,
        channels,
        ..FastGan::default()
    })
}

/// FastGAN's generator gates each map from 32 px by the map an eighth its size, and its
/// discriminator's decoders rebuild 32 px images from its 8×8 and (a quarter of) 16×16 maps.
#[test]
fn fastgan_gates_large_maps_by_small_ones_and_decodes_from_d_features() {
    let arch = fastgan(128, 3);
    let g = arch.generator().unwrap();
    let shapes = g.shapes().unwrap();
    let gates: Vec<(usize, usize)> = g
        .layers
        .iter()
        .enumerate()
        .filter_map(|(i, l)| match l {
            Layer::Excite(Excite { from, .. }) => Some((shapes[from + 1][1], shapes[i][1])),
            _ => None,
        })
        .collect();
    assert_eq!(
        gates,
        [(4, 32), (8, 64), (16, 128)],
        "(source side, gated side)"
    );
    let d = arch.discriminator().unwrap();
    assert_eq!(d.decoders.len(), 2);
    // At 128 px the discriminator is 32, 64, 128 and 256 wide at 64, 32, 16 and 8 px.
    for (k, (input, quarter)) in [([256, 8, 8], false), ([128, 8, 8], true)]
        .iter()
        .enumerate()
    {
        let (decoder_in, decoder_out) = d.decoder_io(k).unwrap();
        assert_eq!(decoder_in, input.to_vec(), "decoder {k}");
        assert_eq!(decoder_out, vec![3, 32, 32], "decoder {k}");
        assert_eq!(d.decoders[k].quarter, *quarter);
    }
    let decoder_tensors = d
        .params()
        .iter()
        .filter(|p| matches!(p.site, ParamSite::Decoder { .. }))
        .inspect(|p| assert!(p.name.starts_with("decoders."), "{}", p.name))
        .count();
    assert!(decoder_tensors > 0);
    // Too small for the gates, and no spectral norm or classes.
    assert!(fastgan(16, 3).validate().is_err());
    let sn = arch
        .clone()
        .with_spectral_norm(gan_models::SpectralNorm::D)
        .and_then(|a| a.validate());
    assert!(sn.is_err());
}

#[test]
fn an_excitation_must_read_an_earlier_square_map_of_its_width() {
    let mut g = fastgan(32, 3).generator().unwrap();
    let at = g
        .layers
        .iter()
        .position(|l| matches!(l, Layer::Excite(_)))
        .unwrap();
    let Layer::Excite(excite) = &mut g.layers[at] else {
        unreachable!()
    };
    excite.from = at;
    let error = g.shapes().unwrap_err().to_string();
    assert!(error.contains("earlier layer"), "{error}");
}

#[test]
fn dcgan_depth_follows_image_size() {
    let convs = |arch: &ArchConfig| {
        arch.generator()
            .unwrap()
            .layers
            .iter()
            .filter(|l| matches!(l, Layer::Conv(c) if c.transposed))
            .count()
    };
    assert_eq!(convs(&dcgan(32, 3)), 4, "32 px is the 4-layer variant");
    assert_eq!(convs(&dcgan(64, 3)), 5, "64 px is the standard DCGAN");
    assert_eq!(convs(&dcgan(128, 3)), 6, "128 px has one more block");
}

#[test]
fn standard_dcgan_matches_the_paper_widths() {
    let arch = ArchConfig::Dcgan(Dcgan {
        image_size: 64,
        channels: 3,
        nz: 100,
        ngf: 64,
        ndf: 64,
        ..Dcgan::default()
    });
    let g = arch.generator().unwrap();
    let widths: Vec<usize> = g
        .shapes()
        .unwrap()
        .iter()
        .filter(|s| s.len() == 3)
        .map(|s| s[0])
        .collect();
    // Reshape to [100,1,1], then 512@4, 256@8, 128@16, 64@32, 3@64.
    assert!(widths.starts_with(&[100, 512, 512, 512, 256]), "{widths:?}");
    assert_eq!(g.output_shape().unwrap(), vec![3, 64, 64]);
    // PyTorch's DCGAN (with our extra output biases): 3,576,704 + 3 generator parameters.
    assert_eq!(g.trainable_count(), 3_576_704 + 3);
    assert_eq!(
        arch.discriminator().unwrap().trainable_count(),
        2_765_568 + 64 + 1
    );
}

#[test]
fn no_bias_before_batchnorm_and_no_batchnorm_on_the_first_discriminator_layer() {
    for arch in [dcgan(32, 1), dcgan(64, 3), dcgan(128, 3)] {
        for net in [arch.generator().unwrap(), arch.discriminator().unwrap()] {
            for pair in net.layers.windows(2) {
                if let Layer::BatchNorm2d { .. } = pair[1] {
                    let has_bias = pair[0].params().iter().any(|p| p.role == ParamRole::Bias);
                    assert!(
                        !has_bias,
                        "{} feeds BatchNorm but has a bias",
                        pair[0].name()
                    );
                }
            }
        }
        let d = arch.discriminator().unwrap();
        assert!(matches!(d.layers[0], Layer::Conv(c) if !c.transposed));
        assert!(!matches!(d.layers[1], Layer::BatchNorm2d { .. }));
    }
}

#[test]
fn parameter_names_are_stable() {
    let names: Vec<String> = dcgan(32, 3)
        .generator()
        .unwrap()
        .params()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(
        &names[..5],
        [
            "layers.1.weight",
            "layers.2.weight",
            "layers.2.bias",
            "layers.2.running_mean",
            "layers.2.running_var"
        ]
    );
}

#[test]
fn bad_hyper_parameters_are_errors() {
    for size in [8, 48, 512] {
        let err = dcgan(size, 3).generator().unwrap_err();
        assert!(
            matches!(err, ModelError::InvalidConfig(ref m) if m.contains(&size.to_string())),
            "{err}"
        );
    }
    assert!(dcgan(64, 2).discriminator().is_err());
    assert!(
        ArchConfig::Mlp(Mlp {
            nz: 0,
            ..Mlp::default()
        })
        .generator()
        .is_err()
    );
    // Sizes that would abort on allocation are refused by name instead.
    assert!(
        ArchConfig::Mlp(Mlp {
            nz: usize::MAX,
            ..Mlp::default()
        })
        .generator()
        .is_err()
    );
    let wide = |nz, ngf| {
        ArchConfig::Dcgan(Dcgan {
            image_size: 256,
            channels: 3,
            nz,
            ngf,
            ndf: 64,
            ..Dcgan::default()
        })
    };
    let err = wide(100, 8192).generator().unwrap_err().to_string();
    assert!(err.contains("parameters") && err.contains("limit"), "{err}");
    let err = wide(100, usize::MAX).generator().unwrap_err().to_string();
    assert!(err.contains("ngf"), "{err}");
    let err = wide(1 << 40, 64).discriminator().unwrap_err().to_string();
    assert!(err.contains("nz"), "{err}");
}

#[test]
fn config_round_trips_through_json() {
    let arch = dcgan(64, 3);
    let json = serde_json::to_string(&arch).unwrap();
    assert!(json.contains("\"arch\":\"dcgan\""), "{json}");
    assert_eq!(serde_json::from_str::<ArchConfig>(&json).unwrap(), arch);
}

#[test]
fn classifier_has_logits_and_a_feature_tap_but_no_gan() {
    let digits = ClassifierArch {
        image_size: 28,
        channels: 1,
        classes: 10,
    };
    let net = digits.network().unwrap();
    let shapes = net.shapes().unwrap();
    assert_eq!(net.input_shape, vec![1, 28, 28]);
    assert_eq!(net.output_shape().unwrap(), vec![10]);
    let tap = digits.features_layer();
    assert!(matches!(net.layers[tap], gan_models::Layer::Linear { .. }));
    assert_eq!(shapes[tap + 1], vec![gan_models::CLASSIFIER_FEATURES]);
    let run = RunModel::Classifier(digits);
    assert_eq!(run.roles(), [Role::Classifier]);
    assert!(
        run.network(Role::Generator)
            .unwrap_err()
            .to_string()
            .contains("no generator")
    );
    let odd = ClassifierArch {
        image_size: 30,
        ..digits
    };
    assert!(
        odd.network()
            .unwrap_err()
            .to_string()
            .contains("multiple of 4")
    );
}

/// A conditional GAN: the generator joins a class embedding to `z` (its first layer is wider by
/// the embedding), the discriminator projects the logit layer's input onto a class embedding of
/// that input's size; both embeddings are one more parameter named `label_embedding.weight`.
#[test]
fn conditional_networks_have_class_embeddings_of_the_right_shapes() {
    let digits: Vec<String> = (0..10).map(|d| d.to_string()).collect();
    for (arch, g_first_in, d_dim) in [
        (ArchConfig::Mlp(Mlp::default()), 110, 128),
        (dcgan(32, 1), 110, 8 * 4 * 4 * 4),
    ] {
        let plain = arch.clone();
        let arch = arch.with_classes(digits.clone()).unwrap();
        assert_eq!(arch.classes().len(), 10);
        let (g, d) = (arch.generator().unwrap(), arch.discriminator().unwrap());
        assert_eq!(g.input_shape, vec![100], "z alone is the input");
        assert_eq!(g.shapes().unwrap()[0], vec![g_first_in]);
        assert_eq!(g.output_shape().unwrap(), plain.sample_shape());
        assert_eq!(d.output_shape().unwrap(), vec![1]);
        let embedding = |net: &gan_models::Network| {
            net.params()
                .into_iter()
                .find(|p| p.name == gan_models::LABEL_EMBEDDING)
                .map(|p| (p.site, p.spec.shape))
        };
        assert_eq!(
            embedding(&g),
            Some((ParamSite::LabelEmbedding, vec![10, 10]))
        );
        assert_eq!(
            embedding(&d),
            Some((ParamSite::LabelEmbedding, vec![10, d_dim]))
        );
        assert_eq!(embedding(&plain.generator().unwrap()), None);
        // The parameter count grows by exactly the embeddings and the wider first layer.
        let first_layer_growth = match plain {
            ArchConfig::Mlp(_) => 10 * 128,
            _ => 10 * (8 << 2) * 4 * 4,
        };
        assert_eq!(
            g.trainable_count(),
            plain.generator().unwrap().trainable_count() + 100 + first_layer_growth
        );
    }
    // What cannot be conditional, or conditioned on what is not a set of classes.
    assert!(ArchConfig::Toy2d.with_classes(digits).is_err());
    let mlp = ArchConfig::Mlp(Mlp {
        nz: 8,
        ..Mlp::default()
    });
    let names = |list: &[&str]| list.iter().map(ToString::to_string).collect::<Vec<_>>();
    assert!(mlp.clone().with_classes(names(&["one"])).is_err());
    assert!(mlp.clone().with_classes(names(&["a", "a"])).is_err());
    assert!(mlp.clone().with_classes(names(&["a", " "])).is_err());
    assert!(mlp.with_classes(names(&["a", "b"])).is_ok());
}
