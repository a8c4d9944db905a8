//! Reconciliation: v1's total for a deployment against the sum of v2's line items for it, the
//! check finance does by hand before trusting a number.

/// How far apart two totals may be and still agree: within `absolute` ECU, or within
/// `relative` of the larger one (both inclusive).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    pub absolute: f64,
    pub relative: f64,
}

impl Default for Tolerance {
    /// A hundredth of an ECU or 0.1 %: v2 rounds each line to 4 decimals, so many lines may
    /// drift by a few thousandths; anything larger is a real disagreement.
    fn default() -> Self {
        Tolerance { absolute: 0.01, relative: 0.001 }
    }
}

/// The two totals and how they differ.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reconciliation {
    pub v1_total: f64,
    pub v2_total: f64,
    /// `v2_total - v1_total`.
    pub difference: f64,
    /// Whether the difference is past the tolerance.
    pub mismatch: bool,
}

/// Reconciles one figure; `v2_lines` are the v2 line items' totals.
pub fn reconcile(v1_total: f64, v2_lines: impl IntoIterator<Item = f64>, tolerance: Tolerance) -> Reconciliation {
    let v2_total: f64 = v2_lines.into_iter().sum();
    let difference = v2_total - v1_total;
    let scale = v1_total.abs().max(v2_total.abs());
    let within = difference.abs() <= tolerance.absolute || difference.abs() <= tolerance.relative * scale;
    Reconciliation { v1_total, v2_total, difference, mismatch: !within }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_drift_agrees_and_a_missing_line_does_not() {
        let t = Tolerance::default();
        assert!(!reconcile(10.0, [3.3333, 3.3333, 3.3334], t).mismatch);
        assert!(!reconcile(1000.0, [1000.5], t).mismatch, "0.05 % of 1000 is within 0.1 %");
        let r = reconcile(10.0, [3.3333, 3.3333], t);
        assert!(r.mismatch);
        assert!((r.difference + 3.3334).abs() < 1e-9);
    }
}
