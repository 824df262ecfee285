//! The audit trail: who read or changed which patient's appointments, waitlist entries, series and
//! calendar feeds, and when (HIPAA's audit controls, 45 CFR 164.312(b)). Not logging: each request
//! to an audited function writes its records as marked lines (`"_audit": "v1"`), apart from the
//! operational log's levels and filters; on AWS a subscription filter on that mark routes them
//! through Firehose into an S3 bucket under Object Lock, where no function can change or delete them.
//!
//! A record names the actor (id and roles), the action (FHIR's AuditEvent codes: C, R, U, D), the
//! function, the resource type and id, the patient whose data it was, the outcome (the HTTP status),
//! the request id, the source IP and the time; never a note, a reason or any other free text. A
//! request that touched several patients' data (a provider's list) writes one record for each; one
//! that touched none (refused before any read) writes one without a patient.
//!
//! Which patients a request touched is collected as it runs: every item the store decodes that has a
//! `patientId`, and every patient a caller acts for ([`touched`]); a task-local, like the metrics'.

use std::cell::RefCell;
use std::io::Write;

use uuid::Uuid;

pub use crate::domain::audit::{audited, Audited, Record, Trail, MARK};
use crate::domain::UtcTime;
use crate::metrics::Lines;

tokio::task_local! {
    static TOUCHED: RefCell<Vec<Uuid>>;
}

/// Notes that the request this runs in reads or changes `patient`'s data (nothing outside one).
pub fn touched(patient: Uuid) {
    let _ = TOUCHED.try_with(|t| {
        let mut t = t.borrow_mut();
        if !t.contains(&patient) {
            t.push(patient);
        }
    });
}

/// What the request told of itself before it ran.
#[derive(Clone, Debug, Default)]
pub struct Request {
    pub actor: Option<Uuid>,
    pub roles: Vec<String>,
    pub resource_id: Option<String>,
    pub request_id: String,
    pub source_ip: String,
}

/// Where a function's audit lines go: stdout in Lambda (its log group, whose subscription filter
/// takes them), or the local stack's list.
#[derive(Clone, Debug)]
pub enum AuditLog {
    Stdout,
    Local(Lines),
}

impl AuditLog {
    fn write(&self, line: &str) {
        let written = match self {
            AuditLog::Stdout => {
                let mut out = std::io::stdout().lock();
                writeln!(out, "{line}").and_then(|()| out.flush())
            }
            AuditLog::Local(lines) => writeln!(lines.clone(), "{line}"),
        };
        if let Err(e) = written {
            // Nothing else can be done from here; the log says an audit line was lost.
            tracing::error!(error = %e, audit_lost = 1, "an audit line could not be written");
        }
    }

    /// Runs `work` (one request to `function`) and writes its audit records: one per patient it
    /// touched, or one without a patient. `asked` is what the request told of itself, read only for an
    /// audited function (`None` otherwise: nothing to write). `outcome` gives the status and, for a
    /// creation, the new resource's id.
    pub async fn request<T>(
        &self,
        function: &str,
        asked: Option<Request>,
        now: UtcTime,
        work: impl std::future::Future<Output = T>,
        outcome: impl FnOnce(&T) -> (u16, Option<String>),
    ) -> T {
        let (Some(audited), Some(asked)) = (audited(function), asked) else {
            return work.await;
        };
        let (answer, patients) = TOUCHED
            .scope(RefCell::new(vec![]), async {
                let answer = Box::pin(work).await;
                let patients = TOUCHED.with(|t| t.take());
                (answer, patients)
            })
            .await;
        let (status, created) = outcome(&answer);
        let record = |patient_id| Record {
            mark: MARK.to_owned(),
            at: now,
            actor: asked.actor,
            roles: asked.roles.clone(),
            action: audited.action.to_owned(),
            function: function.to_owned(),
            resource_type: audited.resource_type.to_owned(),
            resource_id: asked.resource_id.clone().or_else(|| created.clone()),
            patient_id,
            outcome: status,
            request_id: asked.request_id.clone(),
            source_ip: asked.source_ip.clone(),
        };
        let records: Vec<Record> = match patients.is_empty() {
            true => vec![record(None)],
            false => patients.into_iter().map(|p| record(Some(p))).collect(),
        };
        for r in records {
            match serde_json::to_string(&r) {
                Ok(line) => self.write(&line),
                Err(e) => {
                    tracing::error!(error = %e, audit_lost = 1, "an audit record did not serialize")
                }
            }
        }
        answer
    }
}

/// The most records one read of the trail answers (the rest: a narrower range).
pub const MAX_RECORDS: usize = 5_000;

/// An S3 client on `sdk`: path-style addressing when the SDK is pointed at an endpoint of its own (the
/// local emulator), as such endpoints need; virtual-hosted on AWS.
pub fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(sdk.endpoint_url().is_some())
            .build(),
    )
}

/// The audit bucket as the trail's readers see it: Firehose's objects, one prefix a UTC day
/// (`audit/yyyy/MM/dd/`, by arrival), each object audit lines one per line.
#[derive(Clone, Debug)]
pub struct AuditReader {
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
}

impl AuditReader {
    /// The reader `config` names (`AUDIT_BUCKET`), if any.
    pub fn from_config(
        config: &crate::config::Config,
        sdk: &aws_config::SdkConfig,
    ) -> Option<AuditReader> {
        Some(AuditReader {
            s3: s3_client(sdk),
            bucket: config.audit_bucket.clone()?,
        })
    }

