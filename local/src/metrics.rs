//! `GET /_local/metrics`: what CloudWatch would extract from the stack's EMF lines, summed by the
//! dimensions of each line (function, job, outcome): how many units, each counter's total, and latency
//! percentiles. Read from the lines themselves, as CloudWatch reads them, so a line the service writes
//! wrong shows here wrong.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The figures of one dimension combination.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Figures {
    pub function: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    pub outcome: String,
    /// Lines (units of work) with these dimensions.
    pub units: u64,
    /// Each metric's sum, latency aside.
    pub counts: BTreeMap<String, f64>,
    pub latency_ms: Percentiles,
}

#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

/// The nearest-rank percentile `p` (0 to 100) of sorted `values`.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The figures of `lines`, in the order of their dimensions; lines that are not EMF are skipped.
pub fn summarize(lines: &[String]) -> Vec<Figures> {
    // (function, job, outcome) -> the figures so far, and the latencies.
    type Dimensions = (String, Option<String>, String);
    let mut groups: BTreeMap<Dimensions, (Figures, Vec<f64>)> = BTreeMap::new();
    for line in lines {
        let Ok(doc) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let Some(directive) = doc["_aws"]["CloudWatchMetrics"].get(0) else {
            continue;
        };
        let text = |k: &str| doc[k].as_str().map(str::to_owned);
        let key = (
            text("Function").unwrap_or_default(),
            text("Job"),
            text("Outcome").unwrap_or_default(),
        );
        let (figures, latencies) = groups.entry(key.clone()).or_insert_with(|| {
            (
                Figures {
                    function: key.0.clone(),
                    job: key.1.clone(),
                    outcome: key.2.clone(),
                    ..Figures::default()
                },
                vec![],
            )
        });
        figures.units += 1;
        for metric in directive["Metrics"].as_array().into_iter().flatten() {
            let Some(name) = metric["Name"].as_str() else {
                continue;
            };
            let value = doc[name].as_f64().unwrap_or_default();
            match name {
                "Latency" => latencies.push(value),
                _ => *figures.counts.entry(name.to_owned()).or_default() += value,
            }
        }
    }
    groups
        .into_values()
        .map(|(mut figures, mut latencies)| {
            latencies.sort_by(f64::total_cmp);
            figures.latency_ms = Percentiles {
                p50: percentile(&latencies, 50.0),
                p90: percentile(&latencies, 90.0),
                p99: percentile(&latencies, 99.0),
                max: latencies.last().copied().unwrap_or_default(),
            };
            figures
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::metrics::{count, outcome, Lines, Metrics};

    #[tokio::test]
    async fn lines_sum_by_their_dimensions_with_latency_percentiles() {
        let lines = Lines::default();
        let metrics = Metrics::to(&lines);
        for n in 0..3 {
            metrics
                .unit("create-appointment", None, async move {
                    outcome(if n == 0 { "slot_full" } else { "booked" });
                    count("ConflictRetries", n);
                })
                .await;
        }
        metrics
            .unit("worker", Some("reminder-due"), async {
                count("RemindersSent", 1);
            })
            .await;
        let mut all = lines.all();
        all.push("not EMF".into());
        let figures = summarize(&all);
        let keys: Vec<(&str, Option<&str>, &str, u64)> = figures
            .iter()
            .map(|f| {
                (
                    f.function.as_str(),
                    f.job.as_deref(),
                    f.outcome.as_str(),
                    f.units,
                )
            })
            .collect();
        assert_eq!(
            keys,
            [
                ("create-appointment", None, "booked", 2),
                ("create-appointment", None, "slot_full", 1),
                ("worker", Some("reminder-due"), "ok", 1),
            ]
        );
        assert_eq!(figures[0].counts["ConflictRetries"], 3.0);
        assert_eq!(figures[0].counts["ColdStart"], 0.0);
        assert_eq!(figures[1].counts["ColdStart"], 1.0, "the first unit");
        assert_eq!(figures[2].counts["RemindersSent"], 1.0);
        assert!(figures[0].latency_ms.max >= figures[0].latency_ms.p50);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(
            (
                percentile(&values, 50.0),
                percentile(&values, 99.0),
                percentile(&values, 100.0)
            ),
            (50.0, 99.0, 100.0)
        );
        assert_eq!(percentile(&[], 50.0), 0.0);
        assert_eq!(percentile(&[7.0], 1.0), 7.0);
    }
}
