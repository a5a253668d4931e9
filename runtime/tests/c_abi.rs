//! The C example (`examples/c/generate.c`), compiled with the system C compiler against this
//! crate's cdylib and generated header, writes a PAM image whose pixels are exactly the Rust
//! API's.

use std::path::Path;

use gan_runtime::{Generator, LoadOptions};
use prost::Message;
use tract_onnx::pb::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto,
    TensorProto, TensorShapeProto, TypeProto, ValueInfoProto, tensor_shape_proto, type_proto,
};

/// Class names of the conditional tiny generator.
const TINY_CLASSES: &str = r#"["cat","dog","fox"]"#;

/// A tiny generator in our exporter's conventions: `z [batch, 4]` → Gemm → Tanh → Reshape →
/// `image [batch, 3, 4, 5]`, with `gan.*` metadata. Conditional: a `label` int64 `[batch]`
/// input whose embedding (Gather, 3 classes × 4) is added to `z` first, and
/// `gan.conditional`/`gan.classes` metadata.
fn tiny_generator(conditional: bool) -> Vec<u8> {
    let (nz, c, h, w) = (4, 3, 4, 5);
    let out = c * h * w;
    let embedding: Vec<f32> = (0..3 * nz).map(|i| (i as f32 - 5.0) * 0.7).collect();
    let weight: Vec<f32> = (0..out * nz)
        .map(|i| ((i * 37 % 17) as f32 - 8.0) / 6.0)
        .collect();
    let bias: Vec<f32> = (0..out).map(|i| (i % 5) as f32 * 0.1 - 0.2).collect();
    let tensor = |name: &str, dims: Vec<i64>, data_type: i32, raw_data: Vec<u8>| TensorProto {
        name: name.into(),
        dims,
        data_type,
        raw_data,
        ..Default::default()
    };
    let f32s = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect();
    let i64s = |v: &[i64]| v.iter().flat_map(|x| x.to_le_bytes()).collect();
    let node =
        |op: &str, inputs: &[&str], output: &str, attribute: Vec<AttributeProto>| NodeProto {
            op_type: op.into(),
            name: output.into(),
            input: inputs
                .iter()
                .map(std::string::ToString::to_string)
                .collect(),
            output: vec![output.into()],
            attribute,
            ..Default::default()
        };
    let value = |name: &str, elem_type: i32, dims: &[i64]| {
        let mut shape: Vec<tensor_shape_proto::Dimension> = vec![tensor_shape_proto::Dimension {
            value: Some(tensor_shape_proto::dimension::Value::DimParam(
                "batch".into(),
            )),
            ..Default::default()
        }];
        shape.extend(dims.iter().map(|&d| tensor_shape_proto::Dimension {
            value: Some(tensor_shape_proto::dimension::Value::DimValue(d)),
            ..Default::default()
        }));
        ValueInfoProto {
            name: name.into(),
            r#type: Some(TypeProto {
                value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                    elem_type,
                    shape: Some(TensorShapeProto { dim: shape }),
                })),
                ..Default::default()
            }),
            ..Default::default()
        }
    };
    let trans_b = AttributeProto {
        name: "transB".into(),
        r#type: 2,
        i: 1,
        ..Default::default()
    };
    let axis = AttributeProto {
        name: "axis".into(),
        r#type: 2,
        i: 0,
        ..Default::default()
    };
    let mut nodes = vec![
        node("Gemm", &["z", "w", "b"], "dense", vec![trans_b]),
        node("Tanh", &["dense"], "squashed", vec![]),
        node("Reshape", &["squashed", "shape"], "image", vec![]),
    ];
    let mut inputs = vec![value("z", 1, &[nz as i64])];
    if conditional {
        nodes[0].input[0] = "z_and_class".into();
        nodes.splice(
            0..0,
            [
                node("Gather", &["embedding", "label"], "class_row", vec![axis]),
                node("Add", &["z", "class_row"], "z_and_class", vec![]),
            ],
        );
        inputs.push(value("label", 7, &[]));
    }
    let graph = GraphProto {
        name: "tiny".into(),
        node: nodes,
        initializer: vec![
            tensor("embedding", vec![3, nz as i64], 1, f32s(&embedding)),
            tensor("w", vec![out as i64, nz as i64], 1, f32s(&weight)),
            tensor("b", vec![out as i64], 1, f32s(&bias)),
            tensor(
                "shape",
                vec![4],
                7,
                i64s(&[0, c as i64, h as i64, w as i64]),
            ),
        ],
        input: inputs,
        output: vec![value("image", 1, &[c as i64, h as i64, w as i64])],
        ..Default::default()
    };
    let mut meta = vec![
        ("gan.role", "generator"),
        ("gan.nz", "4"),
        ("gan.channels", "3"),
        ("gan.height", "4"),
        ("gan.width", "5"),
        ("gan.range", "-1,1"),
    ];
    if conditional {
        meta.extend([("gan.conditional", "true"), ("gan.classes", TINY_CLASSES)]);
    }
    ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 17,
        }],
        graph: Some(graph),
        metadata_props: meta
            .iter()
            .map(|(k, v)| StringStringEntryProto {
                key: k.to_string(),
                value: v.to_string(),
            })
            .collect(),
        ..Default::default()
    }
    .encode_to_vec()
}

