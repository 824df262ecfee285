//! The `publish` function's logic: table stream records become EventBridge events and SQS jobs.
//!
//! Handlers only write to the table; this is the one place that turns committed changes into side
//! effects, so an event is never lost between a commit and a publish. Records of one item arrive in
//! order; a failed record is reported as the batch's failure so that Lambda retries from it.
//! Events carry ids, times and statuses, never notes, symptoms or reasons for visit.

mod parking;
mod publisher;

pub use parking::{Parked, Replayed};
pub use publisher::Publisher;

use aws_lambda_events::event::dynamodb::EventRecord;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::config::Fees;
use crate::domain::lifecycle::status_event;
use crate::domain::reminders::{self, Offset};
use crate::domain::waitlist::{Entry, EntryStatus};
use crate::domain::{Appointment, AppointmentStatus, Slot, SlotStatus, UtcTime};
use crate::jobs::Job;
use crate::store::items::ReminderSent;
use crate::store::keys::{self, ItemKind};

/// EventBridge `source` of every event this service emits.
pub const SOURCE: &str = "appointments";

/// A side effect of one table change.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    Event {
        detail_type: &'static str,
        detail: Value,
    },
    Job(Job),
}

/// Why a record's effects did not all happen, and so what becomes of the record.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// Trying again cannot help: a record it cannot decode, a request AWS refuses as invalid or not
    /// allowed. The record is parked (`parking`) and the batch goes on.
    #[error("{0}")]
    Permanent(String),
    /// It may pass later: throttled, a server error, no answer, the retry budget spent, the deadline
    /// near. The batch stops at this record, and Lambda retries from it.
    #[error("{0}")]
    Transient(String),
}

impl PublishError {
    pub fn is_permanent(&self) -> bool {
        matches!(self, PublishError::Permanent(_))
    }

    fn record(what: &str) -> PublishError {
        PublishError::Permanent(format!("stream record cannot be read: {what}"))
    }
}

/// Error codes of EventBridge, SQS and Scheduler that say "later", whatever their HTTP status.
const TRANSIENT_CODES: [&str; 9] = [
    "ThrottlingException",
    "Throttling",
    "RequestThrottled",
    "InternalServerException",
    "InternalException",
    "InternalFailure",
    "InternalError",
    "ServiceUnavailable",
    "ConcurrentModificationException",
];

/// Sorts a failed AWS request: a server error (5xx), throttling (429 or a throttling code) or no
/// answer at all is transient; any other refusal (400 `ValidationException`, 403 `AccessDenied`, 404
/// `ResourceNotFoundException`) is permanent, as is a request the SDK could not even build.
/// https://docs.aws.amazon.com/eventbridge/latest/APIReference/CommonErrors.html
pub fn sdk_failure<E>(
    what: &str,
    e: aws_smithy_runtime_api::client::result::SdkError<E, HttpResponse>,
) -> PublishError
where
    E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    use aws_smithy_runtime_api::client::result::SdkError;
    let transient = match &e {
        SdkError::ServiceError(s) => {
            let status = s.raw().status().as_u16();
            status >= 500
                || status == 429
                || s.err().code().is_some_and(|c| TRANSIENT_CODES.contains(&c))
        }
        SdkError::ConstructionFailure(_) => false,
        _ => true,
    };
    let text = format!("{what}: {}", aws_sdk_sqs::error::DisplayErrorContext(e));
    if transient {
        PublishError::Transient(text)
    } else {
        PublishError::Permanent(text)
    }
}

type HttpResponse = aws_smithy_runtime_api::client::orchestrator::HttpResponse;

fn appointment(image_of: &serde_dynamo::Item) -> Result<Option<Appointment>, PublishError> {
    image(image_of, "appointment")
}

/// The appointment a record changed (its new image, else its old), or `None` for another item.
pub(crate) fn changed_appointment(
    record: &EventRecord,
) -> Result<Option<Appointment>, PublishError> {
    if kind(record)? != ItemKind::Appointment {
        return Ok(None);
    }
    Ok(appointment(&record.change.new_image)?.or(appointment(&record.change.old_image)?))
}

/// What kind of item a record is about, from its sort key.
fn kind(record: &EventRecord) -> Result<ItemKind, PublishError> {
    match record.change.keys.get(keys::SK) {
        Some(serde_dynamo::AttributeValue::S(sk)) => Ok(keys::kind_of(sk)),
        _ => Err(PublishError::record("no sort key")),
    }
}

/// The event name for a status an appointment has just reached.
/// What a consumer may know of an appointment: ids, times, status. Built field by field, so nothing
/// added to `Appointment` later leaks into events by default.
fn detail(event_id: Uuid, a: &Appointment) -> Value {
    json!({
        "eventId": event_id,
        "appointmentId": a.id,
        "patientId": a.patient_id,
        "providerId": a.provider_id,
        "slotId": a.slot_id,
        "startTime": a.start_time,
        "endTime": a.end_time,
        "status": a.status,
        "consultationType": a.consultation_type,
        "occurredAt": a.updated_at,
    })
}

/// An id that is the same every time this record is delivered, so consumers can deduplicate.
fn effect_id(record: &EventRecord, what: &str) -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_OID,
        format!("{}/{what}", record.event_id).as_bytes(),
    )
}

