//! Metrics as CloudWatch embedded metric format (EMF) lines: one wide event per unit of work (an HTTP
//! request, a stream batch, a job), written through awslabs' `metrique` formatter with its validations
//! on. Namespace `ClinicAppointments`; dimensions kept few: `Function` and `Outcome`, and `Job` for the
//! worker's jobs. No identifier of a patient (or of anything else) is ever a dimension or a value: the
//! only strings are the function's name, a bounded outcome (`booked`, a problem's code, `ok`) and a
//! job's kind.
//!
//! Code anywhere below a unit counts into it with [`count`] and names its outcome with [`outcome`]
//! (a task-local tally, so nothing is threaded through signatures); [`Metrics::unit`] opens the tally,
//! times the work and writes the line when it ends. In Lambda the line goes to stdout, which Lambda
//! sends to CloudWatch Logs, where the metrics are extracted
//! (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Lambda.html);
//! it is written before the invocation answers, since a frozen or timed-out environment flushes
//! nothing. The local stack collects the same lines ([`Lines`]) and answers them at `/_local/metrics`.

use std::borrow::Cow;
use std::cell::RefCell;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use metrique_writer::format::FormatExt;
use metrique_writer::sink::FlushImmediately;
use metrique_writer::unit::NegativeScale;
use metrique_writer::{
    AnyEntrySink, BoxEntrySink, Entry, EntryWriter, MetricFlags, Observation, Unit, Value,
    ValueWriter,
};
use metrique_writer_format_emf::Emf;

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "ClinicAppointments";

tokio::task_local! {
    static TALLY: RefCell<Tally>;
}

/// What one unit of work counted so far.
#[derive(Debug, Default)]
struct Tally {
    outcome: Option<&'static str>,
    counts: Vec<(&'static str, f64)>,
}

/// Adds `n` to the metric `name` of the unit of work this runs in (nothing outside one).
pub fn count(name: &'static str, n: u64) {
    units(name, n as f64);
}

/// Adds `n`, which may be fractional (DynamoDB's half read units), to the metric `name` of the unit
/// of work this runs in (nothing outside one).
pub fn units(name: &'static str, n: f64) {
    let _ = TALLY.try_with(|t| {
        let mut t = t.borrow_mut();
        match t.counts.iter_mut().find(|(k, _)| *k == name) {
            Some((_, v)) => *v += n,
            None => t.counts.push((name, n)),
        }
    });
}

/// Names the outcome of the unit of work this runs in (the last one named wins).
pub fn outcome(outcome: &'static str) {
    let _ = TALLY.try_with(|t| t.borrow_mut().outcome = Some(outcome));
}

/// Where a function's metric lines go: stdout in Lambda, or the local stack's [`Lines`].
#[derive(Clone)]
pub struct Metrics {
    requests: BoxEntrySink,
    jobs: BoxEntrySink,
    /// Whether this function has finished no unit yet: the first one is its cold start.
    cold: Arc<AtomicBool>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// The dimension sets of a unit of work: (function, outcome), and for the worker's jobs (function,
/// job, outcome); and (function) alone, the whole of a function's work, for rates and percentiles
/// over every outcome (alarms cannot SEARCH). Every line carries each dimension its sets name.
fn dimensions(job: bool) -> Vec<Vec<String>> {
    let mut set = vec!["Function".to_owned()];
    if job {
        set.push("Job".to_owned());
    }
    set.push("Outcome".to_owned());
    vec![set, vec!["Function".to_owned()]]
}

impl Metrics {
    /// Lines to stdout, as a Lambda function writes them.
    pub fn stdout() -> Metrics {
        Metrics::with(|| std::io::stdout().lock())
    }

    /// Lines into `lines` (the local stack).
    pub fn to(lines: &Lines) -> Metrics {
        let lines = lines.clone();
        Metrics::with(move || lines.clone())
    }

    fn with<W: std::io::Write + 'static>(
        make: impl Fn() -> W + Send + Sync + Clone + 'static,
    ) -> Metrics {
        let sink = |job: bool| {
            FlushImmediately::new_boxed(
                Emf::all_validations(NAMESPACE.to_owned(), dimensions(job))
                    .output_to_makewriter(make.clone()),
            )
        };
        Metrics {
            requests: sink(false),
            jobs: sink(true),
            cold: Arc::new(AtomicBool::new(true)),
        }
    }