/// Build this crate's cdylib (once per test binary run; cargo makes it cheap after the first)
/// and compile the C program `examples/c/NAME.c` against it; returns the executable and the
/// folder holding the library.
fn compile_c_example(name: &str, out_dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    // cargo emits the cdylib only for a build of this library itself, so build one, in a target
    // folder of its own: the library's rlib there is built with other features than the
    // workspace's, and sharing a folder would replace the one the other tests link.
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let profile_dir = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let target_dir = profile_dir.parent().unwrap().join("c-abi");
    let mut build = std::process::Command::new(env!("CARGO"));
    build
        .args(["build", "--lib", "--manifest-path"])
        .arg(crate_dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    if !cfg!(debug_assertions) {
        build.arg("--release");
    }
    let built = build.output().expect("cargo runs");
    assert!(
        built.status.success(),
        "building the cdylib failed: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let target = target_dir.join(if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    });
    let exe = out_dir.join(name);
    let cc = std::process::Command::new("cc")
        .arg(crate_dir.join(format!("examples/c/{name}.c")))
        .arg("-I")
        .arg(crate_dir.join("include"))
        .arg("-L")
        .arg(&target)
        .args(["-lgan_runtime", "-lpthread", "-o"])
        .arg(&exe)
        .output()
        .expect("a C compiler (cc) is installed (bash .ci/run installs one)");
    assert!(
        cc.status.success(),
        "{}",
        String::from_utf8_lossy(&cc.stderr)
    );
    (exe, target)
}

/// Run a compiled C example with `args`, finding the library in `target`.
fn run_c(exe: &Path, target: &Path, args: &[&Path]) -> std::process::Output {
    std::process::Command::new(exe)
        .args(args)
        .env("LD_LIBRARY_PATH", target)
        .output()
        .expect("the C example runs")
}

/// A folder with the tiny generator and the C example `name` compiled against the library:
/// (folder, model, executable, library folder).
fn c_example_with_model(
    name: &str,
    conditional: bool,
) -> (
    tempfile::TempDir,
    std::path::PathBuf,
    std::path::PathBuf,
    std::path::PathBuf,
) {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("tiny.onnx");
    std::fs::write(&model, tiny_generator(conditional)).unwrap();
    let (exe, target) = compile_c_example(name, dir.path());
    (dir, model, exe, target)
}

#[test]
fn c_example_generates_the_same_pixels() {
    let (dir, model, exe, target) = c_example_with_model("generate", false);
    let pam = dir.path().join("out.pam");
    let run = run_c(&exe, &target, &[&model, &pam]);
    assert!(
        run.status.success(),
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(String::from_utf8_lossy(&run.stdout).contains("nz 4, 5x4, 3 channels"));

    let bytes = std::fs::read(&pam).unwrap();
    let header_end = bytes.windows(7).position(|w| w == b"ENDHDR\n").unwrap() + 7;
    assert!(String::from_utf8_lossy(&bytes[..header_end]).contains("WIDTH 20\nHEIGHT 4\nDEPTH 4"));
    let images = Generator::load(&model, &LoadOptions::default())
        .unwrap()
        .generate(&[0, 1, 2, 42])
        .unwrap();
    let body = &bytes[header_end..];
    let row = 5 * 4;
    for y in 0..4 {
        for (i, img) in images.iter().enumerate() {
            let start = (y * 4 + i) * row;
            assert_eq!(
                &body[start..start + row],
                &img.pixels[y * row..(y + 1) * row],
                "row {y} of image {i}"
            );
        }
    }
    assert!(
        images[0] != images[1],
        "different seeds, different pictures"
    );
}

/// The C example with a class, on a conditional generator: it lists the classes, its pixels
/// are the Rust API's for that class (and differ from another class's for the same seeds); a
/// class out of range, or a class given to an unconditional generator, is a clear error.
#[test]
fn c_example_generates_a_chosen_class() {
    let (dir, model, exe, target) = c_example_with_model("generate", true);
    let pam = dir.path().join("dog.pam");
    let run = run_c(&exe, &target, &[&model, &pam, Path::new("1")]);
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        run.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("3 classes: cat dog fox"), "{stdout}");
    let bytes = std::fs::read(&pam).unwrap();
    let header_end = bytes.windows(7).position(|w| w == b"ENDHDR\n").unwrap() + 7;
    let generator = Generator::load(&model, &LoadOptions::default()).unwrap();
    let dogs = generator.generate_class(&[0, 1, 2, 42], 1).unwrap();
    let row = 5 * 4;
    assert_eq!(&bytes[header_end..header_end + row], &dogs[0].pixels[..row]);
    let cats = generator.generate_class(&[0, 1, 2, 42], 0).unwrap();
    assert_ne!(cats[0], dogs[0], "another class, another picture");

    let out_of_range = run_c(&exe, &target, &[&model, &pam, Path::new("3")]);
    let stderr = String::from_utf8_lossy(&out_of_range.stderr);
    assert!(!out_of_range.status.success());
    assert!(stderr.contains("class 3 is out of range"), "{stderr}");

    let (_plain_dir, plain, ..) = c_example_with_model("generate", false);
    let unconditional = run_c(&exe, &target, &[&plain, &pam, Path::new("0")]);
    let stderr = String::from_utf8_lossy(&unconditional.stderr);
    assert!(!unconditional.status.success());
    assert!(stderr.contains("not a conditional generator"), "{stderr}");
}

/// The use-after-free scenario of the C ABI, from C: eight threads generate while the main
/// thread frees the handle. Under valgrind, any read of freed memory fails the run.
#[test]
fn freeing_while_threads_generate_is_clean_under_valgrind() {
    let (_dir, model, exe, target) = c_example_with_model("free_while_generating", false);
    let native = run_c(&exe, &target, &[&model]);
    let text = |o: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    assert!(native.status.success(), "{}", text(&native));
    let checked = std::process::Command::new("valgrind")
        .args(["--error-exitcode=99", "--leak-check=no", "--quiet"])
        .arg(&exe)
        .arg(&model)
        .env("LD_LIBRARY_PATH", &target)
        .output()
        .expect("valgrind is installed (bash .ci/run installs it)");
    let report = text(&checked);
    assert!(
        checked.status.success() && !report.contains("Invalid read"),
        "{report}"
    );
    assert!(report.contains("bad 8"), "{report}");
}