/// The side effects of one stream record. Pure: tested without AWS.
pub fn effects(record: &EventRecord) -> Result<Vec<Effect>, PublishError> {
    match kind(record)? {
        ItemKind::Appointment => {}
        ItemKind::Reminder if record.event_name == "INSERT" => return reminder_due(record),
        ItemKind::WaitlistEntry => return waitlist_effects(record),
        ItemKind::Slot => return slot_opened(record),
        _ => return Ok(vec![]),
    }
    let old = appointment(&record.change.old_image)?;
    let new = appointment(&record.change.new_image)?;
    let event = |detail_type: &'static str, a: &Appointment| Effect::Event {
        detail_type,
        detail: detail(effect_id(record, detail_type), a),
    };
    let mut out = vec![];
    match (record.event_name.as_str(), old, new) {
        ("INSERT", _, Some(new)) => match new.rescheduled_from {
            Some(from) => {
                let e = event("appointment.rescheduled", &new)
                    .with("previousAppointmentId", json!(from));
                out.push(e);
            }
            None => out.push(event("appointment.created", &new)),
        },
        ("MODIFY", Some(old), Some(new))
            if old.status != new.status && new.status != AppointmentStatus::Rescheduled =>
        {
            let e = event(status_event(new.status), &new);
            out.push(match new.status {
                AppointmentStatus::Cancelled => e.with(
                    "lateCancellation",
                    new.late_cancellation.unwrap_or(false).into(),
                ),
                AppointmentStatus::InProgress => e
                    .with("videoRoomId", json!(new.video_room_id))
                    .with("videoRoomUrl", json!(new.video_room_url)),
                _ => e,
            });
            if new.status == AppointmentStatus::Cancelled {
                out.push(seat_freed(record, &new));
                if new.is_paid {
                    out.push(payment(record, "payment.refund_requested", &new));
                }
            }
            if new.status == AppointmentStatus::Completed {
                if !new.is_paid && new.consultation_fee.is_some_and(|f| f > 0.0) {
                    out.push(payment(record, "payment.requested", &new));
                }
                if new.follow_up_required {
                    out.push(
                        event("appointment.follow_up_requested", &new)
                            .with("followUpDate", json!(new.follow_up_date)),
                    );
                }
            }
        }
        ("MODIFY", Some(old), Some(new)) => {
            let changed = changed_fields(&old, &new);
            if !changed.is_empty() {
                out.push(event("appointment.updated", &new).with("changedFields", changed.into()));
            }
            // A reschedule gives the old seat back, like a cancellation.
            if old.status != new.status && new.status == AppointmentStatus::Rescheduled {
                out.push(seat_freed(record, &new));
            }
            // Billing's answers come unordered: a payment recorded on an appointment that no longer
            // stands is given back. Once: the payment is recorded once, by one conditional write.
            let gone = matches!(
                new.status,
                AppointmentStatus::Cancelled | AppointmentStatus::Rescheduled
            );
            if gone && !old.is_paid && new.is_paid {
                out.push(payment(record, "payment.refund_requested", &new));
            }
        }
        _ => {}
    }
    Ok(out)
}

fn image<T: serde::de::DeserializeOwned>(
    image: &serde_dynamo::Item,
    what: &str,
) -> Result<Option<T>, PublishError> {
    if image.is_empty() {
        return Ok(None);
    }
    serde_dynamo::from_item(image.clone())
        .map(Some)
        .map_err(|_| PublishError::record(&format!("{what} image")))
}

/// A slot inserted open, or opened from a block: a `slot-opened` job offers its seats to the waitlist.
fn slot_opened(record: &EventRecord) -> Result<Vec<Effect>, PublishError> {
    let old: Option<Slot> = image(&record.change.old_image, "slot")?;
    let new: Option<Slot> = image(&record.change.new_image, "slot")?;
    let opened = match (&old, &new) {
        (None, Some(new)) => new.status == SlotStatus::Available,
        (Some(old), Some(new)) => {
            old.status != SlotStatus::Available && new.status == SlotStatus::Available
        }
        _ => false,
    };
    Ok(match new {
        Some(slot) if opened => vec![Effect::Job(Job::SlotOpened {
            slot_id: slot.id,
            provider_id: slot.provider_id,
            start_time: slot.start_time,
        })],
        _ => vec![],
    })
}

/// What a consumer may know of a waitlist entry: ids, its date, status and offer. Never its notes.
fn entry_detail(event_id: Uuid, e: &Entry) -> Value {
    json!({
        "eventId": event_id,
        "entryId": e.id,
        "patientId": e.patient_id,
        "providerId": e.provider_id,
        "appointmentTypeId": e.appointment_type_id,
        "preferredDate": e.preferred_date,
        "status": e.status,
        "priority": e.priority,
        "offerCount": e.offer_count,
        "occurredAt": e.updated_at,
    })
}

