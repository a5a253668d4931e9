//! Training behaviour on data the tests make themselves.

use gan_models::Mlp;
use std::path::Path;

use candle_core::{Device, Tensor};
use gan_models::fixtures::tiny_dcgan;
use gan_models::{ArchConfig, FastGan, TOY2D_A, TOY2D_B, run_layout};
use gan_train::augment::{Augment, AugmentChance};
use gan_train::net::{Net, batch_tensor};
use gan_train::rng::{SeededRng, Stream};
use gan_train::{TrainConfig, TrainError, Trainer};

/// `n` small RGB pictures, different enough that batches differ.
fn image_folder(dir: &Path, n: usize) {
    gan_models::fixtures::write_image_folder(dir, n, 20);
}

/// A finished toy2d run of `steps` steps in `dir`; its configuration.
fn toy_run(dir: &Path, steps: u64) -> TrainConfig {
    let mut config = TrainConfig::new(ArchConfig::Toy2d, "toy2d");
    config.max_steps = Some(steps);
    Trainer::create(config.clone(), dir)
        .unwrap()
        .run(&mut ())
        .unwrap();
    config
}

fn tensors(net: &Net) -> Vec<(String, Vec<f32>)> {
    net.named_tensors()
        .into_iter()
        .map(|(n, t)| (n, t.flatten_all().unwrap().to_vec1().unwrap()))
        .collect()
}

#[test]
fn candle_networks_produce_the_described_shapes() {
    let device = Device::Cpu;
    let archs = [
        ArchConfig::Toy2d,
        ArchConfig::Mlp(Mlp::default()),
        tiny_dcgan(16, 1),
        tiny_dcgan(32, 3),
        tiny_dcgan(64, 3),
        tiny_dcgan(128, 1),
    ];
    for arch in archs {
        let mut rng = SeededRng::new(1, Stream::Init);
        let g = Net::init(arch.generator().unwrap(), &mut rng, &device).unwrap();
        let d = Net::init(arch.discriminator().unwrap(), &mut rng, &device).unwrap();
        let z = batch_tensor(
            rng.normal(3 * arch.latent_dim(), 0.0, 1.0),
            3,
            &[arch.latent_dim()],
            &device,
        )
        .unwrap();
        for train in [true, false] {
            let x = g.forward(&z, None, train).unwrap();
            let mut expected = vec![3];
            expected.extend(arch.sample_shape());
            assert_eq!(x.dims(), expected.as_slice(), "{arch:?} generator");
            assert_eq!(
                d.forward(&x, None, train).unwrap().dims(),
                &[3, 1],
                "{arch:?} discriminator"
            );
            if arch.is_image() {
                let v = x.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                assert!(
                    v.iter().all(|p| (-1.0..=1.0).contains(p)),
                    "Tanh output in [-1, 1]"
                );
            }
        }
    }
}

