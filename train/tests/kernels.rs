//! The fast CPU kernels and the lowered (device) layers against candle's own ops: values and
//! gradients on random shapes, strides, paddings and batch sizes (relative error ≤ 1e-5), and a
//! short training run that gives the same losses every way.

use candle_core::{Device, Tensor, Var};
use gan_models::Conv;
use gan_models::Dcgan;
use gan_train::kernels::{self, Kernels};
use gan_train::rng::{SeededRng, Stream};

const TOLERANCE: f32 = 1e-5;

fn random(rng: &mut SeededRng, shape: &[usize]) -> Tensor {
    let n = shape.iter().product();
    Tensor::from_vec(rng.normal(n, 0.0, 1.0), shape, &Device::Cpu).unwrap()
}

/// max |a − b| / max(1, max |b|).
fn relative_error(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    let a = a.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let b = b.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let scale = b.iter().fold(1f32, |m, v| m.max(v.abs()));
    a.iter()
        .zip(&b)
        .fold(0f32, |m, (x, y)| m.max((x - y).abs()))
        / scale
}

/// Output and the gradients of `Σ y·r` with respect to each input, for one implementation.
fn value_and_grads(
    inputs: &[Tensor],
    f: impl Fn(&[Tensor]) -> Tensor,
    r: &Tensor,
) -> (Tensor, Vec<Tensor>) {
    let vars: Vec<Var> = inputs
        .iter()
        .map(|t| Var::from_tensor(t).unwrap())
        .collect();
    let tensors: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    let y = f(&tensors);
    let grads = (&y * r).unwrap().sum_all().unwrap().backward().unwrap();
    let g = tensors
        .iter()
        .map(|t| grads.get(t).unwrap().clone())
        .collect();
    (y, g)
}

fn compare(
    what: &str,
    inputs: &[Tensor],
    fast: impl Fn(&[Tensor]) -> Tensor,
    reference: impl Fn(&[Tensor]) -> Tensor,
    rng: &mut SeededRng,
) {
    let y_ref = reference(inputs);
    let r = random(rng, y_ref.dims());
    let (y, grads) = value_and_grads(inputs, fast, &r);
    let (y_ref, grads_ref) = value_and_grads(inputs, reference, &r);
    let e = relative_error(&y, &y_ref);
    assert!(e <= TOLERANCE, "{what}: output differs by {e:e}");
    for (i, (g, g_ref)) in grads.iter().zip(&grads_ref).enumerate() {
        let e = relative_error(g, g_ref);
        assert!(
            e <= TOLERANCE,
            "{what}: gradient of input {i} differs by {e:e}"
        );
    }
}

/// `y + b` with `b` per channel of NCHW `y`, in candle's ops.
fn plus_bias(y: Tensor, b: &Tensor) -> Tensor {
    y.broadcast_add(&b.reshape((1, b.dim(0).unwrap(), 1, 1)).unwrap())
        .unwrap()
}

#[test]
fn convolutions_match_candle_with_gradients() {
    let mut rng = SeededRng::new(11, Stream::Init);
    // (batch, in, out, size, kernel, stride, padding)
    let cases = [
        (1, 1, 1, 5, 3, 1, 0),
        (3, 2, 4, 8, 4, 2, 1),
        (2, 3, 5, 7, 3, 2, 1),
        (4, 8, 6, 16, 4, 2, 1),
        (5, 4, 3, 4, 4, 1, 0),
        (2, 6, 2, 9, 2, 3, 2),
        (64, 16, 8, 8, 4, 2, 1),
    ];
    for ((n, cin, cout, size, k, s, p), kernels) in cases
        .into_iter()
        .flat_map(|case| [(case, Kernels::Fast), (case, Kernels::Lowered)])
    {
        let conv = |transposed| Conv {
            in_channels: if transposed { cout } else { cin },
            out_channels: if transposed { cin } else { cout },
            kernel: k,
            stride: s,
            padding: p,
            bias: false,
            transposed,
        };
        let what = format!("{kernels:?} conv2d n{n} {cin}->{cout} {size}px k{k} s{s} p{p}");
        let x = random(&mut rng, &[n, cin, size, size]);
        let w = random(&mut rng, &[cout, cin, k, k]);
        let b = random(&mut rng, &[cout]);
        compare(
            &what,
            &[x.clone(), w.clone()],
            |t| kernels::convolution(kernels, &t[0], &t[1], None, &conv(false)).unwrap(),
            |t| t[0].conv2d(&t[1], p, s, 1, 1).unwrap(),
            &mut rng,
        );
        compare(
            &format!("{what} with bias"),
            &[x, w, b],
            |t| kernels::convolution(kernels, &t[0], &t[1], Some(&t[2]), &conv(false)).unwrap(),
            |t| plus_bias(t[0].conv2d(&t[1], p, s, 1, 1).unwrap(), &t[2]),
            &mut rng,
        );
        if p < k {
            let what =
                format!("{kernels:?} conv_transpose2d n{n} {cin}->{cout} {size}px k{k} s{s} p{p}");
            let x = random(&mut rng, &[n, cin, size, size]);
            let w = random(&mut rng, &[cin, cout, k, k]);
            let b = random(&mut rng, &[cout]);
            compare(
                &what,
                &[x, w, b],
                |t| kernels::convolution(kernels, &t[0], &t[1], Some(&t[2]), &conv(true)).unwrap(),
                |t| plus_bias(t[0].conv_transpose2d(&t[1], p, 0, s, 1).unwrap(), &t[2]),
                &mut rng,
            );
        }
    }
}