/// `waitlist.*` events of an entry's change, and the `slot-opened` job when a held seat comes back
/// (declined, cancelled or lapsed; an accepted offer keeps its seat).
fn waitlist_effects(record: &EventRecord) -> Result<Vec<Effect>, PublishError> {
    let old: Option<Entry> = image(&record.change.old_image, "waitlist entry")?;
    let Some(new) = image::<Entry>(&record.change.new_image, "waitlist entry")? else {
        return Ok(vec![]);
    };
    let event = |detail_type: &'static str| {
        let mut detail = entry_detail(effect_id(record, detail_type), &new);
        match new.status {
            EntryStatus::Offered => {
                detail["slotId"] = json!(new.offered_slot_id);
                detail["startTime"] = json!(new.offered_start_time);
                detail["offerExpiresAt"] = json!(new.offer_expires_at);
            }
            EntryStatus::Accepted => {
                detail["appointmentId"] = json!(new.accepted_appointment_id);
                detail["slotId"] = json!(new.offered_slot_id);
            }
            _ => {}
        }
        Effect::Event {
            detail_type,
            detail,
        }
    };
    let mut out = vec![];
    let Some(old) = old else {
        out.push(event("waitlist.joined"));
        return Ok(out);
    };
    if old.status == new.status && old.offer_count == new.offer_count {
        return Ok(out);
    }
    out.push(event(match new.status {
        EntryStatus::Waiting => "waitlist.offer_expired",
        EntryStatus::Offered => "waitlist.offered",
        EntryStatus::Accepted => "waitlist.accepted",
        EntryStatus::Declined => "waitlist.declined",
        EntryStatus::Expired => "waitlist.expired",
        EntryStatus::Cancelled => "waitlist.cancelled",
    }));
    if old.status == EntryStatus::Offered && new.status != EntryStatus::Accepted {
        if let (Some(slot_id), Some(start_time)) = (old.offered_slot_id, old.offered_start_time) {
            out.push(Effect::Job(Job::SlotOpened {
                slot_id,
                provider_id: old.provider_id,
                start_time,
            }));
        }
    }
    Ok(out)
}

/// `appointment.reminder_due` from a reminder record: ids, the start, the offset, the consultation type.
fn reminder_due(record: &EventRecord) -> Result<Vec<Effect>, PublishError> {
    let sent: ReminderSent = serde_dynamo::from_item(record.change.new_image.clone())
        .map_err(|_| PublishError::record("reminder image"))?;
    Ok(vec![Effect::Event {
        detail_type: "appointment.reminder_due",
        detail: json!({
            "eventId": effect_id(record, "appointment.reminder_due"),
            "appointmentId": sent.appointment_id,
            "patientId": sent.patient_id,
            "providerId": sent.provider_id,
            "startTime": sent.start_time,
            "offset": sent.offset,
            "consultationType": sent.consultation_type,
        }),
    }])
}

/// A change to EventBridge Scheduler that a stream record asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum ScheduleChange {
    /// A one-time schedule that sends `job` to the jobs queue at `at`.
    Create {
        name: String,
        at: UtcTime,
        job: Job,
    },
    Delete {
        name: String,
    },
    /// A job due in less than the least lead (`Plan::lead`): Scheduler invokes a one-time schedule
    /// anywhere in the minute of its `at()` time (60-second precision,
    /// https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html), and a time already
    /// past has no use as a schedule, so the job goes on the jobs queue with a delivery delay instead
    /// (SQS delays up to 900 s: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html).
    Delay {
        job: Job,
        seconds: i32,
    },
}

/// What reminders are planned with: the offsets, the least lead, and now.
#[derive(Clone, Debug)]
pub struct Plan {
    pub offsets: Vec<Offset>,
    pub lead: jiff::SignedDuration,
    pub now: UtcTime,
}

/// The schedule changes of one stream record. Pure: tested without AWS. An appointment inserted as
/// scheduled gets a reminder per offset still ahead; one that leaves scheduled or confirmed loses them
/// (deleting one that fired or never was is a success).
pub fn schedule_changes(
    record: &EventRecord,
    plan: &Plan,
) -> Result<Vec<ScheduleChange>, PublishError> {
    match kind(record)? {
        ItemKind::Appointment => {}
        ItemKind::WaitlistEntry => return offer_schedules(record, plan),
        _ => return Ok(vec![]),
    }
    let standing = |a: &Appointment| {
        matches!(
            a.status,
            AppointmentStatus::Scheduled | AppointmentStatus::Confirmed
        )
    };
    let old = appointment(&record.change.old_image)?;
    let new = appointment(&record.change.new_image)?;
    Ok(match (record.event_name.as_str(), old, new) {
        ("INSERT", _, Some(new)) if new.status == AppointmentStatus::Scheduled => {
            reminders::due(new.start_time, offsets(&new, plan), plan.now, plan.lead)
                .into_iter()
                .map(|(offset, at)| ScheduleChange::Create {
                    name: reminders::schedule_name(new.id, offset),
                    at,
                    job: Job::ReminderDue {
                        appointment_id: new.id,
                        offset,
                        start_time: new.start_time,
                    },
                })
                .collect()
        }
        ("MODIFY", Some(old), Some(new)) if standing(&old) && !standing(&new) => {
            offsets(&old, plan)
                .iter()
                .map(|o| ScheduleChange::Delete {
                    name: reminders::schedule_name(new.id, *o),
                })
                .collect()
        }
        _ => vec![],
    })
}

