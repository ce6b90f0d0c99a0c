//! The plan's thresholds that the rules grader and the pipeline's features both use: one
//! definition each. The pipeline hashes this file into its feature version.

/// Dawu and Xiaochang: the plan's key counties, which get stronger protection.
pub const KEY_COUNTIES: [&str; 2] = ["420922", "420921"];

/// "Near the line": per-capita income below this multiple of the monitoring line.
pub const NEAR_LINE: f64 = 1.2;