/// PyTorch's rule: after one training pass from (0, 1), running_mean = 0.1 · batch mean and
/// running_var = 0.9 + 0.1 · the unbiased batch variance (momentum 0.1), per channel.
#[test]
fn batchnorm_training_updates_running_statistics_like_pytorch() {
    let arch = tiny_dcgan(16, 1);
    let device = Device::Cpu;
    let mut rng = SeededRng::new(3, Stream::Init);
    let d = Net::init(arch.discriminator().unwrap(), &mut rng, &device).unwrap();
    let x = batch_tensor(rng.normal(4 * 256, 50.0, 200.0), 4, &[1, 16, 16], &device).unwrap();
    // The input of BatchNorm layer 3, from the same weights: layers 0..3 have no BatchNorm.
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("d.safetensors");
    d.save(&weights, Default::default()).unwrap();
    let mut prefix = arch.discriminator().unwrap();
    assert!(matches!(
        prefix.layers[3],
        gan_models::Layer::BatchNorm2d { .. }
    ));
    prefix.layers.truncate(3);
    let h = Net::load(prefix, &weights, &device)
        .unwrap()
        .forward(&x, None, false)
        .unwrap();
    let (n, c, hh, ww) = h.dims4().unwrap();
    let h: Vec<f32> = h.flatten_all().unwrap().to_vec1().unwrap();
    let count = (n * hh * ww) as f64;
    let channel = |k: usize| {
        (0..n).flat_map(move |i| {
            let start = (i * c + k) * hh * ww;
            start..start + hh * ww
        })
    };
    let expected: Vec<(f64, f64)> = (0..c)
        .map(|k| {
            let mean = channel(k).map(|j| f64::from(h[j])).sum::<f64>() / count;
            let var = channel(k)
                .map(|j| (f64::from(h[j]) - mean).powi(2))
                .sum::<f64>()
                / (count - 1.0);
            (0.1 * mean, 0.9 + 0.1 * var)
        })
        .collect();

    d.forward(&x, None, true).unwrap();
    let stat = |name: &str| -> Vec<f32> {
        d.params()
            .find(|p| p.name == name)
            .unwrap()
            .var
            .as_tensor()
            .to_vec1()
            .unwrap()
    };
    let (m, v) = (stat("layers.3.running_mean"), stat("layers.3.running_var"));
    for k in 0..c {
        let (want_m, want_v) = expected[k];
        assert!(
            (f64::from(m[k]) - want_m).abs() < 1e-5 * (1.0 + want_m.abs()),
            "channel {k}: running_mean {} vs PyTorch's {want_m}",
            m[k]
        );
        assert!(
            (f64::from(v[k]) - want_v).abs() < 1e-5 * want_v,
            "channel {k}: running_var {} vs PyTorch's {want_v}",
            v[k]
        );
    }
    assert!(
        expected
            .iter()
            .any(|&(m, v)| m.abs() > 1e-3 && (v - 1.0).abs() > 1e-2),
        "the batch statistics are not the initial ones, so the test can fail"
    );
}

#[test]
fn resume_continues_exactly() {
    let data = tempfile::tempdir().unwrap();
    image_folder(data.path(), 12);
    // Every option that keeps state or draws from the stream: spectral norm (its `u` vectors),
    // the EMA generator, augmentation, noise, the mode-seeking term.
    let arch = tiny_dcgan(16, 3)
        .with_spectral_norm(gan_models::SpectralNorm::Both)
        .unwrap();
    let mut config = TrainConfig::new(arch, data.path().to_str().unwrap());
    config.batch_size = 4;
    config.flip = true;
    config.mode_seeking = 0.5;
    config.instance_noise = 0.1;
    config.instance_noise_steps = 20;
    config.label_smoothing = 0.1;
    config.ema_decay = Some(0.9);
    config.augment = vec![Augment::Color, Augment::Translation, Augment::Cutout];
    config.seed = 11;
    let (straight, split, resumed) = ten_steps_straight_and_resumed(&config);
    let (straight, split) = (straight.path(), split.path());
    // The EMA generator resumes exactly too, and is not the raw generator.
    let load = |dir: &Path, file: &str| {
        let path = dir.join("checkpoints/step_000010").join(file);
        tensors(&Net::load(config.model.generator().unwrap(), &path, &Device::Cpu).unwrap())
    };
    let ema = load(straight, run_layout::GENERATOR_EMA_FILE);
    assert_eq!(ema, load(split, run_layout::GENERATOR_EMA_FILE));
    assert_ne!(ema, load(straight, run_layout::GENERATOR_FILE));
    // And a checkpoint on disk restores the same weights the trainer holds.
    let (step, dir) = run_layout::latest_checkpoint(split).unwrap().unwrap();
    assert_eq!(step, 10);
    let g = Net::load(
        config.model.generator().unwrap(),
        &dir.join(run_layout::GENERATOR_FILE),
        &Device::Cpu,
    )
    .unwrap();
    assert_eq!(tensors(&g), tensors(resumed.generator()));
    // The power-iteration vectors are among what was restored, and they moved from where the
    // run's initialisation (the generator's draws, then the discriminator's) put them.
    let u = "layers.0.weight_u";
    let mut init_rng = gan_train::rng::SeededRng::new(11, gan_train::rng::Stream::Init);
    let device = Device::Cpu;
    Net::init(config.model.generator().unwrap(), &mut init_rng, &device).unwrap();
    let init = Net::init(
        config.model.discriminator().unwrap(),
        &mut init_rng,
        &device,
    )
    .unwrap();
    let stored = tensors(resumed.discriminator());
    let (_, moved) = stored.iter().find(|(name, _)| name == u).unwrap();
    let (_, fresh) = tensors(&init)
        .into_iter()
        .find(|(name, _)| name == u)
        .unwrap();
    assert_ne!(*moved, fresh);
}