    /// Runs `work` as one unit of work of `function` (of the worker's kind `job`, if given): what it
    /// counts and its outcome (`ok` unless named) are written as one line when it ends, with its
    /// latency and whether it was the function's cold start.
    pub async fn unit<T>(
        &self,
        function: &'static str,
        job: Option<&'static str>,
        work: impl Future<Output = T>,
    ) -> T {
        let started = Instant::now();
        // Boxed: a unit wraps a whole invocation, whose future would otherwise nest past rustc's
        // layout query limit in the publish and worker binaries.
        let work = Box::pin(work);
        let (value, tally) = TALLY
            .scope(RefCell::new(Tally::default()), async {
                let value = work.await;
                let tally = TALLY.with(|t| std::mem::take(&mut *t.borrow_mut()));
                (value, tally)
            })
            .await;
        let line = Line {
            at: SystemTime::now(),
            function,
            job,
            outcome: tally.outcome.unwrap_or("ok"),
            latency_ms: started.elapsed().as_secs_f64() * 1000.0,
            cold_start: self.cold.swap(false, Ordering::Relaxed),
            counts: tally.counts,
        };
        match job {
            Some(_) => self.jobs.append_any(line),
            None => self.requests.append_any(line),
        }
        value
    }
}

/// One unit of work as an EMF line.
struct Line {
    at: SystemTime,
    function: &'static str,
    job: Option<&'static str>,
    outcome: &'static str,
    latency_ms: f64,
    cold_start: bool,
    counts: Vec<(&'static str, f64)>,
}

/// A number with its CloudWatch unit.
struct Measure(Observation, Unit);

impl Value for Measure {
    fn write(&self, writer: impl ValueWriter) {
        writer.metric([self.0], self.1, [], MetricFlags::empty());
    }
}

impl Entry for Line {
    fn write<'a>(&'a self, w: &mut impl EntryWriter<'a>) {
        w.timestamp(self.at);
        w.value("Function", self.function);
        if let Some(job) = self.job {
            w.value("Job", job);
        }
        w.value("Outcome", self.outcome);
        w.value(
            "Latency",
            &Measure(
                Observation::Floating(self.latency_ms),
                Unit::Second(NegativeScale::Milli),
            ),
        );
        w.value(
            "ColdStart",
            &Measure(Observation::Unsigned(self.cold_start.into()), Unit::Count),
        );
        for (name, n) in &self.counts {
            // Whole counts stay integers on the line; DynamoDB's units may be halves.
            let n = if n.fract() == 0.0 && *n >= 0.0 && *n < u64::MAX as f64 {
                Observation::Unsigned(*n as u64)
            } else {
                Observation::Floating(*n)
            };
            w.value(Cow::Borrowed(*name), &Measure(n, Unit::Count));
        }
    }
}

/// The metric lines of the local stack, in the order written.
#[derive(Clone, Debug, Default)]
pub struct Lines {
    written: Arc<Mutex<Vec<String>>>,
    partial: Arc<Mutex<Vec<u8>>>,
}

impl Lines {
    /// Every complete line so far.
    pub fn all(&self) -> Vec<String> {
        self.written.lock().map(|w| w.clone()).unwrap_or_default()
    }
}

impl std::io::Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut partial = self
            .partial
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?;
        partial.extend_from_slice(buf);
        while let Some(end) = partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = partial.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line[..end]).into_owned();
            if let Ok(mut w) = self.written.lock() {
                w.push(line);
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> serde_json::Value {
        serde_json::from_str(line).expect("one JSON object a line")
    }

    #[tokio::test]
    async fn a_unit_is_one_line_of_its_counts_outcome_latency_and_cold_start() {
        let lines = Lines::default();
        let metrics = Metrics::to(&lines);
        let answer = metrics
            .unit("create-appointment", None, async {
                count("ConflictRetries", 1);
                count("ConflictRetries", 2);
                outcome("booked");
                42
            })
            .await;
        assert_eq!(answer, 42);
        metrics.unit("create-appointment", None, async {}).await;
        let written = lines.all();
        assert_eq!(written.len(), 2, "{written:?}");
        let first = parse(&written[0]);
        assert_eq!(first["Function"], "create-appointment");
        assert_eq!(first["Outcome"], "booked");
        assert_eq!(first["ConflictRetries"], 3);
        assert_eq!(first["ColdStart"], 1);
        assert!(first["Latency"].as_f64().is_some_and(|l| l >= 0.0));
        let directive = &first["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(
            directive["Dimensions"],
            serde_json::json!([["Function", "Outcome"], ["Function"]])
        );
        let second = parse(&written[1]);
        assert_eq!(
            (second["Outcome"].as_str(), second["ColdStart"].as_u64()),
            (Some("ok"), Some(0))
        );
        assert!(second.get("ConflictRetries").is_none(), "{second}");
    }

    #[tokio::test]
    async fn a_job_line_has_the_job_dimension_and_counting_outside_a_unit_is_nothing() {
        count("Ignored", 1);
        outcome("ignored");
        let lines = Lines::default();
        let metrics = Metrics::to(&lines);
        metrics
            .unit("worker", Some("send-reminder"), async {
                outcome("done");
                count("RemindersSent", 1);
            })
            .await;
        let line = parse(&lines.all()[0]);
        assert_eq!(
            (
                line["Job"].as_str(),
                line["Outcome"].as_str(),
                line["RemindersSent"].as_u64()
            ),
            (Some("send-reminder"), Some("done"), Some(1))
        );
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            serde_json::json!([["Function", "Job", "Outcome"], ["Function"]])
        );
    }
}
