//! Training: a time-based split with a gap, feature scaling, linfa candidates (bagged decision
//! trees, logistic regression, a decision tree, the tree feeding the regression), the best one
//! on the validation months kept, its grade thresholds chosen there, and the training rows'
//! distribution of the watched features stored for drift.
//!
//! The split: rows of months before `validation_from − gap_months` train; rows from
//! `validation_from` validate. A row's label looks three months ahead, so a gap of three months
//! keeps every training label out of the validation months. Validation chooses the model and
//! its thresholds, so its figures are optimistic: the card's figures on other worlds are the
//! ones to judge a model by.

use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use linfa_trees::DecisionTree;
use ndarray::{Array1, Array2};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::artifact::{Classifier, ModelArtifact, Scaler, Thresholds};
use crate::card::{evaluate, ModelCard};
use crate::error::ModelError;
use crate::grade::Grade;

/// One labelled household-month.
#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    pub features: Vec<f64>,
    /// Whether the household is below the line in this month or one of the next three.
    pub label: bool,
    /// `Month::index` of the household-month.
    pub month_idx: i32,
    /// County code, for the card's figures per county.
    pub county: String,
    /// Roster category code, for the card's figures per category.
    pub category: String,
    /// What the rules-only grader said, for the side-by-side comparison.
    pub rules_grade: Option<Grade>,
}

/// How to train.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Registry version to give the model.
    pub version: String,
    pub seed: u64,
    /// Rows of months from this `Month::index` validate.
    pub validation_from_month_idx: i32,
    /// Months between the last training month and the first validation month.
    pub gap_months: i32,
    /// Precision the high grade must reach on the validation months.
    pub high_precision: f64,
    /// Precision of the medium grade and above.
    pub medium_precision: f64,
    /// Precision of any alert.
    pub low_precision: f64,
    /// At most this many label-0 training rows are kept (sampled with the seed).
    pub max_negatives: usize,
    /// Rule codes that always yield at least a low-grade alert.
    pub statutory_rules: Vec<String>,
}

/// A trained model and its card.
pub struct Trained {
    pub artifact: ModelArtifact,
    pub card: ModelCard,
}