/// `config` trained 10 steps in one go, and 5 then resumed to 10: the two folders (which must
/// hold the same weights and metrics) and the resumed trainer.
fn ten_steps_straight_and_resumed(
    config: &TrainConfig,
) -> (tempfile::TempDir, tempfile::TempDir, Trainer) {
    let straight = tempfile::tempdir().unwrap();
    let mut ten = config.clone();
    ten.max_steps = Some(10);
    let mut trainer = Trainer::create(ten, straight.path()).unwrap();
    trainer.run(&mut ()).unwrap();

    let split = tempfile::tempdir().unwrap();
    let mut five = config.clone();
    five.max_steps = Some(5);
    Trainer::create(five, split.path())
        .unwrap()
        .run(&mut ())
        .unwrap();
    let mut resumed = Trainer::resume(split.path(), Some(10), None).unwrap();
    assert_eq!(resumed.step(), 5);
    resumed.run(&mut ()).unwrap();

    assert_eq!(tensors(trainer.generator()), tensors(resumed.generator()));
    assert_eq!(
        tensors(trainer.discriminator()),
        tensors(resumed.discriminator())
    );
    let csv = |dir: &Path| std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    assert_eq!(csv(straight.path()), csv(split.path()));
    assert_eq!(csv(split.path()).lines().count(), 11);
    (straight, split, resumed)
}

fn tiny_fastgan() -> ArchConfig {
    ArchConfig::FastGan(FastGan {
        image_size: 32,
        channels: 3,
        nz: 8,
        ngf: 4,
        ndf: 8,
        ..FastGan::default()
    })
}

/// fastgan with its few-shot recipe (EMA, DiffAugment), the decoders' random quarters and an
/// adaptive augmentation probability resumes bit for bit too, and logs p.
#[test]
fn fastgan_with_adaptive_augmentation_resumes_exactly() {
    let data = tempfile::tempdir().unwrap();
    image_folder(data.path(), 12);
    let mut config = TrainConfig::new(tiny_fastgan(), data.path().to_str().unwrap());
    config.batch_size = 4;
    config.augment_p = Some(AugmentChance::Auto);
    config.seed = 5;
    let (_, split, _) = ten_steps_straight_and_resumed(&config);
    let csv = std::fs::read_to_string(split.path().join("metrics.csv")).unwrap();
    assert!(
        csv.starts_with("step,epoch,loss_d,loss_g,d_real,d_fake_before,d_fake_after,augment_p\n")
    );
    assert!(
        csv.lines().skip(1).all(|l| l.split(',').count() == 8),
        "{csv}"
    );
}

/// Adaptive augmentation raises p while D sees the same 8 real images and grows sure of them.
#[test]
fn adaptive_augmentation_rises_when_d_memorises_a_tiny_set() {
    let data = tempfile::tempdir().unwrap();
    image_folder(data.path(), 8);
    let dir = tempfile::tempdir().unwrap();
    let mut config = TrainConfig::new(tiny_fastgan(), data.path().to_str().unwrap());
    config.batch_size = 8;
    config.max_steps = Some(40);
    config.augment_p = Some(AugmentChance::Auto);
    Trainer::create(config, dir.path())
        .unwrap()
        .run(&mut ())
        .unwrap();
    let csv = std::fs::read_to_string(dir.path().join("metrics.csv")).unwrap();
    let p: Vec<f64> = csv
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(p[0], 0.0, "adaptive augmentation starts at 0");
    let last = *p.last().unwrap();
    assert!(
        last > 0.0 && last <= 1.0,
        "p after 40 steps on 8 images: {last}"
    );
}

