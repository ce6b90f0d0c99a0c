//! The model artifact: everything needed to grade with a trained model, as plain serde data.

use serde::{Deserialize, Serialize};

use crate::error::ModelError;

/// Standardisation learned on the training rows: `z = (x − mean) / std`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scaler {
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
}

impl Scaler {
    /// Mean and standard deviation of each column; a constant column gets std 1.
    pub fn fit(rows: &[Vec<f64>]) -> Scaler {
        let width = rows.first().map_or(0, Vec::len);
        let n = rows.len().max(1) as f64;
        let mut mean = vec![0.0; width];
        for r in rows {
            for (m, v) in mean.iter_mut().zip(r) {
                *m += v / n;
            }
        }
        let mut var = vec![0.0; width];
        for r in rows {
            for ((s, v), m) in var.iter_mut().zip(r).zip(&mean) {
                *s += (v - m).powi(2) / n;
            }
        }
        let std = var.into_iter().map(|v| if v > 1e-12 { v.sqrt() } else { 1.0 }).collect();
        Scaler { mean, std }
    }

    /// One row, standardised.
    pub fn transform(&self, row: &[f64]) -> Vec<f64> {
        row.iter().zip(&self.mean).zip(&self.std).map(|((v, m), s)| (v - m) / s).collect()
    }
}

/// Probability cut-offs for the grades: `p ≥ high` is high, and so on; below `low` no alert.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    pub high: f64,
    pub medium: f64,
    pub low: f64,
}

/// The fitted classifier.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Classifier {
    /// Logistic regression on standardised features: `p = σ(w·z + b)`.
    Logistic { weights: Vec<f64>, intercept: f64 },
    /// A decision tree (linfa-trees); its probability is 0 or 1.
    Tree { tree: linfa_trees::DecisionTree<f64, usize> },
    /// The tree decides whether a household is at risk; the logistic regression ranks within
    /// each side: `p = ½ + ½·σ` where the tree says at risk, `½·σ` where it does not. Grades
    /// then mean: high = tree and a confident regression, medium = tree, low = regression only.
    Stacked { tree: linfa_trees::DecisionTree<f64, usize>, weights: Vec<f64>, intercept: f64 },
    /// Bagged decision trees, each fitted on a bootstrap sample: the probability is the share
    /// of trees that say "at risk".
    Forest { trees: Vec<linfa_trees::DecisionTree<f64, usize>> },
}

/// A trained, versioned model with the features it was trained on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelArtifact {
    /// Registry version, e.g. `v1`.
    pub version: String,
    /// Names of the features, in the order the classifier expects them.
    pub feature_names: Vec<String>,
    /// Hash of the feature definitions: a model only serves a pipeline with the same one.
    pub feature_version: String,
    pub scaler: Scaler,
    pub classifier: Classifier,
    pub thresholds: Thresholds,
    /// Rule codes that always yield at least a low-grade alert (the plan's statutory rules).
    pub statutory_rules: Vec<String>,
    /// Seed the training used.
    pub seed: u64,
    /// The training rows' distribution of the watched features, to measure drift against.
    #[serde(default)]
    pub drift: Vec<crate::drift::DriftReference>,
}

impl ModelArtifact {
    /// Refuses to serve a pipeline whose features differ from the ones trained on.
    pub fn check_features(&self, names: &[String], version: &str) -> Result<(), ModelError> {
        if self.feature_version != version || self.feature_names != names {
            return Err(ModelError::FeatureMismatch {
                model: self.version.clone(),
                model_features: self.feature_version.clone(),
                pipeline_features: version.to_owned(),
            });
        }
        Ok(())
    }

