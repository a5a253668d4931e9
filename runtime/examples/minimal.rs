//! The smallest program that embeds the runtime (tract backend only): generate one sprite for a
//! seed and print a checksum. Its stripped size is the runtime's footprint in a game.
//!
//! cargo build --release -p gan-runtime --example minimal
//! ./target/release/examples/minimal generator.onnx 42

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let model = args.next().ok_or("usage: minimal MODEL.onnx [SEED]")?;
    let seed = args.next().map(|s| s.parse()).transpose()?.unwrap_or(0);
    let generator = gan_runtime::Generator::load(&model, &gan_runtime::LoadOptions::default())?;
    let image = generator.generate(&[seed])?.remove(0);
    let checksum = image
        .pixels
        .iter()
        .fold(0u64, |h, &b| h.wrapping_mul(31).wrapping_add(b as u64));
    println!(
        "{}×{} RGBA, checksum {checksum:016x}",
        image.width, image.height
    );
    Ok(())
}