#[test]
fn augmentation_changes_training_and_needs_images() {
    let data = tempfile::tempdir().unwrap();
    image_folder(data.path(), 12);
    let metrics = |augment: Vec<Augment>| {
        let dir = tempfile::tempdir().unwrap();
        let mut config = TrainConfig::new(tiny_dcgan(16, 3), data.path().to_str().unwrap());
        config.batch_size = 4;
        config.max_steps = Some(3);
        config.augment = augment;
        Trainer::create(config, dir.path())
            .unwrap()
            .run(&mut ())
            .unwrap();
        std::fs::read_to_string(dir.path().join("metrics.csv")).unwrap()
    };
    assert_ne!(metrics(vec![]), metrics(vec![Augment::Cutout]));

    let mut points = TrainConfig::new(ArchConfig::Toy2d, "toy2d");
    points.augment = vec![Augment::Translation];
    let err = points.validate().unwrap_err().to_string();
    assert!(
        err.contains("augment") && err.contains("not to the toy 2-D points"),
        "{err}"
    );
    // A probability without transforms to apply, or outside [0, 1], is refused by name.
    let mut bare = TrainConfig::new(tiny_dcgan(16, 3), "shapes");
    bare.augment_p = Some(AugmentChance::Fixed(0.3));
    let err = bare.validate().unwrap_err().to_string();
    assert!(
        err.contains("augment_p") && err.contains("none are set"),
        "{err}"
    );
    bare.augment = vec![Augment::Color];
    bare.augment_p = Some(AugmentChance::Fixed(1.5));
    let err = bare.validate().unwrap_err().to_string();
    assert!(err.contains("augment_p") && err.contains("[0, 1]"), "{err}");
}

#[test]
fn same_seed_same_metrics() {
    let run = |seed: u64| {
        let dir = tempfile::tempdir().unwrap();
        let mut config = TrainConfig::new(ArchConfig::Toy2d, "toy2d");
        config.max_steps = Some(40);
        config.seed = seed;
        Trainer::create(config, dir.path())
            .unwrap()
            .run(&mut ())
            .unwrap();
        std::fs::read_to_string(dir.path().join("metrics.csv")).unwrap()
    };
    assert_eq!(run(5), run(5));
    assert_ne!(run(5), run(6));
}

#[test]
fn toy2d_learns_the_mean_and_covariance() {
    let dir = tempfile::tempdir().unwrap();
    let config = TrainConfig::new(ArchConfig::Toy2d, "toy2d");
    let mut trainer = Trainer::create(config, dir.path()).unwrap();
    let summary = trainer.run(&mut ()).unwrap();
    assert_eq!(summary.steps_done, 4500);
    let z = SeededRng::new(99, Stream::Training).normal(2 * 4000, 0.0, 1.0);
    let z = Tensor::from_vec(z, (4000, 2), &Device::Cpu).unwrap();
    let fake: Vec<f32> = trainer
        .generator()
        .forward(&z, None, false)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let (mean, cov) = moments(&fake);
    // The real data is X = Z·A + b with Z ~ N(0, I): mean b, covariance AᵀA.
    let (a, b) = (TOY2D_A, TOY2D_B);
    let real_cov: [[f64; 2]; 2] =
        [0, 1].map(|i| [0, 1].map(|j| a[0][i] * a[0][j] + a[1][i] * a[1][j]));
    // Each entry within a fifth of its scale √(Σᵢᵢ Σⱼⱼ) (for the variances: within 20%), and the
    // mean within a fifth of a standard deviation: a collapsed or shifted generator fails.
    for i in 0..2 {
        let sd = real_cov[i][i].sqrt();
        assert!(
            (mean[i] - b[i]).abs() < 0.2 * sd,
            "mean {mean:?}, expected {b:?}"
        );
        for j in 0..2 {
            let scale = (real_cov[i][i] * real_cov[j][j]).sqrt();
            assert!(
                (cov[i][j] - real_cov[i][j]).abs() < 0.2 * scale,
                "covariance {cov:?}, expected {real_cov:?}"
            );
        }
    }
    assert!(dir.path().join("scatter.png").is_file() && dir.path().join("losses.png").is_file());
}

