//! Feature drift: how far the household-months being graded have moved from the ones a model
//! was trained on, as the population stability index (PSI) of its main features.
//!
//! Training stores, per feature, the decile cut points of the training rows and the share of
//! rows in each bin; serving counts the rows graded per bin. `PSI = Σ (a − e)·ln(a / e)` over
//! the bins, with `a` the served shares and `e` the trained ones: below 0.1 the population is
//! the one trained on, above 0.25 it has moved enough that the model's figures no longer hold.

use serde::{Deserialize, Serialize};

/// The features watched: the income measure and what moves it most.
pub const WATCHED: [&str; 6] = [
    "pc_income_ratio",
    "pc_change_3m",
    "feed_share",
    "medical_oop_3m_share",
    "wage_loss_3m_share",
    "workers_unreported_share",
];

/// Shares are floored at this in the index, so that an empty bin counts as very rare, not as
/// infinitely far.
const FLOOR: f64 = 1e-4;

/// One feature's distribution in the training rows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DriftReference {
    pub feature: String,
    /// Position of the feature in the model's feature list.
    pub index: usize,
    /// Inner cut points, ascending: bin `i` holds values in `(edges[i−1], edges[i]]`.
    pub edges: Vec<f64>,
    /// Share of the training rows in each bin (`edges.len() + 1` bins).
    pub expected: Vec<f64>,
}

impl DriftReference {
    /// The reference of feature `index` from its training `values`; `None` without values.
    pub fn fit(feature: &str, index: usize, values: &[f64]) -> Option<DriftReference> {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        if sorted.is_empty() {
            return None;
        }
        sorted.sort_by(f64::total_cmp);
        let mut edges: Vec<f64> = (1..10).map(|d| sorted[(sorted.len() * d / 10).min(sorted.len() - 1)]).collect();
        edges.dedup();
        let mut r = DriftReference { feature: feature.to_owned(), index, edges, expected: Vec::new() };
        let mut counts = vec![0u64; r.edges.len() + 1];
        for v in &sorted {
            counts[r.bin(*v)] += 1;
        }
        r.expected = counts.iter().map(|c| *c as f64 / sorted.len() as f64).collect();
        Some(r)
    }

    /// The bin of a value.
    pub fn bin(&self, v: f64) -> usize {
        self.edges.partition_point(|e| *e < v)
    }

    /// Whether the reference fits a model of `features` features.
    pub fn is_valid(&self, features: usize) -> bool {
        self.index < features
            && self.expected.len() == self.edges.len() + 1
            && self.edges.iter().chain(&self.expected).all(|v| v.is_finite())
            && self.edges.windows(2).all(|w| w[0] < w[1])
    }
}

/// The population stability index of `counts` (rows per bin) against `expected` shares; 0 with
/// no rows.
pub fn psi(expected: &[f64], counts: &[u64]) -> f64 {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return 0.0;
    }
    expected
        .iter()
        .zip(counts)
        .map(|(e, c)| {
            let (a, e) = ((*c as f64 / total as f64).max(FLOOR), e.max(FLOOR));
            (a - e) * (a / e).ln()
        })
        .sum()
}

/// Rows graded per bin of each watched feature, since the model began serving.
#[derive(Clone, Debug, Default)]
pub struct DriftMonitor {
    references: Vec<DriftReference>,
    counts: Vec<Vec<u64>>,
}

impl DriftMonitor {
    /// A monitor for these references, with nothing counted.
    pub fn new(references: &[DriftReference]) -> DriftMonitor {
        let counts = references.iter().map(|r| vec![0; r.expected.len()]).collect();
        DriftMonitor { references: references.to_vec(), counts }
    }

    /// Counts one graded feature vector.
    pub fn observe(&mut self, features: &[f64]) {
        for (r, counts) in self.references.iter().zip(&mut self.counts) {
            if let Some(v) = features.get(r.index) {
                counts[r.bin(*v)] += 1;
            }
        }
    }

    /// A monitor for the same references with nothing counted: one part of the rows can be
    /// counted on its own and [`DriftMonitor::add`]ed.
    pub fn empty_like(&self) -> DriftMonitor {
        DriftMonitor::new(&self.references)
    }

    /// Adds what `other`, a monitor for the same references, counted.
    pub fn add(&mut self, other: &DriftMonitor) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            for (m, t) in mine.iter_mut().zip(theirs) {
                *m += t;
            }
        }
    }

    /// Each watched feature and its index so far.
    pub fn psi(&self) -> Vec<(&str, f64)> {
        self.references.iter().zip(&self.counts).map(|(r, c)| (r.feature.as_str(), psi(&r.expected, c))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_training_population_has_no_drift_and_a_shifted_one_has() {
        let training: Vec<f64> = (0..10_000).map(|i| f64::from(i % 1000) / 1000.0).collect();
        let r = DriftReference::fit("pc_income_ratio", 0, &training).unwrap();
        assert!(r.is_valid(1) && r.expected.len() == 10);
        let mut same = DriftMonitor::new(std::slice::from_ref(&r));
        training.iter().for_each(|v| same.observe(&[*v]));
        assert!(same.psi()[0].1 < 1e-9, "{:?}", same.psi());
        let mut poorer = DriftMonitor::new(std::slice::from_ref(&r));
        training.iter().for_each(|v| poorer.observe(&[v * 0.6]));
        assert!(poorer.psi()[0].1 > 0.25, "{:?}", poorer.psi());
        // Counted in two parts and added, the same index as counted at once.
        let (mut first, mut second) = (poorer.empty_like(), poorer.empty_like());
        let (a, b) = training.split_at(3_000);
        a.iter().for_each(|v| first.observe(&[v * 0.6]));
        b.iter().for_each(|v| second.observe(&[v * 0.6]));
        first.add(&second);
        assert_eq!(first.psi(), poorer.psi());
        assert_eq!(DriftMonitor::new(&[r]).psi()[0].1, 0.0, "nothing graded, nothing to say");
        // A feature that is mostly zero keeps one bin for its zeros.
        let zeros: Vec<f64> = (0..100).map(|i| if i < 95 { 0.0 } else { 1.0 }).collect();
        let z = DriftReference::fit("wage_loss_3m_share", 0, &zeros).unwrap();
        assert_eq!(z.edges, vec![0.0]);
        assert_eq!(z.expected, vec![0.95, 0.05]);
    }
}