/// Trains on `examples` of `world` (features named `names`, defined by `feature_version`).
pub fn train(
    examples: &[Example],
    world: &str,
    names: &[String],
    feature_version: &str,
    config: &TrainConfig,
) -> Result<Trained, ModelError> {
    let train_until = config.validation_from_month_idx - config.gap_months;
    let train: Vec<&Example> = examples.iter().filter(|e| e.month_idx < train_until).collect();
    let eval: Vec<&Example> = examples.iter().filter(|e| e.month_idx >= config.validation_from_month_idx).collect();
    let positives = train.iter().filter(|e| e.label).count();
    if positives < 10 || train.len() - positives < 10 || eval.is_empty() {
        return Err(ModelError::Data(format!(
            "{} training rows ({positives} at risk) and {} validation rows: need both classes in training and some validation rows (a longer world, or an earlier validation month)",
            train.len(),
            eval.len()
        )));
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(config.seed);
    let mut negatives: Vec<&Example> = train.iter().copied().filter(|e| !e.label).collect();
    negatives.shuffle(&mut rng);
    negatives.truncate(config.max_negatives);
    let fit_rows: Vec<&Example> = train.iter().copied().filter(|e| e.label).chain(negatives).collect();
    let scaler = Scaler::fit(&fit_rows.iter().map(|e| e.features.clone()).collect::<Vec<_>>());
    let (x, y) = matrix(&fit_rows, &scaler);

    let logistic = fit_logistic(&x, &y)?;
    let forest = fit_forest(&x, &y, &mut rng)?;
    let tree = DecisionTree::params()
        .max_depth(Some(6))
        .min_weight_leaf(50.0)
        .fit(&Dataset::new(x, y.clone()).with_weights(tie_free_weights(&y)))
        .map_err(|e| ModelError::Fit(e.to_string()))?;

    let artifact_of = |classifier: Classifier, thresholds: Thresholds| ModelArtifact {
        version: config.version.clone(),
        feature_names: names.to_vec(),
        feature_version: feature_version.to_owned(),
        scaler: scaler.clone(),
        classifier,
        thresholds,
        statutory_rules: config.statutory_rules.clone(),
        seed: config.seed,
        drift: Vec::new(),
    };
    let Classifier::Logistic { weights, intercept } = logistic.clone() else { unreachable!("fit_logistic gives a regression") };
    let stacked = Classifier::Stacked { tree: tree.clone(), weights, intercept };
    let eval_rows: Vec<Example> = eval.into_iter().cloned().collect();
    // Each candidate's thresholds are chosen on the validation rows from its own probabilities.
    let with_thresholds = |classifier: Classifier| -> Result<ModelArtifact, ModelError> {
        let mut a = artifact_of(classifier, Thresholds { high: 1.0, medium: 1.0, low: 1.0 });
        let p: Vec<f64> = eval_rows.iter().map(|e| a.probability(&e.features)).collect();
        a.thresholds = choose_thresholds(&p, &eval_rows.iter().collect::<Vec<_>>(), config)?;
        Ok(a)
    };
    let candidates = [
        ("bagged_trees", with_thresholds(forest)?),
        ("tree_then_logistic", with_thresholds(stacked)?),
        ("logistic_regression", with_thresholds(logistic)?),
        // A tree says 0 or 1: its positive class is a high alert.
        ("decision_tree", artifact_of(Classifier::Tree { tree }, Thresholds { high: 0.5, medium: 0.5, low: 0.5 })),
    ];
    let mut measured: Vec<(&str, ModelArtifact, crate::card::Evaluation)> =
        candidates.into_iter().map(|(name, a)| { let e = evaluate(&a, &eval_rows); (name, a, e) }).collect();
    // A door visit must be right as often as promised: candidates whose high grade reaches its
    // precision on the validation months come first; then the best F1 of high and medium
    // alerts there. The first listed wins ties.
    let rank = |e: &crate::card::Evaluation| {
        let high = &e.model.per_grade[0];
        (high.alerts > 0 && high.precision >= config.high_precision, e.model.f1)
    };
    let better = |a: (bool, f64), b: (bool, f64)| (a.0 && !b.0) || (a.0 == b.0 && a.1 > b.1);
    let best = (0..measured.len()).fold(0, |b, i| if better(rank(&measured[i].2), rank(&measured[b].2)) { i } else { b });
    let (_, mut kept, kept_eval) = measured.remove(best);
    kept.drift = crate::drift::WATCHED
        .iter()
        .filter_map(|f| {
            let index = names.iter().position(|n| n == f)?;
            let values: Vec<f64> = train.iter().map(|e| e.features[index]).collect();
            crate::drift::DriftReference::fit(f, index, &values)
        })
        .collect();
    let runner_up = (0..measured.len()).fold(0, |b, i| if measured[i].2.model.f1 > measured[b].2.model.f1 { i } else { b });
    let (other, _, other_eval) = measured.swap_remove(runner_up);
    let months = |rows: &[&Example]| {
        (rows.iter().map(|e| e.month_idx).min().unwrap_or(0), rows.iter().map(|e| e.month_idx).max().unwrap_or(0))
    };
    let card = ModelCard::new(
        &kept,
        config,
        world.to_owned(),
        months(&train),
        months(&eval_rows.iter().collect::<Vec<_>>()),
        train.len(),
        kept_eval,
        (other.to_owned(), other_eval.model),
    );
    Ok(Trained { artifact: kept, card })
}

/// Trees in a forest, and the share of the training rows each is fitted on (drawn with
/// replacement, so that the trees differ).
const FOREST_TREES: usize = 15;
const FOREST_SAMPLE: f64 = 0.35;

/// Bagged decision trees: deeper than the single tree, each on its own bootstrap sample.
fn fit_forest(x: &Array2<f64>, y: &Array1<usize>, rng: &mut impl rand::Rng) -> Result<Classifier, ModelError> {
    let n = x.nrows();
    let take = ((n as f64 * FOREST_SAMPLE) as usize).max(1);
    let mut trees = Vec::with_capacity(FOREST_TREES);
    for _ in 0..FOREST_TREES {
        let rows: Vec<usize> = (0..take).map(|_| rng.random_range(0..n)).collect();
        let xs = x.select(ndarray::Axis(0), &rows);
        let ys = y.select(ndarray::Axis(0), &rows);
        let w = tie_free_weights(&ys);
        let tree = DecisionTree::params()
            .max_depth(Some(9))
            .min_weight_leaf(20.0)
            .fit(&Dataset::new(xs, ys).with_weights(w))
            .map_err(|e| ModelError::Fit(e.to_string()))?;
        trees.push(tree);
    }
    Ok(Classifier::Forest { trees })
}

/// linfa-trees picks a leaf's class by iterating a `HashMap`, so a leaf with as much weight on
/// both classes would get a class by chance and training would not be reproducible. Weighing
/// the not-at-risk rows a hair lighter makes such ties impossible in practice.
fn tie_free_weights(y: &Array1<usize>) -> Array1<f32> {
    y.mapv(|label| if label == 1 { 1.0 } else { 0.9999 })
}

fn matrix(rows: &[&Example], scaler: &Scaler) -> (Array2<f64>, Array1<usize>) {
    let width = scaler.mean.len();
    let flat: Vec<f64> = rows.iter().flat_map(|e| scaler.transform(&e.features)).collect();
    let x = Array2::from_shape_vec((rows.len(), width), flat).expect("rows of equal width");
    let y = rows.iter().map(|e| usize::from(e.label)).collect();
    (x, y)
}

fn fit_logistic(x: &Array2<f64>, y: &Array1<usize>) -> Result<Classifier, ModelError> {
    let fitted = LogisticRegression::default()
        .alpha(1e-3)
        .max_iterations(300)
        .fit(&Dataset::new(x.clone(), y.clone()))
        .map_err(|e| ModelError::Fit(e.to_string()))?;
    let weights: Vec<f64> = fitted.params().to_vec();
    let intercept = fitted.intercept();
    // linfa orders the two labels itself; make the probability that of label 1 (at risk).
    let mean_logit = |label: usize| {
        let rows: Vec<usize> = (0..y.len()).filter(|&i| y[i] == label).collect();
        rows.iter().map(|&i| x.row(i).iter().zip(&weights).map(|(a, b)| a * b).sum::<f64>()).sum::<f64>() / rows.len().max(1) as f64
    };
    let flip = mean_logit(1) < mean_logit(0);
    let sign = if flip { -1.0 } else { 1.0 };
    Ok(Classifier::Logistic { weights: weights.iter().map(|w| w * sign).collect(), intercept: intercept * sign })
}

/// For each grade, the lowest probability cut-off whose alerts (all rows at or above it) still
/// reach the grade's precision on `rows`: as much recall as the precision allows.
fn choose_thresholds(p: &[f64], rows: &[&Example], config: &TrainConfig) -> Result<Thresholds, ModelError> {
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
    let cut = |target: f64| -> f64 {
        let (mut tp, mut best) = (0usize, 1.0);
        for (k, &i) in order.iter().enumerate() {
            tp += usize::from(rows[i].label);
            let next_differs = order.get(k + 1).is_none_or(|&j| p[j] < p[i]);
            if next_differs && tp as f64 / (k + 1) as f64 >= target {
                best = p[i];
            }
        }
        best
    };
    let high = cut(config.high_precision);
    let medium = cut(config.medium_precision).min(high);
    let low = cut(config.low_precision).min(medium);
    if !(high.is_finite() && medium.is_finite() && low.is_finite()) {
        return Err(ModelError::Fit("non-finite probabilities".into()));
    }
    Ok(Thresholds { high, medium, low })
}