fn moments(points: &[f32]) -> ([f64; 2], [[f64; 2]; 2]) {
    let n = (points.len() / 2) as f64;
    let mut mean = [0.0; 2];
    for p in points.chunks_exact(2) {
        mean[0] += p[0] as f64 / n;
        mean[1] += p[1] as f64 / n;
    }
    let mut cov = [[0.0; 2]; 2];
    for p in points.chunks_exact(2) {
        for i in 0..2 {
            for j in 0..2 {
                cov[i][j] += (p[i] as f64 - mean[i]) * (p[j] as f64 - mean[j]) / (n - 1.0);
            }
        }
    }
    (mean, cov)
}

#[test]
fn a_diverging_run_stops_with_the_step_and_keeps_the_last_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let config = toy_run(dir.path(), 5);
    // Raise the learning rates past what f32 can hold, then continue: the next step overflows.
    let mut raised = gan_train::read_config(dir.path()).unwrap();
    (raised.lr_d, raised.lr_g) = (1e38, 1e38);
    std::fs::write(
        dir.path().join("config.json"),
        serde_json::to_string(&raised).unwrap(),
    )
    .unwrap();
    let err = Trainer::resume(dir.path(), Some(50), None)
        .unwrap()
        .run(&mut ())
        .unwrap_err();
    let TrainError::NonFiniteLoss { step, .. } = err else {
        panic!("expected divergence, got {err}")
    };
    assert_eq!(step, 6);
    let message = err.to_string();
    assert!(
        message.contains("step 6") && message.contains("step_000005"),
        "{message}"
    );
    let (last, ck) = run_layout::latest_checkpoint(dir.path()).unwrap().unwrap();
    assert_eq!(last, 5);
    let g = Net::load(
        config.model.generator().unwrap(),
        &ck.join(run_layout::GENERATOR_FILE),
        &Device::Cpu,
    )
    .unwrap();
    assert!(
        tensors(&g)
            .iter()
            .all(|(_, v)| v.iter().all(|x| x.is_finite()))
    );
}

#[test]
fn damaged_checkpoints_are_named_errors() {
    let dir = tempfile::tempdir().unwrap();
    let config = toy_run(dir.path(), 3);
    let (_, ck) = run_layout::latest_checkpoint(dir.path()).unwrap().unwrap();
    let file = ck.join(run_layout::GENERATOR_FILE);
    let bytes = std::fs::read(&file).unwrap();
    let load = || Net::load(config.model.generator().unwrap(), &file, &Device::Cpu).map(|_| ());

    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    let msg = load().unwrap_err().to_string();
    assert!(
        msg.contains("generator.safetensors") && msg.contains("not a valid safetensors"),
        "{msg}"
    );

    // A discriminator's tensors where the generator's belong: names and shapes are checked.
    std::fs::copy(ck.join(run_layout::DISCRIMINATOR_FILE), &file).unwrap();
    let msg = load().unwrap_err().to_string();
    assert!(
        msg.contains("layers.0.weight has shape [5, 2], expected [2, 2]"),
        "{msg}"
    );

    std::fs::remove_file(&file).unwrap();
    assert!(
        load()
            .unwrap_err()
            .to_string()
            .contains("generator.safetensors")
    );
    // A half-written checkpoint folder is never taken for the latest one.
    std::fs::create_dir_all(dir.path().join("checkpoints/.partial-step_000009")).unwrap();
    std::fs::create_dir_all(dir.path().join("checkpoints/step_000009")).unwrap();
    assert_eq!(
        run_layout::latest_checkpoint(dir.path())
            .unwrap()
            .unwrap()
            .0,
        3
    );
}

