//! Training behaviour on data the tests make themselves.

use std::path::Path;

use candle_core::{Device, Tensor};
use gan_models::{ArchConfig, run_layout};
use gan_train::net::{Net, batch_tensor};
use gan_train::rng::{SeededRng, Stream};
use gan_train::{TrainConfig, TrainError, Trainer};
use image::{Rgb, RgbImage};

fn tiny_dcgan(image_size: usize, channels: usize) -> ArchConfig {
    ArchConfig::Dcgan {
        image_size,
        channels,
        nz: 8,
        ngf: 4,
        ndf: 4,
    }
}

/// `n` small RGB pictures with different colours and a bar, so batches differ.
fn image_folder(dir: &Path, n: usize) {
    for i in 0..n {
        let mut img = RgbImage::from_pixel(
            20,
            20,
            Rgb([(i * 37 % 256) as u8, (i * 91 % 256) as u8, 200]),
        );
        for y in 0..20 {
            img.put_pixel((i % 20) as u32, y, Rgb([0, 0, 0]));
        }
        img.save(dir.join(format!("img_{i:02}.png"))).unwrap();
    }
}

/// A finished toy2d run of `steps` steps in `dir`; its configuration.
fn toy_run(dir: &Path, steps: u64) -> TrainConfig {
    let mut config = TrainConfig::new(ArchConfig::Toy2d, "toy2d");
    config.max_steps = Some(steps);
    Trainer::create(config.clone(), dir)
        .unwrap()
        .run(false)
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
        ArchConfig::Mlp { nz: 100 },
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
            let x = g.forward(&z, train).unwrap();
            let mut expected = vec![3];
            expected.extend(arch.sample_shape());
            assert_eq!(x.dims(), expected.as_slice(), "{arch:?} generator");
            assert_eq!(
                d.forward(&x, train).unwrap().dims(),
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

#[test]
fn batchnorm_training_updates_running_statistics_like_pytorch() {
    let arch = tiny_dcgan(16, 1);
    let device = Device::Cpu;
    let mut rng = SeededRng::new(3, Stream::Init);
    let d = Net::init(arch.discriminator().unwrap(), &mut rng, &device).unwrap();
    let x = batch_tensor(rng.normal(4 * 256, 0.5, 2.0), 4, &[1, 16, 16], &device).unwrap();
    let eval = || {
        d.forward(&x, false)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
    };
    let before = eval();
    d.forward(&x, true).unwrap();
    let after = eval();
    assert_ne!(
        before, after,
        "a training pass moves the running statistics used in eval mode"
    );
    let mean = d
        .params()
        .find(|p| p.name == "layers.3.running_mean")
        .unwrap();
    let var = d
        .params()
        .find(|p| p.name == "layers.3.running_var")
        .unwrap();
    let m: Vec<f32> = mean.var.as_tensor().to_vec1().unwrap();
    let v: Vec<f32> = var.var.as_tensor().to_vec1().unwrap();
    // momentum 0.1 from (0, 1): a tenth of the batch statistics.
    assert!(m.iter().any(|&m| m.abs() > 1e-6));
    assert!(v.iter().all(|&v| v > 0.9 && v < 1.5), "{v:?}");
}

#[test]
fn resume_continues_exactly() {
    let data = tempfile::tempdir().unwrap();
    image_folder(data.path(), 12);
    let mut config = TrainConfig::new(tiny_dcgan(16, 3), data.path().to_str().unwrap());
    config.batch_size = 4;
    config.flip = true;
    config.instance_noise = 0.1;
    config.instance_noise_steps = 20;
    config.label_smoothing = 0.1;
    config.seed = 11;

    let straight = tempfile::tempdir().unwrap();
    let mut ten = config.clone();
    ten.max_steps = Some(10);
    let mut trainer = Trainer::create(ten, straight.path()).unwrap();
    trainer.run(false).unwrap();

    let split = tempfile::tempdir().unwrap();
    let mut five = config.clone();
    five.max_steps = Some(5);
    Trainer::create(five, split.path())
        .unwrap()
        .run(false)
        .unwrap();
    let mut resumed = Trainer::resume(split.path(), Some(10), None).unwrap();
    assert_eq!(resumed.step(), 5);
    resumed.run(false).unwrap();

    assert_eq!(tensors(trainer.generator()), tensors(resumed.generator()));
    assert_eq!(
        tensors(trainer.discriminator()),
        tensors(resumed.discriminator())
    );
    let csv = |dir: &Path| std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    assert_eq!(csv(straight.path()), csv(split.path()));
    assert_eq!(csv(split.path()).lines().count(), 11);
    // And a checkpoint on disk restores the same weights the trainer holds.
    let (step, dir) = run_layout::latest_checkpoint(split.path())
        .unwrap()
        .unwrap();
    assert_eq!(step, 10);
    let g = Net::load(
        config.model.generator().unwrap(),
        &dir.join(run_layout::GENERATOR_FILE),
        &Device::Cpu,
    )
    .unwrap();
    assert_eq!(tensors(&g), tensors(resumed.generator()));
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
            .run(false)
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
    let summary = trainer.run(false).unwrap();
    assert_eq!(summary.steps_done, 4500);
    let z = SeededRng::new(99, Stream::Training).normal(2 * 4000, 0.0, 1.0);
    let z = Tensor::from_vec(z, (4000, 2), &Device::Cpu).unwrap();
    let fake: Vec<f32> = trainer
        .generator()
        .forward(&z, false)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let (mean, cov) = moments(&fake);
    // Real data: mean b = [1, 2], covariance AᵀA = [[1.01, 1.95], [1.95, 4.25]].
    let (real_mean, real_cov) = ([1.0, 2.0], [[1.01, 1.95], [1.95, 4.25]]);
    for i in 0..2 {
        assert!((mean[i] - real_mean[i]).abs() < 0.3, "mean {mean:?}");
        for j in 0..2 {
            assert!(
                (cov[i][j] - real_cov[i][j]).abs() < 0.25 * real_cov[1][1],
                "cov {cov:?}"
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
        .run(false)
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
    let err = Trainer::create(config, dir.path())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("--resume"), "{err}");
}
