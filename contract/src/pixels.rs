//! The pixel rule: how a model's output value becomes an 8-bit pixel, everywhere — training's
//! sample grids, the runtime's images and the exported `pixels` output (whose ONNX `Round` rounds
//! half to even, which is why this rule does too).

/// How generator output values map to pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputRange {
    /// [-1, 1] (Tanh), our exporter's convention.
    MinusOneToOne,
    /// [0, 1] (Sigmoid).
    ZeroToOne,
    /// [0, 255].
    ZeroTo255,
}

impl OutputRange {
    /// Read a range as metadata or a command line writes it (`-1,1`, `minus1_1`, ...).
    pub fn parse(s: &str) -> Option<Self> {
        match s.replace(' ', "").as_str() {
            "-1,1" | "minus1_1" => Some(OutputRange::MinusOneToOne),
            "0,1" | "zero_1" => Some(OutputRange::ZeroToOne),
            "0,255" | "zero_255" => Some(OutputRange::ZeroTo255),
            _ => None,
        }
    }

    /// The form written to the `gan.range` metadata.
    pub fn as_str(self) -> &'static str {
        match self {
            OutputRange::MinusOneToOne => "-1,1",
            OutputRange::ZeroToOne => "0,1",
            OutputRange::ZeroTo255 => "0,255",
        }
    }

    /// Multiply-add that takes a value of this range to [0, 255]: `byte = (x + shift) · scale`.
    pub fn shift_and_scale(self) -> (f32, f32) {
        match self {
            OutputRange::MinusOneToOne => (1.0, 127.5),
            OutputRange::ZeroToOne => (0.0, 255.0),
            OutputRange::ZeroTo255 => (0.0, 1.0),
        }
    }

    /// One output value to its byte: scaled, rounded half to even, clamped (NaN gives 0).
    pub fn to_byte(self, x: f32) -> u8 {
        let (shift, scale) = self.shift_and_scale();
        // `as u8` saturates and maps NaN to 0.
        ((x + shift) * scale).round_ties_even().clamp(0.0, 255.0) as u8
    }
}

/// One CHW sample (`channels × height × width` values) to row-major RGBA8: gray is repeated to
/// RGB, a fourth channel is alpha, otherwise alpha is 255.
pub fn chw_to_rgba(sample: &[f32], channels: usize, range: OutputRange) -> Vec<u8> {
    let c = channels.max(1);
    let hw = sample.len() / c;
    let mut rgba = Vec::with_capacity(hw * 4);
    for p in 0..hw {
        for k in 0..3 {
            rgba.push(range.to_byte(sample[k.min(c - 1) * hw + p]));
        }
        rgba.push(if c == 4 {
            range.to_byte(sample[3 * hw + p])
        } else {
            255
        });
    }
    rgba
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_round_to_even_like_onnx_round() {
        let r = OutputRange::MinusOneToOne;
        // (x + 1) · 127.5 = 127.5 → 128 (even), 0.5 → 0, 1.5 → 2, 2.5 → 2.
        assert_eq!(r.to_byte(0.0), 128);
        assert_eq!(r.to_byte(0.5 / 127.5 - 1.0), 0);
        assert_eq!(OutputRange::ZeroTo255.to_byte(2.5), 2);
        assert_eq!(OutputRange::ZeroTo255.to_byte(3.5), 4);
        assert_eq!(OutputRange::ZeroTo255.to_byte(-0.5), 0);
    }

    #[test]
    fn out_of_range_and_nan_are_clamped() {
        let r = OutputRange::MinusOneToOne;
        assert_eq!(r.to_byte(-7.0), 0);
        assert_eq!(r.to_byte(7.0), 255);
        assert_eq!(r.to_byte(f32::NAN), 0);
        assert_eq!(OutputRange::ZeroToOne.to_byte(1.0), 255);
    }

    #[test]
    fn ranges_round_trip_through_their_metadata_form() {
        for r in [
            OutputRange::MinusOneToOne,
            OutputRange::ZeroToOne,
            OutputRange::ZeroTo255,
        ] {
            assert_eq!(OutputRange::parse(r.as_str()), Some(r));
        }
        assert_eq!(OutputRange::parse("0..1"), None);
    }

    #[test]
    fn gray_is_repeated_and_alpha_is_opaque() {
        // 1 channel, 2 pixels: -1 and 1.
        assert_eq!(
            chw_to_rgba(&[-1.0, 1.0], 1, OutputRange::MinusOneToOne),
            [0, 0, 0, 255, 255, 255, 255, 255]
        );
        // 4 channels, 1 pixel: the fourth is alpha.
        assert_eq!(
            chw_to_rgba(&[1.0, 0.0, 0.0, 0.5], 4, OutputRange::ZeroToOne),
            [255, 0, 0, 128]
        );
    }
}
