//! `gan serve`'s options as a user gives them.

mod common;

use common::{assert_refused, gan};

/// Every duration and count out of range is refused by flag, before a model is read or a port
/// is bound (`--timeout 1e20` used to panic turning into a `Duration`).
#[test]
fn out_of_range_options_are_refused_by_name() {
    let cases: [(&[&str], &str); 7] = [
        (
            &["--timeout", "1e20"],
            "--timeout: 100000000000000000000 is not",
        ),
        (&["--timeout", "0"], "--timeout: 0 is not"),
        (&["--timeout", "NaN"], "--timeout: NaN is not"),
        (&["--workers", "0"], "--workers: 0 is not from 1"),
        (&["--threads", "100000"], "--threads: 100000 is not from 1"),
        (&["--queue", "1000000"], "--queue: 1000000 is not from 0"),
        (&["--max-images", "0"], "--max-images: 0 is not from 1"),
    ];
    for (extra, needle) in cases {
        let mut args = vec!["serve", "--model", "no-such-model.onnx", "--port", "0"];
        args.extend_from_slice(extra);
        assert_refused(&gan(&args), needle);
    }
}