/// When `a`'s reminders fire: by its terms (its provider's settings when booked), else the configuration.
fn offsets<'a>(a: &'a Appointment, plan: &'a Plan) -> &'a [Offset] {
    a.terms
        .as_ref()
        .map_or(&plan.offsets[..], |t| &t.reminder_offsets[..])
}

/// An offer's expiry schedule: created when the entry is offered a seat (`offer-<entryId>-<count>`,
/// at `offerExpiresAt`, sending `offer-expired`), deleted when the offer is answered or cancelled. An
/// offer that ends within the least lead gets a delayed job instead of a schedule.
fn offer_schedules(record: &EventRecord, plan: &Plan) -> Result<Vec<ScheduleChange>, PublishError> {
    let old: Option<Entry> = image(&record.change.old_image, "waitlist entry")?;
    let new: Option<Entry> = image(&record.change.new_image, "waitlist entry")?;
    let mut out = vec![];
    let offered = |e: &Option<Entry>| {
        e.as_ref()
            .filter(|e| e.status == EntryStatus::Offered)
            .map(|e| (e.offer_count, e.offer_expires_at))
    };
    let (before, after) = (offered(&old), offered(&new));
    if before == after {
        return Ok(out);
    }
    let id = new.as_ref().or(old.as_ref()).map(|e| e.id);
    let Some(id) = id else { return Ok(out) };
    if let Some((count, _)) = before {
        out.push(ScheduleChange::Delete {
            name: offer_schedule_name(id, count),
        });
    }
    if let Some((count, Some(at))) = after {
        let job = Job::OfferExpired {
            entry_id: id,
            offer_count: count,
        };
        if at < plan.now.plus(plan.lead) {
            // One second past the end, so that the job does not arrive before it.
            let left = at.timestamp().as_second() - plan.now.timestamp().as_second() + 1;
            out.push(ScheduleChange::Delay {
                job,
                seconds: left.clamp(0, 900) as i32,
            });
        } else {
            out.push(ScheduleChange::Create {
                name: offer_schedule_name(id, count),
                at,
                job,
            });
        }
    }
    Ok(out)
}

/// `offer-<entryId>-<count>`: 6 + 36 + 1 + at most 2 characters of Scheduler's 64.
pub fn offer_schedule_name(entry: crate::domain::EntryId, count: u32) -> String {
    format!("offer-{entry}-{count}")
}

/// The fees a change asks billing for: a late cancellation's and a no-show's, by the appointment's terms
/// (else the configuration's `fees`), when not 0. Once each: the status changes once, and a redelivered
/// record carries the same `eventId`.
pub fn fee_requests(record: &EventRecord, fees: &Fees) -> Result<Vec<Effect>, PublishError> {
    if kind(record)? != ItemKind::Appointment || record.event_name != "MODIFY" {
        return Ok(vec![]);
    }
    let (Some(old), Some(new)) = (
        appointment(&record.change.old_image)?,
        appointment(&record.change.new_image)?,
    ) else {
        return Ok(vec![]);
    };
    if old.status == new.status {
        return Ok(vec![]);
    }
    let (late, no_show) = new
        .terms
        .as_ref()
        .map_or((fees.late_cancellation, fees.no_show), |t| {
            (t.late_cancellation_fee, t.no_show_fee)
        });
    let (detail_type, amount) = match new.status {
        AppointmentStatus::Cancelled if new.late_cancellation == Some(true) => {
            ("payment.cancellation_fee_requested", late)
        }
        AppointmentStatus::NoShow => ("payment.no_show_fee_requested", no_show),
        _ => return Ok(vec![]),
    };
    if amount <= 0.0 {
        return Ok(vec![]);
    }
    Ok(vec![
        payment(record, detail_type, &new).with("amount", json!(amount))
    ])
}

fn seat_freed(record: &EventRecord, a: &Appointment) -> Effect {
    Effect::Job(Job::SeatFreed {
        job_id: effect_id(record, "seat-freed"),
        slot_id: a.slot_id,
        appointment_id: a.id,
        freed_at: a.updated_at,
        provider_id: Some(a.provider_id),
        start_time: Some(a.start_time),
    })
}

/// A request to the billing service: who, for which appointment, how much. Never why.
fn payment(record: &EventRecord, detail_type: &'static str, a: &Appointment) -> Effect {
    Effect::Event {
        detail_type,
        detail: json!({
            "eventId": effect_id(record, detail_type),
            "appointmentId": a.id,
            "patientId": a.patient_id,
            "providerId": a.provider_id,
            "amount": a.consultation_fee,
            "paymentId": a.payment_id,
            "occurredAt": a.updated_at,
        }),
    }
}

impl Effect {
    /// The event with one more field in its detail. A job has no detail: it is returned as it is.
    fn with(mut self, field: &str, value: Value) -> Effect {
        if let Effect::Event { detail, .. } = &mut self {
            detail[field] = value;
        }
        self
    }
}

