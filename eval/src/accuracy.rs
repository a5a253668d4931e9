//! Class accuracy, the standard check of a conditional generator: the share of its samples
//! that a classifier assigns to the class they were generated for, per class and overall.

use crate::{EvalError, Result};

/// Accuracy per generator class and overall.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassAccuracy {
    /// Per generator class: samples classified as intended, and samples.
    pub per_class: Vec<(usize, usize)>,
    /// Correct samples over all samples.
    pub overall: f64,
}

impl ClassAccuracy {
    /// The accuracy of class `c`.
    pub fn of(&self, c: usize) -> f64 {
        let (correct, total) = self.per_class[c];
        correct as f64 / total.max(1) as f64
    }
}

/// Which classifier class each generator class is: by name where the classifier names its
/// classes and has every generator class among them, else by number when the counts agree.
pub fn match_classes(
    generator: &[String],
    classifier: Option<&[String]>,
    classifier_width: usize,
) -> Result<Vec<usize>> {
    if let Some(names) = classifier {
        let by_name: Option<Vec<usize>> = generator
            .iter()
            .map(|g| names.iter().position(|n| n == g))
            .collect();
        if let Some(found) = by_name {
            return Ok(found);
        }
    }
    if generator.len() == classifier_width {
        return Ok((0..generator.len()).collect());
    }
    Err(EvalError::Invalid(format!(
        "the generator's {} classes ({}) are not the classifier's: it scores {classifier_width} classes{}",
        generator.len(),
        generator.join(", "),
        classifier.map_or(String::new(), |n| format!(" ({})", n.join(", ")))
    )))
}

/// The accuracy of `logits` (`n × width`, row-major) against `intended` (per sample, its
/// generator class), with `target[c]` the classifier class of generator class `c`.
pub fn class_accuracy(
    logits: &[f32],
    width: usize,
    intended: &[usize],
    target: &[usize],
) -> Result<ClassAccuracy> {
    if width == 0 || logits.len() != intended.len() * width || intended.is_empty() {
        return Err(EvalError::Invalid(format!(
            "{} class scores for {} samples of {width} classes",
            logits.len(),
            intended.len()
        )));
    }
    let mut per_class = vec![(0, 0); target.len()];
    for (row, &class) in logits.chunks_exact(width).zip(intended) {
        let predicted = row
            .iter()
            .enumerate()
            .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
                if v > best.1 { (i, v) } else { best }
            })
            .0;
        let Some(counts) = per_class.get_mut(class) else {
            return Err(EvalError::Invalid(format!(
                "class {class} is out of range ({} classes)",
                target.len()
            )));
        };
        counts.1 += 1;
        if predicted == target[class] {
            counts.0 += 1;
        }
    }
    let correct: usize = per_class.iter().map(|c| c.0).sum();
    Ok(ClassAccuracy {
        overall: correct as f64 / intended.len() as f64,
        per_class,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn accuracy_counts_argmax_hits_per_class() {
        // Three samples of class 0 (two classified 0), one of class 1 (classified 1).
        let logits = [2.0, 1.0, 0.5, 3.0, 5.0, -1.0, 0.0, 9.0];
        let acc = class_accuracy(&logits, 2, &[0, 0, 0, 1], &[0, 1]).unwrap();
        assert_eq!(acc.per_class, vec![(2, 3), (1, 1)]);
        assert!((acc.overall - 0.75).abs() < 1e-12);
        assert!((acc.of(0) - 2.0 / 3.0).abs() < 1e-12);
        // Mapped classes: generator class 0 is the classifier's class 1.
        let swapped = class_accuracy(&logits, 2, &[0, 0, 0, 1], &[1, 0]).unwrap();
        assert_eq!(swapped.per_class, vec![(1, 3), (0, 1)]);
        assert!(class_accuracy(&logits, 3, &[0, 0], &[0, 1]).is_err());
        assert!(class_accuracy(&logits, 2, &[0, 0, 0, 2], &[0, 1]).is_err());
    }

    #[test]
    fn classes_match_by_name_then_by_number() {
        let digits = names(&["0", "1", "2"]);
        let classifier = names(&["2", "1", "0", "x"]);
        assert_eq!(
            match_classes(&digits, Some(&classifier), 4).unwrap(),
            vec![2, 1, 0]
        );
        assert_eq!(
            match_classes(&names(&["a", "b"]), None, 2).unwrap(),
            vec![0, 1]
        );
        let err = match_classes(&names(&["a", "b"]), Some(&classifier), 4)
            .unwrap_err()
            .to_string();
        assert!(err.contains("a, b") && err.contains("4 classes"), "{err}");
    }
}