#[test]
fn batch_norm_with_activation_matches_candle_with_gradients() {
    let mut rng = SeededRng::new(12, Stream::Init);
    for ((n, c, size, slope), kernels) in [
        (2, 3, 4, 0.0f32),
        (16, 8, 8, 0.2),
        (5, 4, 3, 1.0),
        (64, 2, 1, 0.0),
    ]
    .into_iter()
    .flat_map(|case| [(case, Kernels::Fast), (case, Kernels::Lowered)])
    {
        let x = random(&mut rng, &[n, c, size, size])
            .affine(3.0, 0.5)
            .unwrap();
        let gamma = random(&mut rng, &[c]).affine(0.1, 1.0).unwrap();
        let beta = (random(&mut rng, &[c]) * 0.1).unwrap();
        let eps = 1e-5;
        compare(
            &format!("{kernels:?} batch norm n{n} c{c} {size}px slope {slope}"),
            &[x, gamma, beta],
            |t| {
                kernels::batch_norm_act(kernels, &t[0], &t[1], &t[2], eps, slope)
                    .unwrap()
                    .0
            },
            |t| {
                let per_channel = |v: &Tensor| v.reshape((1, c, 1, 1)).unwrap();
                let mean = t[0]
                    .mean_keepdim(0)
                    .unwrap()
                    .mean_keepdim(2)
                    .unwrap()
                    .mean_keepdim(3)
                    .unwrap();
                let centred = t[0].broadcast_sub(&mean).unwrap();
                let var = centred
                    .sqr()
                    .unwrap()
                    .mean_keepdim(0)
                    .unwrap()
                    .mean_keepdim(2)
                    .unwrap()
                    .mean_keepdim(3)
                    .unwrap();
                let z = centred
                    .broadcast_div(&(var + eps).unwrap().sqrt().unwrap())
                    .unwrap()
                    .broadcast_mul(&per_channel(&t[1]))
                    .unwrap()
                    .broadcast_add(&per_channel(&t[2]))
                    .unwrap();
                z.maximum(&(&z * slope as f64).unwrap()).unwrap()
            },
            &mut rng,
        );
    }
    let x = random(&mut rng, &[3, 7]);
    compare(
        "leaky relu",
        &[x],
        |t| kernels::activate(&t[0], 0.2).unwrap(),
        |t| t[0].maximum(&(&t[0] * 0.2).unwrap()).unwrap(),
        &mut rng,
    );
}

#[test]
fn training_gives_the_same_losses_with_every_kernel_set() {
    use gan_models::ArchConfig;
    use gan_train::{TrainConfig, Trainer};

    let arch = ArchConfig::Dcgan(Dcgan {
        image_size: 16,
        channels: 3,
        nz: 8,
        ngf: 8,
        ndf: 8,
        ..Dcgan::default()
    });
    let run = |kernels: Kernels| {
        let dir = tempfile::tempdir().unwrap();
        let mut config = TrainConfig::new(arch.clone(), "shapes");
        config.batch_size = 16;
        let mut trainer = Trainer::create(config, &dir.path().join("run")).unwrap();
        trainer.set_kernels(kernels);
        (0..5)
            .map(|_| trainer.train_step().unwrap())
            .collect::<Vec<_>>()
    };
    let candle = run(Kernels::Candle);
    let mut worst = 0f32;
    for kernels in [Kernels::Fast, Kernels::Lowered] {
        for (f, c) in run(kernels).iter().zip(&candle) {
            for (name, a, b) in [
                ("loss_d", f.loss_d, c.loss_d),
                ("loss_g", f.loss_g, c.loss_g),
                ("D(x)", f.d_real, c.d_real),
            ] {
                worst = worst.max((a - b).abs() / b.abs().max(1.0));
                assert!(
                    (a - b).abs() <= 1e-4 * b.abs().max(1.0),
                    "step {}: {name} {a} with {kernels:?} kernels, {b} with candle's",
                    f.step
                );
            }
        }
    }
    eprintln!("largest relative loss difference over 5 steps: {worst:e}");
}