/// The names (never the values) of the fields that differ, but for the stamps every write moves.
fn changed_fields(old: &Appointment, new: &Appointment) -> Vec<String> {
    let (Value::Object(a), Value::Object(b)) = (json!(old), json!(new)) else {
        return vec![];
    };
    let mut names: Vec<String> = a
        .keys()
        .chain(b.keys())
        // Bookkeeping every write changes is not news.
        .filter(|k| !["updatedAt", "version"].contains(&k.as_str()) && a.get(*k) != b.get(*k))
        .cloned()
        .collect();
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(status: &str, notes: Option<&str>) -> Value {
        let mut v = json!({
            "PK": {"S": "APPT#7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"}, "SK": {"S": "APPT"},
            "id": {"S": "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"},
            "patientId": {"S": "9b7e1c2d-3f4a-4b5c-8d6e-7f8091a2b3c4"},
            "providerId": {"S": "5d0c2f54-6a0e-4a8e-9a55-1f5b7a1c3e01"},
            "slotId": {"S": "0f1e2d3c-4b5a-4968-8776-655443322110"},
            "startTime": {"S": "2031-03-04T14:00:00Z"}, "endTime": {"S": "2031-03-04T14:30:00Z"},
            "status": {"S": status}, "consultationType": {"S": "video"},
            "symptoms": {"L": [{"S": "dizziness"}]},
            "isPaid": {"BOOL": false}, "createdAt": {"S": "2026-11-24T10:00:00Z"}, "updatedAt": {"S": "2026-11-24T10:05:00Z"}
        });
        if let Some(n) = notes {
            v["notes"] = json!({"S": n});
        }
        v
    }

    fn record(name: &str, sk: &str, old: Option<Value>, new: Option<Value>) -> EventRecord {
        serde_json::from_value(json!({
            "eventID": "e1", "eventName": name, "eventVersion": "1.1", "eventSource": "aws:dynamodb", "awsRegion": "eu-west-1",
            "dynamodb": {"ApproximateCreationDateTime": 1795946400, "Keys": {"PK": {"S": "X"}, "SK": {"S": sk}},
                "NewImage": new.unwrap_or(json!({})), "OldImage": old.unwrap_or(json!({})), "SequenceNumber": "1", "SizeBytes": 1,
                "StreamViewType": "NEW_AND_OLD_IMAGES"}
        }))
        .unwrap()
    }

    fn kinds(effects: &[Effect]) -> Vec<String> {
        effects
            .iter()
            .map(|e| match e {
                Effect::Event { detail_type, .. } => detail_type.to_string(),
                Effect::Job(job) => serde_json::to_value(job).unwrap()["type"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            })
            .collect()
    }

    #[test]
    fn a_cancellation_is_an_event_and_a_seat_freed_job() {
        let r = record(
            "MODIFY",
            "APPT",
            Some(image("scheduled", None)),
            Some(image("cancelled", None)),
        );
        let effects = effects(&r).unwrap();
        assert_eq!(kinds(&effects), ["appointment.cancelled", "seat-freed"]);
        assert_eq!(
            effects,
            super::effects(&r).unwrap(),
            "a redelivered record has the same ids"
        );
    }

    #[test]
    fn status_changes_map_to_their_events() {
        for (status, event) in [
            ("confirmed", "appointment.checked_in"),
            ("in_progress", "appointment.started"),
            ("completed", "appointment.completed"),
            ("no_show", "appointment.no_show"),
        ] {
            let r = record(
                "MODIFY",
                "APPT",
                Some(image("scheduled", None)),
                Some(image(status, None)),
            );
            assert_eq!(kinds(&effects(&r).unwrap()), [event]);
        }
    }

    #[test]
    fn other_changes_name_the_fields_but_never_their_values() {
        let r = record(
            "MODIFY",
            "APPT",
            Some(image("scheduled", None)),
            Some(image("scheduled", Some("bring x-rays"))),
        );
        let effects = effects(&r).unwrap();
        let Effect::Event {
            detail_type,
            detail,
        } = &effects[0]
        else {
            panic!()
        };
        assert_eq!(*detail_type, "appointment.updated");
        assert_eq!(detail["changedFields"], json!(["notes"]));
        assert!(
            !detail.to_string().contains("x-rays") && !detail.to_string().contains("dizziness")
        );
    }

    #[test]
    fn guards_removals_and_unchanged_appointments_publish_nothing() {
        assert!(effects(&record("MODIFY", "SCHEDULE", None, None))
            .unwrap()
            .is_empty());
        assert!(effects(&record(
            "REMOVE",
            "APPT",
            Some(image("scheduled", None)),
            None
        ))
        .unwrap()
        .is_empty());
        assert!(effects(&record(
            "MODIFY",
            "APPT",
            Some(image("scheduled", None)),
            Some(image("scheduled", None))
        ))
        .unwrap()
        .is_empty());
    }

    fn slot_image(status: &str, taken: u32) -> Value {
        json!({
            "PK": {"S": "SLOT#0f1e2d3c-4b5a-4968-8776-655443322110"}, "SK": {"S": "SLOT"},
            "id": {"S": "0f1e2d3c-4b5a-4968-8776-655443322110"},
            "providerId": {"S": "5d0c2f54-6a0e-4a8e-9a55-1f5b7a1c3e01"},
            "startTime": {"S": "2031-03-04T14:00:00Z"}, "endTime": {"S": "2031-03-04T14:30:00Z"},
            "maxBookings": {"N": "2"}, "currentBookings": {"N": taken.to_string()},
            "status": {"S": status}, "notes": {"S": "the clinic's own words"},
            "createdAt": {"S": "2026-11-24T10:00:00Z"}, "updatedAt": {"S": "2026-11-24T10:05:00Z"}
        })
    }

    #[test]
    fn a_slot_that_opens_is_offered_to_the_waitlist_and_nothing_else_of_a_slot_is() {
        let opened = |old: Option<Value>, new: Value| {
            kinds(
                &effects(&record(
                    if old.is_some() { "MODIFY" } else { "INSERT" },
                    "SLOT",
                    old,
                    Some(new),
                ))
                .unwrap(),
            )
        };
        assert_eq!(opened(None, slot_image("available", 0)), ["slot-opened"]);
        assert_eq!(
            opened(Some(slot_image("blocked", 0)), slot_image("available", 0)),
            ["slot-opened"]
        );
        assert!(opened(None, slot_image("blocked", 0)).is_empty());
        assert!(opened(Some(slot_image("available", 0)), slot_image("available", 1)).is_empty());
        assert!(
            opened(Some(slot_image("available", 1)), slot_image("available", 0)).is_empty(),
            "a cancellation's seat-freed job covers it"
        );
        assert!(opened(Some(slot_image("available", 0)), slot_image("blocked", 0)).is_empty());
    }

    fn entry_image(status: &str, offers: u32) -> Value {
        let mut v = json!({
            "PK": {"S": "WAIT#3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a9f"}, "SK": {"S": "WAIT"},
            "id": {"S": "3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a9f"},
            "patientId": {"S": "9b7e1c2d-3f4a-4b5c-8d6e-7f8091a2b3c4"},
            "providerId": {"S": "5d0c2f54-6a0e-4a8e-9a55-1f5b7a1c3e01"},
            "preferredDate": {"S": "2031-03-04"}, "preferredTimeSlots": {"L": []},
            "priority": {"N": "0"}, "notes": {"S": "my knee hurts"}, "status": {"S": status},
            "offerCount": {"N": offers.to_string()}, "offeredSlots": {"L": []},
            "createdAt": {"S": "2026-11-24T10:00:00Z"}, "updatedAt": {"S": "2026-11-24T10:05:00Z"}
        });
        if status == "offered" || status == "accepted" || status == "declined" {
            v["offeredSlotId"] = json!({"S": "0f1e2d3c-4b5a-4968-8776-655443322110"});
            v["offeredStartTime"] = json!({"S": "2031-03-04T14:00:00Z"});
            v["offerExpiresAt"] = json!({"S": "2026-11-24T10:35:00Z"});
        }
        if status == "accepted" {
            v["acceptedAppointmentId"] = json!({"S": "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"});
        }
        v
    }

    #[test]
    fn an_entry_s_changes_are_waitlist_events_its_offer_a_schedule_and_a_returned_seat_a_job() {
        let plan = Plan {
            offsets: vec![],
            lead: jiff::SignedDuration::ZERO,
            now: "2026-11-24T10:05:00Z".parse().unwrap(),
        };
        let name = "offer-3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a9f-1";
        let change = |old: Option<Value>, new: Value| {
            let r = record(
                if old.is_some() { "MODIFY" } else { "INSERT" },
                "WAIT",
                old,
                Some(new),
            );
            let e = effects(&r).unwrap();
            let text = serde_json::to_string(&format!("{e:?}")).unwrap();
            assert!(!text.contains("knee"), "notes stay out of events: {text}");
            (kinds(&e), schedule_changes(&r, &plan).unwrap(), e)
        };
        let (k, s, _) = change(None, entry_image("waiting", 0));
        assert_eq!((k, s), (vec!["waitlist.joined".to_owned()], vec![]));

        let (k, s, e) = change(Some(entry_image("waiting", 0)), entry_image("offered", 1));
        assert_eq!(k, ["waitlist.offered"]);
        let Effect::Event { detail, .. } = &e[0] else {
            panic!()
        };
        assert_eq!(detail["slotId"], "0f1e2d3c-4b5a-4968-8776-655443322110");
        assert_eq!(detail["offerExpiresAt"], "2026-11-24T10:35:00Z");
        assert_eq!(
            s,
            [ScheduleChange::Create {
                name: name.into(),
                at: "2026-11-24T10:35:00Z".parse().unwrap(),
                job: Job::OfferExpired {
                    entry_id: "3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a9f".parse().unwrap(),
                    offer_count: 1
                },
            }]
        );
        // Within the least lead (or past), no schedule: a job delayed until just after the end.
        let offer = record(
            "MODIFY",
            "WAIT",
            Some(entry_image("waiting", 0)),
            Some(entry_image("offered", 1)),
        );
        let job = Job::OfferExpired {
            entry_id: "3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a9f".parse().unwrap(),
            offer_count: 1,
        };
        for (now, seconds) in [("2026-11-24T10:34:30Z", 31), ("2026-11-24T10:50:00Z", 0)] {
            let soon = Plan {
                offsets: vec![],
                lead: jiff::SignedDuration::from_secs(60),
                now: now.parse().unwrap(),
            };
            assert_eq!(
                schedule_changes(&offer, &soon).unwrap(),
                [ScheduleChange::Delay {
                    job: job.clone(),
                    seconds
                }]
            );
        }
        let delete = vec![ScheduleChange::Delete { name: name.into() }];

        let (k, s, e) = change(Some(entry_image("offered", 1)), entry_image("accepted", 1));
        assert_eq!(
            (k, &s),
            (vec!["waitlist.accepted".to_owned()], &delete),
            "the accepted seat stays taken: no job"
        );
        let Effect::Event { detail, .. } = &e[0] else {
            panic!()
        };
        assert_eq!(
            detail["appointmentId"],
            "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"
        );
        for (to, kind) in [
            ("declined", "waitlist.declined"),
            ("cancelled", "waitlist.cancelled"),
            ("expired", "waitlist.expired"),
            ("waiting", "waitlist.offer_expired"),
        ] {
            let (k, s, e) = change(Some(entry_image("offered", 1)), entry_image(to, 1));
            assert_eq!(
                (k, &s),
                (vec![kind.to_owned(), "slot-opened".to_owned()], &delete),
                "{to}"
            );
            assert_eq!(
                e[1],
                Effect::Job(Job::SlotOpened {
                    slot_id: "0f1e2d3c-4b5a-4968-8776-655443322110".parse().unwrap(),
                    provider_id: "5d0c2f54-6a0e-4a8e-9a55-1f5b7a1c3e01".parse().unwrap(),
                    start_time: "2031-03-04T14:00:00Z".parse().unwrap(),
                })
            );
        }
        let (k, s, _) = change(Some(entry_image("waiting", 0)), entry_image("cancelled", 0));
        assert_eq!((k, s), (vec!["waitlist.cancelled".to_owned()], vec![]));
    }

    #[test]
    fn a_paid_cancellation_asks_billing_for_a_refund() {
        let mut paid = image("cancelled", None);
        paid["isPaid"] = json!({"BOOL": true});
        paid["paymentId"] = json!({"S": "pay_123"});
        paid["consultationFee"] = json!({"N": "80"});
        let r = record("MODIFY", "APPT", Some(image("scheduled", None)), Some(paid));
        let effects = effects(&r).unwrap();
        assert_eq!(
            kinds(&effects),
            [
                "appointment.cancelled",
                "seat-freed",
                "payment.refund_requested"
            ]
        );
        let Effect::Event { detail, .. } = &effects[2] else {
            panic!()
        };
        assert_eq!(
            (detail["paymentId"].as_str(), detail["amount"].as_f64()),
            (Some("pay_123"), Some(80.0))
        );
    }

    #[test]
    fn a_payment_that_arrives_after_the_cancellation_is_given_back_once() {
        let mut paid = image("cancelled", None);
        paid["isPaid"] = json!({"BOOL": true});
        paid["paymentId"] = json!({"S": "pay_9"});
        paid["consultationFee"] = json!({"N": "80"});
        let late = record(
            "MODIFY",
            "APPT",
            Some(image("cancelled", None)),
            Some(paid.clone()),
        );
        let effects = effects(&late).unwrap();
        assert_eq!(
            kinds(&effects),
            ["appointment.updated", "payment.refund_requested"]
        );
        let Effect::Event { detail, .. } = &effects[1] else {
            unreachable!()
        };
        assert_eq!(detail["paymentId"], "pay_9");
        // Its refund recorded later, or a payment on an appointment that stands: nothing to give back.
        let mut refunded = paid.clone();
        refunded["isPaid"] = json!({"BOOL": false});
        let after = record("MODIFY", "APPT", Some(paid), Some(refunded));
        assert_eq!(
            kinds(&super::effects(&after).unwrap()),
            ["appointment.updated"]
        );
        let mut standing = image("scheduled", None);
        standing["isPaid"] = json!({"BOOL": true});
        let on_time = record(
            "MODIFY",
            "APPT",
            Some(image("scheduled", None)),
            Some(standing),
        );
        assert_eq!(
            kinds(&super::effects(&on_time).unwrap()),
            ["appointment.updated"]
        );
    }

    #[test]
    fn a_reschedule_is_one_rescheduled_event_and_frees_the_old_seat() {
        let mut new = image("scheduled", None);
        new["rescheduledFrom"] = json!({"S": "0f1e2d3c-4b5a-4968-8776-655443322110"});
        let inserted = effects(&record("INSERT", "APPT", None, Some(new))).unwrap();
        assert_eq!(kinds(&inserted), ["appointment.rescheduled"]);
        let Effect::Event { detail, .. } = &inserted[0] else {
            panic!()
        };
        assert_eq!(
            detail["previousAppointmentId"],
            "0f1e2d3c-4b5a-4968-8776-655443322110"
        );
        let mut old = image("rescheduled", None);
        old["rescheduledTo"] = json!({"S": "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"});
        let left = effects(&record(
            "MODIFY",
            "APPT",
            Some(image("confirmed", None)),
            Some(old),
        ))
        .unwrap();
        assert_eq!(kinds(&left), ["appointment.updated", "seat-freed"]);
    }

    #[test]
    fn a_completion_without_a_fee_or_with_payment_requests_nothing_from_billing() {
        let mut paid = image("completed", None);
        paid["isPaid"] = json!({"BOOL": true});
        paid["consultationFee"] = json!({"N": "80"});
        let r = record(
            "MODIFY",
            "APPT",
            Some(image("in_progress", None)),
            Some(paid),
        );
        assert_eq!(kinds(&effects(&r).unwrap()), ["appointment.completed"]);
        let r = record(
            "MODIFY",
            "APPT",
            Some(image("in_progress", None)),
            Some(image("completed", None)),
        );
        assert_eq!(kinds(&effects(&r).unwrap()), ["appointment.completed"]);
    }

    fn plan(now: &str) -> Plan {
        Plan {
            offsets: reminders::parse_offsets("24h,2h,30m").unwrap(),
            lead: jiff::SignedDuration::from_mins(1),
            now: now.parse().unwrap(),
        }
    }

    #[test]
    fn a_booking_schedules_the_reminders_still_ahead_and_leaving_deletes_them() {
        // The appointment starts 2031-03-04T14:00Z; three hours before, 2h and 30m are ahead.
        let inserted = record("INSERT", "APPT", None, Some(image("scheduled", None)));
        let changes = schedule_changes(&inserted, &plan("2031-03-04T11:00:00Z")).unwrap();
        let created: Vec<(String, String)> = changes
            .iter()
            .map(|c| match c {
                ScheduleChange::Create { name, at, .. } => (name.clone(), at.to_string()),
                other => panic!("{other:?}"),
            })
            .collect();
        let id = "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d";
        assert_eq!(
            created,
            [
                (
                    format!("reminder-{id}-2h"),
                    "2031-03-04T12:00:00Z".to_owned()
                ),
                (
                    format!("reminder-{id}-30m"),
                    "2031-03-04T13:30:00Z".to_owned()
                ),
            ]
        );
        let ScheduleChange::Create { job, .. } = &changes[0] else {
            unreachable!()
        };
        assert_eq!(
            serde_json::to_value(job).unwrap(),
            json!({"type": "reminder-due", "appointmentId": id, "offset": "2h", "startTime": "2031-03-04T14:00:00Z"})
        );
        for status in ["cancelled", "rescheduled", "no_show", "in_progress"] {
            let left = record(
                "MODIFY",
                "APPT",
                Some(image("confirmed", None)),
                Some(image(status, None)),
            );
            assert_eq!(
                schedule_changes(&left, &plan("2031-03-04T11:00:00Z"))
                    .unwrap()
                    .len(),
                3,
                "{status}: every offset's schedule is deleted"
            );
        }
        let checked_in = record(
            "MODIFY",
            "APPT",
            Some(image("scheduled", None)),
            Some(image("confirmed", None)),
        );
        assert!(schedule_changes(&checked_in, &plan("2031-03-04T11:00:00Z"))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn a_reminder_record_is_published_without_anything_about_health() {
        let sent = json!({
            "PK": {"S": "APPT#7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"}, "SK": {"S": "REMINDER#30m"},
            "appointmentId": {"S": "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"},
            "patientId": {"S": "9b7e1c2d-3f4a-4b5c-8d6e-7f8091a2b3c4"},
            "providerId": {"S": "5d0c2f54-6a0e-4a8e-9a55-1f5b7a1c3e01"},
            "startTime": {"S": "2031-03-04T14:00:00Z"}, "offset": {"S": "30m"},
            "consultationType": {"S": "video"}, "sentAt": {"S": "2031-03-04T13:30:01Z"}
        });
        let effects = effects(&record("INSERT", "REMINDER#30m", None, Some(sent))).unwrap();
        assert_eq!(kinds(&effects), ["appointment.reminder_due"]);
        let Effect::Event { detail, .. } = &effects[0] else {
            unreachable!()
        };
        assert_eq!(detail["offset"], "30m");
        assert_eq!(detail["consultationType"], "video");
    }

    #[test]
    fn late_cancellations_and_no_shows_ask_for_their_fees_when_configured() {
        let fees = Fees {
            late_cancellation: 15.0,
            no_show: 25.0,
        };
        let mut late = image("cancelled", None);
        late["lateCancellation"] = json!({"BOOL": true});
        let cancelled = record("MODIFY", "APPT", Some(image("scheduled", None)), Some(late));
        let asked = fee_requests(&cancelled, &fees).unwrap();
        assert_eq!(kinds(&asked), ["payment.cancellation_fee_requested"]);
        let Effect::Event { detail, .. } = &asked[0] else {
            unreachable!()
        };
        assert_eq!(detail["amount"], 15.0);
        let on_time = record(
            "MODIFY",
            "APPT",
            Some(image("scheduled", None)),
            Some(image("cancelled", None)),
        );
        assert!(fee_requests(&on_time, &fees).unwrap().is_empty());
        let missed = record(
            "MODIFY",
            "APPT",
            Some(image("confirmed", None)),
            Some(image("no_show", None)),
        );
        assert_eq!(
            kinds(&fee_requests(&missed, &fees).unwrap()),
            ["payment.no_show_fee_requested"]
        );
        assert!(fee_requests(&missed, &Fees::default()).unwrap().is_empty());
    }
}
