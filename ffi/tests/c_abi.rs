//! The C example (`examples/c/generate.c`), compiled with the system C compiler against this
//! crate's cdylib and generated header, writes a PAM image whose pixels are exactly the Rust
//! API's.

use std::path::Path;

use runtime::fixtures::tiny_generator;
use runtime::{Generator, LoadOptions};

/// Compile the C program `examples/c/NAME.c` against this crate's shared library, which cargo
/// built for this test run beside the test binary (an integration test links its package's
/// library, and cargo builds every crate type the library declares); returns the executable and
/// the folder holding the library.
fn compile_c_example(name: &str, out_dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let exe_path = std::env::current_exe().expect("the test binary has a path");
    let target = exe_path
        .parent()
        .expect("the test binary lies in target/<profile>/deps")
        .to_path_buf();
    let library = target.join("libgan_runtime.so");
    assert!(
        library.is_file(),
        "cargo did not build {}",
        library.display()
    );
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
        // Fair scheduling: under valgrind one thread runs at a time, and without it the eight
        // generating threads can keep the freeing thread waiting for minutes.
        .args([
            "--error-exitcode=99",
            "--leak-check=no",
            "--quiet",
            "--fair-sched=yes",
        ])
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