    /// Refuses an artifact whose parts do not fit together (a scaler, weights or tree for
    /// another number of features, thresholds out of order): served, it would panic or grade
    /// nonsense. Checked whenever a model is loaded to serve, hot reloads included.
    pub fn check_shape(&self) -> Result<(), ModelError> {
        let n = self.feature_names.len();
        let bad = |what: String| Err(ModelError::Config(format!("model {}: {what}: retrain it", self.version)));
        if self.scaler.mean.len() != n || self.scaler.std.len() != n {
            return bad(format!("its scaler has {}/{} columns for {n} features", self.scaler.mean.len(), self.scaler.std.len()));
        }
        if self.scaler.mean.iter().chain(&self.scaler.std).any(|v| !v.is_finite()) || self.scaler.std.iter().any(|s| *s == 0.0) {
            return bad("its scaler holds a non-finite mean or a zero or non-finite deviation".into());
        }
        let (weights, trees): (_, Vec<&linfa_trees::DecisionTree<f64, usize>>) = match &self.classifier {
            Classifier::Logistic { weights, intercept } => (Some((weights, *intercept)), vec![]),
            Classifier::Tree { tree } => (None, vec![tree]),
            Classifier::Stacked { tree, weights, intercept } => (Some((weights, *intercept)), vec![tree]),
            Classifier::Forest { trees } => (None, trees.iter().collect()),
        };
        if let Some((w, b)) = weights {
            if w.len() != n || w.iter().any(|x| !x.is_finite()) || !b.is_finite() {
                return bad(format!("its regression has {} weights for {n} features, or a non-finite one", w.len()));
            }
        }
        if matches!(self.classifier, Classifier::Forest { .. }) && trees.is_empty() {
            return bad("its forest has no tree".into());
        }
        for t in trees {
            // linfa walks a split node's children unchecked: both must be there.
            for node in t.iter_nodes().filter(|node| !node.is_leaf()) {
                let (feature, value, _) = node.split();
                if feature >= n || !value.is_finite() || node.children().iter().any(|c| c.is_none()) {
                    return bad(format!("its tree has a split on feature {feature} of {n} at {value}, or one without both branches"));
                }
            }
        }
        if let Some(r) = self.drift.iter().find(|r| !r.is_valid(n)) {
            return bad(format!("its drift reference of {} does not fit {n} features", r.feature));
        }
        let t = &self.thresholds;
        // A threshold above 1 only means "never": allowed. Out of order or not a number is not.
        let ordered = [t.low, t.medium, t.high].iter().all(|v| v.is_finite()) && t.low <= t.medium && t.medium <= t.high;
        if !ordered {
            return bad(format!("its thresholds low {} ≤ medium {} ≤ high {} are not numbers in order", t.low, t.medium, t.high));
        }
        Ok(())
    }

    /// Probability that the household falls below the line within three months.
    pub fn probability(&self, features: &[f64]) -> f64 {
        let z = self.scaler.transform(features);
        match &self.classifier {
            Classifier::Logistic { weights, intercept } => sigmoid(dot(weights, &z) + intercept),
            Classifier::Tree { tree } => tree_says(tree, &z, |_| {}),
            Classifier::Stacked { tree, weights, intercept } => {
                let l = sigmoid(dot(weights, &z) + intercept);
                0.5 * tree_says(tree, &z, |_| {}) + 0.5 * l
            }
            Classifier::Forest { trees } => {
                trees.iter().map(|t| tree_says(t, &z, |_| {})).sum::<f64>() / trees.len().max(1) as f64
            }
        }
    }

    /// What pushed the grade up, largest first: for a regression each feature's push on the
    /// log-odds (`w_i · z_i`); for trees, how many of the trees that said "at risk" split on
    /// the feature on the way to their leaf.
    pub fn contributions(&self, features: &[f64]) -> Vec<(usize, f64)> {
        let z = self.scaler.transform(features);
        let mut c: Vec<(usize, f64)> = match &self.classifier {
            Classifier::Logistic { weights, .. } | Classifier::Stacked { weights, .. } => {
                weights.iter().zip(&z).map(|(w, v)| w * v).enumerate().collect()
            }
            Classifier::Tree { tree } => path_counts(std::slice::from_ref(tree), &z, features.len()),
            Classifier::Forest { trees } => path_counts(trees, &z, features.len()),
        };
        c.retain(|(_, v)| *v > 0.0);
        c.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        c
    }
}

/// The tree's verdict for a standardised row (1 at risk, 0 not), telling `split_on` each feature
/// split on along the way. Walked here rather than through linfa's `predict`, which allocates a
/// matrix per row; the rule is linfa's: a value at or below the split goes left.
fn tree_says(tree: &linfa_trees::DecisionTree<f64, usize>, z: &[f64], mut split_on: impl FnMut(usize)) -> f64 {
    let mut node = tree.iter_nodes().next().expect("a fitted tree has a root");
    while !node.is_leaf() {
        let (feature, value, _) = node.split();
        split_on(feature);
        let children = node.children();
        let next = if z[feature] <= value { children[0] } else { children[1] };
        node = next.as_deref().expect("check_shape verified both branches");
    }
    node.prediction().map_or(0.0, |p| p as f64)
}

/// Per feature, how many of the trees saying "at risk" split on it for this row.
fn path_counts(trees: &[linfa_trees::DecisionTree<f64, usize>], z: &[f64], n: usize) -> Vec<(usize, f64)> {
    let mut counts = vec![0.0; n];
    for t in trees {
        let mut path = Vec::new();
        if tree_says(t, z, |f| path.push(f)) > 0.0 {
            let mut seen = path;
            seen.sort_unstable();
            seen.dedup();
            for f in seen {
                counts[f] += 1.0;
            }
        }
    }
    counts.into_iter().enumerate().collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The logistic function.
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}