    /// The records about `patient` written from `from` to `to` (UTC days, inclusive), by time. A
    /// record lands in the prefix of the day it arrived, up to Firehose's buffer (60 s) after it
    /// was written: the day after `to` is read too, and every record filtered by its own time.
    pub async fn about(
        &self,
        patient: Uuid,
        from: jiff::civil::Date,
        to: jiff::civil::Date,
    ) -> Result<Trail, crate::store::StoreError> {
        // Every day at once (at most 32 prefixes): a month costs one round trip's time, not 32.
        let mut days = tokio::task::JoinSet::new();
        let (mut day, last, mut n) = (from, to.tomorrow().unwrap_or(to), 0usize);
        while day <= last {
            let (reader, prefix) = (self.clone(), format!("audit/{}/", day.strftime("%Y/%m/%d")));
            days.spawn(async move { (n, reader.day(&prefix, patient, from, to).await) });
            n += 1;
            day = match day.tomorrow() {
                Ok(next) => next,
                Err(_) => break,
            };
        }
        let mut by_day: Vec<(usize, Vec<Record>)> = vec![];
        while let Some(joined) = days.join_next().await {
            let (n, records) = joined.map_err(|e| {
                crate::store::StoreError::Transient(format!("reading a day: {e}").into())
            })?;
            by_day.push((n, records?));
        }
        by_day.sort_by_key(|(n, _)| *n);
        let mut found = Trail::default();
        for record in by_day.into_iter().flat_map(|(_, records)| records) {
            if found.data.len() == MAX_RECORDS {
                found.truncated = true;
                break;
            }
            found.data.push(record);
        }
        // By time; records of the same instant keep the order they arrived in (days, objects by
        // name, lines in order).
        found.data.sort_by_key(|r| r.at);
        Ok(found)
    }

    /// The records about `patient` from `from` to `to` in the objects under `prefix` (one day).
    async fn day(
        &self,
        prefix: &str,
        patient: Uuid,
        from: jiff::civil::Date,
        to: jiff::civil::Date,
    ) -> Result<Vec<Record>, crate::store::StoreError> {
        use crate::store::StoreError;
        let failed =
            |what: &str, e: String| StoreError::Transient(format!("S3 {what}: {e}").into());
        let mut records = vec![];
        let mut token = None;
        loop {
            let page = self
                .s3
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(token)
                .send()
                .await
                .map_err(|e| failed("ListObjectsV2", e.to_string()))?;
            for object in page.contents() {
                let Some(key) = object.key() else { continue };
                let body = self
                    .s3
                    .get_object()
                    .bucket(&self.bucket)
                    .key(key)
                    .send()
                    .await
                    .map_err(|e| failed("GetObject", e.to_string()))?
                    .body
                    .collect()
                    .await
                    .map_err(|e| failed("GetObject body", e.to_string()))?
                    .into_bytes();
                for line in String::from_utf8_lossy(&body).lines() {
                    let Ok(record) = serde_json::from_str::<Record>(line) else {
                        continue;
                    };
                    let date = record.at.utc_date();
                    if record.patient_id == Some(patient) && date >= from && date <= to {
                        records.push(record);
                    }
                }
                // A day's matches beyond the answer's limit are never answered.
                if records.len() > MAX_RECORDS {
                    return Ok(records);
                }
            }
            token = page.next_continuation_token().map(str::to_owned);
            if token.is_none() {
                return Ok(records);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked() -> Request {
        Request {
            actor: Some(Uuid::from_u128(7)),
            roles: vec!["provider".into()],
            resource_id: Some("a-1".into()),
            request_id: "r-1".into(),
            source_ip: "203.0.113.9".into(),
        }
    }

    #[tokio::test]
    async fn a_request_writes_one_record_per_patient_it_touched() {
        let lines = Lines::default();
        let log = AuditLog::Local(lines.clone());
        let now: UtcTime = "2030-01-01T09:00:00Z".parse().unwrap();
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let answer = log
            .request(
                "list-appointments",
                Some(asked()),
                now,
                async {
                    touched(a);
                    touched(b);
                    touched(a);
                    "page"
                },
                |_| (200, None),
            )
            .await;
        assert_eq!(answer, "page");
        let records: Vec<Record> = lines
            .all()
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            records.iter().map(|r| r.patient_id).collect::<Vec<_>>(),
            [Some(a), Some(b)]
        );
        let first = &records[0];
        assert_eq!(
            (
                first.mark.as_str(),
                first.action.as_str(),
                first.resource_type.as_str(),
                first.outcome
            ),
            (MARK, "R", "Appointment", 200)
        );
        assert_eq!(first.resource_id.as_deref(), Some("a-1"));
    }

    #[tokio::test]
    async fn a_refusal_before_any_read_is_one_record_and_an_unaudited_function_none() {
        let lines = Lines::default();
        let log = AuditLog::Local(lines.clone());
        let now: UtcTime = "2030-01-01T09:00:00Z".parse().unwrap();
        let created = Request {
            resource_id: None,
            ..asked()
        };
        log.request("create-appointment", Some(created), now, async {}, |_| {
            (201, Some("new-1".into()))
        })
        .await;
        log.request(
            "create-slot",
            Some(asked()),
            now,
            async { touched(Uuid::nil()) },
            |_| (201, None),
        )
        .await;
        let all = lines.all();
        assert_eq!(all.len(), 1, "{all:?}");
        let r: Record = serde_json::from_str(&all[0]).unwrap();
        assert_eq!(
            (r.patient_id, r.resource_id.as_deref(), r.outcome),
            (None, Some("new-1"), 201)
        );
        assert!(audited("create-slot").is_none());
    }
}