#[test]
fn starting_over_an_existing_run_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = toy_run(dir.path(), 1);
    let err = Trainer::create(config, dir.path()).err().unwrap();
    assert!(
        matches!(&err, TrainError::RunExists { path } if path == dir.path()),
        "{err}"
    );
}

/// Bad settings are refused before the folder is touched, and a folder whose run never reached
/// a checkpoint can be started over (with a warning); one with a checkpoint cannot.
#[test]
fn failed_starts_leave_folders_that_can_be_reused() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let mut too_big = TrainConfig::new(ArchConfig::Toy2d, "toy2d");
    too_big.batch_size = 5000;
    let err = Trainer::create(too_big, &run).err().unwrap();
    assert!(
        matches!(
            err,
            TrainError::InvalidConfig {
                field: "batch_size",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        !run.exists(),
        "the folder was created for a run that cannot start"
    );
    for (field, edit) in [
        (
            "lr_d",
            (|c: &mut TrainConfig| c.lr_d = f64::INFINITY) as fn(&mut TrainConfig),
        ),
        ("lr_g", |c| c.lr_g = f64::NAN),
        ("epochs", |c| c.epochs = 0),
        ("ema_decay", |c| c.ema_decay = Some(1.0)),
    ] {
        let mut config = TrainConfig::new(ArchConfig::Toy2d, "toy2d");
        edit(&mut config);
        let err = Trainer::create(config, &run).err().unwrap();
        assert!(
            matches!(&err, TrainError::InvalidConfig { field: f, .. } if *f == field),
            "{field}: {err}"
        );
    }

    // A run killed before its first checkpoint: config.json, no checkpoint, a stale temporary.
    let mut config = TrainConfig::new(ArchConfig::Toy2d, "toy2d");
    config.max_steps = Some(2);
    drop(Trainer::create(config.clone(), &run).unwrap());
    std::fs::write(run.join(".metrics.csv.tmp-1-0"), "half").unwrap();
    let mut events: Vec<String> = Vec::new();
    Trainer::create(config.clone(), &run)
        .unwrap()
        .run(&mut events)
        .unwrap();
    assert!(
        events.iter().any(|e| e.contains("ReusedRunFolder")),
        "{events:?}"
    );
    assert!(!run.join(".metrics.csv.tmp-1-0").exists());
    let err = Trainer::create(config, &run).err().unwrap();
    assert!(matches!(err, TrainError::RunExists { .. }), "{err}");
}

/// The mode-seeking term joins the generator's loss only: from the same seed the first
/// discriminator step is the same, the first generator loss is larger by the (positive) term,
/// and from then on training differs.
#[test]
fn mode_seeking_adds_to_the_generator_loss_only() {
    let data = tempfile::tempdir().unwrap();
    image_folder(data.path(), 12);
    let rows = |weight: f64| {
        let dir = tempfile::tempdir().unwrap();
        let mut config = TrainConfig::new(tiny_dcgan(16, 3), data.path().to_str().unwrap());
        config.batch_size = 4;
        config.max_steps = Some(3);
        config.mode_seeking = weight;
        Trainer::create(config, dir.path())
            .unwrap()
            .run(&mut ())
            .unwrap();
        let csv = std::fs::read_to_string(dir.path().join("metrics.csv")).unwrap();
        csv.lines()
            .skip(1)
            .map(|l| l.split(',').map(|v| v.parse::<f64>().unwrap()).collect())
            .collect::<Vec<Vec<f64>>>()
    };
    let (plain, seeking) = (rows(0.0), rows(1.0));
    assert_eq!(plain[0][2], seeking[0][2], "loss_d of the first step");
    assert!(
        seeking[0][3] > plain[0][3] + 1e-3,
        "{} vs {}",
        seeking[0][3],
        plain[0][3]
    );
    assert_ne!(plain[2], seeking[2]);
    let mut negative = TrainConfig::new(tiny_dcgan(16, 3), "shapes");
    negative.mode_seeking = -1.0;
    assert!(
        negative
            .validate()
            .unwrap_err()
            .to_string()
            .contains("mode_seeking")
    );
}
