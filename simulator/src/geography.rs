//! Xiaogan's counties, townships and villages, and which village each household lives in.
//!
//! The plan counts 8 county-level units; the contracts give codes for 7 of them (the development
//! zone has no GB/T 2260 code), so the simulated city has 7 counties. The plan's 122 townships and
//! 1,980 villages are spread over those 7.

use rand::Rng;

/// One county-level unit with a contract county code.
#[derive(Debug)]
pub struct County {
    /// GB/T 2260 code, 6 digits.
    pub code: &'static str,
    /// English name.
    pub name: &'static str,
    /// Number of townships.
    pub townships: u32,
    /// Relative number of monitored households (the poorer key counties carry more).
    pub weight: f64,
}

/// Index of Xiaonan in [`COUNTIES`].
pub const XIAONAN: u8 = 0;
/// Index of Xiaochang (a key county).
pub const XIAOCHANG: u8 = 1;
/// Index of Dawu (a key county; the tea county).
pub const DAWU: u8 = 2;
/// Index of Yunmeng.
pub const YUNMENG: u8 = 3;
/// Index of Yingcheng.
pub const YINGCHENG: u8 = 4;
/// Index of Anlu.
pub const ANLU: u8 = 5;
/// Index of Hanchuan.
pub const HANCHUAN: u8 = 6;

/// The seven counties with contract codes; township counts add up to the plan's 122.
pub const COUNTIES: [County; 7] = [
    County {
        code: "420902",
        name: "Xiaonan",
        townships: 17,
        weight: 0.13,
    },
    County {
        code: "420921",
        name: "Xiaochang",
        townships: 16,
        weight: 0.18,
    },
    County {
        code: "420922",
        name: "Dawu",
        townships: 20,
        weight: 0.20,
    },
    County {
        code: "420923",
        name: "Yunmeng",
        townships: 12,
        weight: 0.10,
    },
    County {
        code: "420981",
        name: "Yingcheng",
        townships: 16,
        weight: 0.11,
    },
    County {
        code: "420982",
        name: "Anlu",
        townships: 17,
        weight: 0.14,
    },
    County {
        code: "420984",
        name: "Hanchuan",
        townships: 24,
        weight: 0.14,
    },
];

/// The plan's number of administrative villages.
pub const VILLAGES: u32 = 1_980;

/// One administrative village.
#[derive(Debug, Clone)]
pub struct Village {
    /// 12-digit code: county + 3-digit township + 3-digit village.
    pub code: String,
    /// Index into [`COUNTIES`].
    pub county: u8,
    /// Number of roster households living here (filled when households are placed).
    pub households: u32,
}

/// The simulated city: villages and a sampler that places households in them.
#[derive(Debug)]
pub struct Geography {
    /// All villages, grouped by county and township in code order.
    pub villages: Vec<Village>,
    /// Cumulative household-placement weight per village, for binary-search sampling.
    cumulative: Vec<f64>,
}

impl Geography {
    /// Builds the villages of all counties. Villages per county follow the county weight;
    /// townships get uneven numbers of villages, as real ones do.
    pub fn build<R: Rng>(rng: &mut R) -> Geography {
        Geography::build_weighted(rng, |c| COUNTIES[c].weight)
    }

    /// Like [`Geography::build`], but households are placed with county weights `weight(c)`
    /// (the villages stay as the plan's mix has them).
    pub fn build_weighted<R: Rng>(rng: &mut R, weight: impl Fn(usize) -> f64) -> Geography {
        let total_weight: f64 = COUNTIES.iter().map(|c| c.weight).sum();
        let mut per_county: Vec<u32> = COUNTIES
            .iter()
            .map(|c| (c.weight / total_weight * VILLAGES as f64).round() as u32)
            .collect();
        // Rounding can miss the plan's total by one or two; settle it on the largest county.
        let diff = VILLAGES as i64 - per_county.iter().sum::<u32>() as i64;
        per_county[DAWU as usize] = (per_county[DAWU as usize] as i64 + diff) as u32;

        let mut villages = Vec::with_capacity(VILLAGES as usize);
        let mut cumulative = Vec::with_capacity(VILLAGES as usize);
        let mut acc = 0.0;
        for (ci, county) in COUNTIES.iter().enumerate() {
            let shares: Vec<f64> = (0..county.townships)
                .map(|_| rng.random_range(0.6..1.4))
                .collect();
            let counts = apportion(per_county[ci], &shares);
            for (t, &n) in counts.iter().enumerate() {
                // Towns (乡镇) are numbered from 101, villages (行政村) from 201 within a town.
                let township = format!("{}{:03}", county.code, 101 + t);
                for v in 0..n {
                    villages.push(Village {
                        code: format!("{township}{:03}", 201 + v),
                        county: ci as u8,
                        households: 0,
                    });
                    // Per-village weight: the county's share of households, uneven villages.
                    acc += weight(ci) / per_county[ci] as f64 * rng.random_range(0.5..1.5);
                    cumulative.push(acc);
                }
            }
        }
        Geography {
            villages,
            cumulative,
        }
    }

    /// Draws the village of the next household and counts it; returns the village index and the
    /// household's 1-based sequence number in that village.
    pub fn place<R: Rng>(&mut self, rng: &mut R) -> (u32, u32) {
        let total = *self.cumulative.last().expect("villages exist");
        let x = rng.random_range(0.0..total);
        let idx = self
            .cumulative
            .partition_point(|&c| c <= x)
            .min(self.villages.len() - 1);
        let village = &mut self.villages[idx];
        village.households += 1;
        (idx as u32, village.households)
    }

    /// Indices of the villages in one county.
    pub fn villages_of(&self, county: u8) -> Vec<u32> {
        (0..self.villages.len() as u32)
            .filter(|&i| self.villages[i as usize].county == county)
            .collect()
    }
}

/// Splits `total` into integer parts proportional to `shares` (largest remainder), each ≥ 1.
fn apportion(total: u32, shares: &[f64]) -> Vec<u32> {
    let sum: f64 = shares.iter().sum();
    let exact: Vec<f64> = shares.iter().map(|s| s / sum * total as f64).collect();
    let mut parts: Vec<u32> = exact.iter().map(|e| (e.floor() as u32).max(1)).collect();
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|&a, &b| {
        let ra = exact[a] - exact[a].floor();
        let rb = exact[b] - exact[b].floor();
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    let mut assigned: u32 = parts.iter().sum();
    let mut i = 0;
    while assigned < total {
        parts[order[i % order.len()]] += 1;
        assigned += 1;
        i += 1;
    }
    while assigned > total {
        let j = order[order.len() - 1 - i % order.len()];
        if parts[j] > 1 {
            parts[j] -= 1;
            assigned -= 1;
        }
        i += 1;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use std::collections::BTreeSet;

    #[test]
    fn plan_counts_and_code_shapes() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let geo = Geography::build(&mut rng);
        assert_eq!(COUNTIES.iter().map(|c| c.townships).sum::<u32>(), 122);
        assert_eq!(geo.villages.len(), VILLAGES as usize);
        let codes: BTreeSet<&str> = geo.villages.iter().map(|v| v.code.as_str()).collect();
        assert_eq!(codes.len(), VILLAGES as usize, "village codes are unique");
        let townships: BTreeSet<&str> = geo.villages.iter().map(|v| &v.code[..9]).collect();
        assert_eq!(townships.len(), 122);
        for v in &geo.villages {
            assert_eq!(v.code.len(), 12);
            assert!(v.code.bytes().all(|b| b.is_ascii_digit()));
            assert!(v.code.starts_with(COUNTIES[v.county as usize].code));
        }
    }
}
