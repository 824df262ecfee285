//! The `publish` function's logic: table stream records become EventBridge events and SQS jobs.
//!
//! Handlers only write to the table; this is the one place that turns committed changes into side
//! effects, so an event is never lost between a commit and a publish. Records of one item arrive in
//! order; a failed record is reported as the batch's failure so that Lambda retries from it.
//! Events carry ids, times and statuses, never notes, symptoms or reasons for visit.

mod change;
mod parking;
mod publisher;

pub use change::{Change, Diff, Item};
pub use parking::{Parked, Replayed};
pub use publisher::Publisher;

use serde_json::{json, Value};
use uuid::Uuid;

use crate::config::Fees;
use crate::domain::events::{
    AppointmentFacts, DomainEvent, EntryFacts, FollowUpRequested, Payment, ReminderDue,
    Rescheduled, Updated,
};
use crate::domain::hold::{Hold, HoldStatus};
use crate::domain::reminders::{self, Offset};
use crate::domain::waitlist::{Entry, EntryStatus};
use crate::domain::{Appointment, AppointmentStatus, Slot, SlotStatus, UtcTime};
use crate::jobs::Job;
use crate::store::reminders::ReminderSent;

/// EventBridge `source` of every event this service emits.
pub const SOURCE: &str = "appointments";

/// A side effect of one table change.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    Event(DomainEvent),
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

impl crate::retry::Retry for PublishError {
    fn is_transient(&self) -> bool {
        !self.is_permanent()
    }

    /// The last transient failure (so the batch stops at this record with its cause); budget spent
    /// after attempts that each made progress otherwise.
    fn spent(spent: crate::retry::Spent, last: Option<Self>) -> Self {
        last.unwrap_or_else(|| {
            PublishError::Transient(format!(
                "{}: not done within the retry budget ({} attempts)",
                spent.what, spent.attempts
            ))
        })
    }
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

/// An id that is the same every time this record is delivered, so consumers can deduplicate.
fn effect_id(change: &Change, what: &str) -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_OID,
        format!("{}/{what}", change.event_id).as_bytes(),
    )
}

/// The side effects of one change. Pure: tested without AWS.
pub fn effects(change: &Change) -> Vec<Effect> {
    match &change.item {
        Item::Appointment(diff) => appointment_effects(change, diff),
        Item::ReminderSent(sent) => vec![reminder_due(change, sent)],
        Item::Entry(diff) => waitlist_effects(change, diff),
        Item::Slot(diff) => slot_opened(diff),
        Item::Hold(diff) => hold_effects(change, diff),
        Item::Webhook(diff) => webhook_disabled(change, diff).into_iter().collect(),
        // The directory's listings: written by the publisher itself (`Publisher::relist`).
        Item::Provider(_) | Item::Other => vec![],
    }
}

/// An event of `change`, its `eventId` derived from the change and the event's detail-type.
fn event(change: &Change, make: impl Fn(Uuid) -> DomainEvent) -> Effect {
    let detail_type = make(Uuid::nil()).detail_type();
    Effect::Event(make(effect_id(change, detail_type)))
}

fn appointment_effects(change: &Change, diff: &Diff<Appointment>) -> Vec<Effect> {
    let mut out = vec![];
    match diff {
        Diff::Inserted(new) => out.push(event(change, |id| match new.rescheduled_from {
            Some(from) => DomainEvent::AppointmentRescheduled(Rescheduled {
                appointment: AppointmentFacts::of(id, new),
                previous_appointment_id: from,
            }),
            None => DomainEvent::AppointmentCreated(AppointmentFacts::of(id, new)),
        })),
        Diff::Changed { from: old, to: new }
            if old.status != new.status && new.status != AppointmentStatus::Rescheduled =>
        {
            out.push(event(change, |id| {
                if old.status == AppointmentStatus::Pending
                    && new.status == AppointmentStatus::Scheduled
                {
                    return DomainEvent::AppointmentConfirmed(AppointmentFacts::of(id, new));
                }
                DomainEvent::status_reached(id, new).unwrap_or_else(|| {
                    DomainEvent::AppointmentUpdated(Updated {
                        appointment: AppointmentFacts::of(id, new),
                        changed_fields: changed_fields(old, new),
                    })
                })
            }));
            if new.status == AppointmentStatus::Cancelled {
                out.extend(seat_freed(change, new));
                if new.is_paid {
                    out.push(payment(change, new, DomainEvent::PaymentRefundRequested));
                }
            }
            if new.status == AppointmentStatus::Completed {
                if !new.is_paid && new.consultation_fee.is_some_and(|f| f > 0.0) {
                    out.push(payment(change, new, DomainEvent::PaymentRequested));
                }
                if new.follow_up_required {
                    // With a date, the follow-up is a waitlist entry for it, made by the worker
                    // under the id the event names.
                    let entry = new
                        .follow_up_date
                        .map(|_| crate::domain::waitlist::follow_up_entry_id(new.id));
                    out.push(event(change, |id| {
                        DomainEvent::AppointmentFollowUpRequested(FollowUpRequested {
                            appointment: AppointmentFacts::of(id, new),
                            follow_up_date: new.follow_up_date,
                            waitlist_entry_id: entry,
                        })
                    }));
                    if let Some(date) = new.follow_up_date {
                        out.push(Effect::Job(Job::FollowUp {
                            appointment_id: new.id,
                            patient_id: new.patient_id,
                            provider_id: new.provider_id,
                            appointment_type_id: new.appointment_type_id,
                            consultation_type: new.consultation_type,
                            date,
                        }));
                    }
                }
            }
        }
        Diff::Changed { from: old, to: new } => {
            let changed = changed_fields(old, new);
            if !changed.is_empty() {
                out.push(event(change, |id| {
                    DomainEvent::AppointmentUpdated(Updated {
                        appointment: AppointmentFacts::of(id, new),
                        changed_fields: changed.clone(),
                    })
                }));
            }
            // A reschedule gives the old seat back, like a cancellation.
            if old.status != new.status && new.status == AppointmentStatus::Rescheduled {
                out.extend(seat_freed(change, new));
            }
            // Billing's answers come unordered: a payment recorded on an appointment that no longer
            // stands is given back. Once: the payment is recorded once, by one conditional write.
            let gone = matches!(
                new.status,
                AppointmentStatus::Cancelled | AppointmentStatus::Rescheduled
            );
            if gone && !old.is_paid && new.is_paid {
                out.push(payment(change, new, DomainEvent::PaymentRefundRequested));
            }
        }
        Diff::Removed(_) => {}
    }
    out
}

/// A slot inserted open, or opened from a block: a `slot-opened` job offers its seats to the waitlist.
fn slot_opened(diff: &Diff<Slot>) -> Vec<Effect> {
    let opened = match diff {
        Diff::Inserted(new) => new.status == SlotStatus::Available,
        Diff::Changed { from, to } => {
            from.status != SlotStatus::Available && to.status == SlotStatus::Available
        }
        Diff::Removed(_) => false,
    };
    match diff.after() {
        Some(slot) if opened => vec![Effect::Job(Job::SlotOpened {
            slot_id: slot.id,
            provider_id: slot.provider_id,
            start_time: Some(slot.start_time),
        })],
        _ => vec![],
    }
}

/// `waitlist.*` events of an entry's change, and the `slot-opened` job when a held seat comes back
/// (declined, cancelled or lapsed; an accepted offer keeps its seat).
fn waitlist_effects(change: &Change, diff: &Diff<Entry>) -> Vec<Effect> {
    let (old, new) = match diff {
        Diff::Inserted(new) => {
            let joined = |id| DomainEvent::WaitlistJoined(EntryFacts::of(id, new));
            return vec![event(change, joined)];
        }
        Diff::Changed { from, to } => (from, to),
        Diff::Removed(_) => return vec![],
    };
    if old.status == new.status && old.offer_count == new.offer_count {
        return vec![];
    }
    let mut out = vec![event(change, |id| DomainEvent::entry_reached(id, new))];
    if old.status == EntryStatus::Offered && new.status != EntryStatus::Accepted {
        // A seat of each slot the offer held; the first's start is the offer's, the worker reads
        // the others'.
        out.extend(old.offered_seats().into_iter().map(|slot_id| {
            Effect::Job(Job::SlotOpened {
                slot_id,
                provider_id: old.provider_id,
                start_time: old
                    .offered_start_time
                    .filter(|_| Some(slot_id) == old.offered_slot_id),
            })
        }));
    }
    out
}

/// `hold.*` events of a hold's change, and a `slot-opened` job for each seat it gives back (released or
/// expired; a converted hold's seats are the appointment's).
fn hold_effects(change: &Change, diff: &Diff<Hold>) -> Vec<Effect> {
    let new = match diff {
        Diff::Inserted(new) => new,
        Diff::Changed { from, to } if from.status != to.status => to,
        Diff::Changed { .. } | Diff::Removed(_) => return vec![],
    };
    let mut out = vec![event(change, |id| DomainEvent::hold_reached(id, new))];
    if matches!(new.status, HoldStatus::Released | HoldStatus::Expired) {
        // The first slot's start is the hold's; the worker reads the others'.
        out.extend(new.seats().into_iter().map(|slot_id| {
            Effect::Job(Job::SlotOpened {
                slot_id,
                provider_id: new.provider_id,
                start_time: (slot_id == new.slot_id).then_some(new.start_time),
            })
        }));
    }
    out
}

/// `webhook.disabled` when deliveries turned an active endpoint off (a person turning it off is not
/// news: they know).
fn webhook_disabled(
    change: &Change,
    diff: &Diff<crate::domain::webhook::Webhook>,
) -> Option<Effect> {
    let Diff::Changed { from, to } = diff else {
        return None;
    };
    let reason = to.disabled_reason.filter(|_| from.active && !to.active)?;
    Some(event(change, |id| {
        DomainEvent::WebhookDisabled(crate::domain::events::WebhookFacts::of(id, to, reason))
    }))
}

/// `appointment.reminder_due` from a reminder record: ids, the start, the offset, the consultation type.
fn reminder_due(change: &Change, sent: &ReminderSent) -> Effect {
    event(change, |event_id| {
        DomainEvent::AppointmentReminderDue(ReminderDue {
            event_id,
            appointment_id: sent.appointment_id,
            patient_id: sent.patient_id,
            provider_id: sent.provider_id,
            start_time: sent.start_time,
            offset: sent.offset,
            consultation_type: sent.consultation_type,
        })
    })
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
pub fn schedule_changes(change: &Change, plan: &Plan) -> Vec<ScheduleChange> {
    let diff = match &change.item {
        Item::Appointment(diff) => diff,
        Item::Entry(diff) => return offer_schedules(diff, plan),
        Item::Hold(diff) => return hold_schedules(diff, plan),
        _ => return vec![],
    };
    let standing = |a: &Appointment| {
        matches!(
            a.status,
            AppointmentStatus::Scheduled | AppointmentStatus::Confirmed
        )
    };
    let reminders_of = |new: &Appointment| -> Vec<ScheduleChange> {
        reminders::due(new.start_time, offsets(new, plan), plan.now, plan.lead)
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
    };
    let pending = |a: &Appointment| a.status == AppointmentStatus::Pending;
    match diff {
        Diff::Inserted(new) if new.status == AppointmentStatus::Scheduled => reminders_of(new),
        // A request waits for its provider until its deadline: then it is declined.
        Diff::Inserted(new) if pending(new) => new
            .confirmation_deadline
            .map(|at| {
                let job = Job::ConfirmationDue {
                    appointment_id: new.id,
                };
                timed(confirmation_schedule_name(new.id), at, job, plan)
            })
            .into_iter()
            .collect(),
        // Answered (or withdrawn): no deadline any more; confirmed, its reminders.
        Diff::Changed { from: old, to: new } if pending(old) && !pending(new) => {
            let mut out = vec![ScheduleChange::Delete {
                name: confirmation_schedule_name(new.id),
            }];
            if new.status == AppointmentStatus::Scheduled {
                out.extend(reminders_of(new));
            }
            out
        }
        Diff::Changed { from: old, to: new } if standing(old) && !standing(new) => {
            offsets(old, plan)
                .iter()
                .map(|o| ScheduleChange::Delete {
                    name: reminders::schedule_name(new.id, *o),
                })
                .collect()
        }
        _ => vec![],
    }
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
fn offer_schedules(diff: &Diff<Entry>, plan: &Plan) -> Vec<ScheduleChange> {
    let mut out = vec![];
    let offered = |e: Option<&Entry>| {
        e.filter(|e| e.status == EntryStatus::Offered)
            .map(|e| (e.offer_count, e.offer_expires_at))
    };
    let (before, after) = (offered(diff.before()), offered(diff.after()));
    if before == after {
        return out;
    }
    let id = diff.latest().id;
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
        out.push(timed(offer_schedule_name(id, count), at, job, plan));
    }
    out
}

/// A hold's expiry schedule: created with the hold (`hold-<holdId>`, at `expiresAt`, sending
/// `hold-expired`), deleted when it ends before (booked or released). A hold that ends within the least
/// lead gets a delayed job instead.
fn hold_schedules(diff: &Diff<Hold>, plan: &Plan) -> Vec<ScheduleChange> {
    let held = |h: Option<&Hold>| h.is_some_and(|h| h.status == HoldStatus::Held);
    let (before, after) = (held(diff.before()), held(diff.after()));
    let h = diff.latest();
    match (before, after) {
        (false, true) => vec![timed(
            hold_schedule_name(h.id),
            h.expires_at,
            Job::HoldExpired { hold_id: h.id },
            plan,
        )],
        (true, false) => vec![ScheduleChange::Delete {
            name: hold_schedule_name(h.id),
        }],
        _ => vec![],
    }
}

/// `job` at `at`: a schedule named `name`, or a delayed job when `at` is within the least lead.
fn timed(name: String, at: UtcTime, job: Job, plan: &Plan) -> ScheduleChange {
    if at < plan.now.plus(plan.lead) {
        // One second past the end, so that the job does not arrive before it.
        let left = at.timestamp().as_second() - plan.now.timestamp().as_second() + 1;
        ScheduleChange::Delay {
            job,
            seconds: left.clamp(0, 900) as i32,
        }
    } else {
        ScheduleChange::Create { name, at, job }
    }
}

/// `confirm-<appointmentId>`: 8 + 36 characters of Scheduler's 64.
pub fn confirmation_schedule_name(appointment: crate::domain::AppointmentId) -> String {
    format!("confirm-{appointment}")
}

/// `hold-<holdId>`: 5 + 36 characters of Scheduler's 64.
pub fn hold_schedule_name(hold: crate::domain::HoldId) -> String {
    format!("hold-{hold}")
}

/// `offer-<entryId>-<count>`: 6 + 36 + 1 + at most 2 characters of Scheduler's 64.
pub fn offer_schedule_name(entry: crate::domain::EntryId, count: u32) -> String {
    format!("offer-{entry}-{count}")
}

/// The fees a change asks billing for: a late cancellation's and a no-show's, by the appointment's terms
/// (else the configuration's `fees`), when not 0. Once each: the status changes once, and a redelivered
/// record carries the same `eventId`.
pub fn fee_requests(change: &Change, fees: &Fees) -> Vec<Effect> {
    let Item::Appointment(Diff::Changed { from: old, to: new }) = &change.item else {
        return vec![];
    };
    if old.status == new.status {
        return vec![];
    }
    let (late, no_show) = new
        .terms
        .as_ref()
        .map_or((fees.late_cancellation, fees.no_show), |t| {
            (t.late_cancellation_fee, t.no_show_fee)
        });
    let (make, amount): (fn(Payment) -> DomainEvent, _) = match new.status {
        AppointmentStatus::Cancelled if new.late_cancellation == Some(true) => {
            (DomainEvent::PaymentCancellationFeeRequested, late)
        }
        AppointmentStatus::NoShow => (DomainEvent::PaymentNoShowFeeRequested, no_show),
        _ => return vec![],
    };
    if amount <= 0.0 {
        return vec![];
    }
    vec![event(change, |id| make(Payment::fee(id, new, amount)))]
}

fn seat_freed(change: &Change, a: &Appointment) -> Vec<Effect> {
    // A visit of several slots frees a seat of each: the first as one slot's (its start known), the
    // others' starts read by the worker.
    a.seats()
        .into_iter()
        .map(|slot| {
            let first = slot == a.slot_id;
            Effect::Job(Job::SeatFreed {
                job_id: if first {
                    effect_id(change, "seat-freed")
                } else {
                    effect_id(change, &format!("seat-freed/{slot}"))
                },
                slot_id: slot,
                appointment_id: a.id,
                freed_at: a.updated_at,
                provider_id: Some(a.provider_id),
                start_time: first.then_some(a.start_time),
            })
        })
        .collect()
}

/// A request to the billing service about `a`'s consultation fee.
fn payment(change: &Change, a: &Appointment, make: fn(Payment) -> DomainEvent) -> Effect {
    event(change, |id| make(Payment::of(id, a)))
}

/// The names (never the values) of the fields that differ, but for the stamps every write moves.
fn changed_fields(old: &Appointment, new: &Appointment) -> Vec<String> {
    let (Value::Object(a), Value::Object(b)) = (json!(old), json!(new)) else {
        return vec![];
    };
    let mut names: Vec<String> = a
        .keys()
        .chain(b.keys())
        // Bookkeeping every write changes is not news (and who wrote it is the audit trail's).
        .filter(|k| {
            !["updatedAt", "updatedBy", "version"].contains(&k.as_str()) && a.get(*k) != b.get(*k)
        })
        .cloned()
        .collect();
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::event::dynamodb::EventRecord;

    fn effects_of(r: &EventRecord) -> Result<Vec<Effect>, PublishError> {
        Ok(super::effects(&Change::decode(r)?))
    }

    fn schedule_changes(r: &EventRecord, plan: &Plan) -> Result<Vec<ScheduleChange>, PublishError> {
        Ok(super::schedule_changes(&Change::decode(r)?, plan))
    }

    fn fee_requests(r: &EventRecord, fees: &Fees) -> Result<Vec<Effect>, PublishError> {
        Ok(super::fee_requests(&Change::decode(r)?, fees))
    }

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

    #[test]
    fn an_endpoint_disabled_by_deliveries_is_news_and_one_turned_off_by_a_person_is_not() {
        let secret = crate::domain::webhook::Secret::generate().text();
        let hook = |active: bool, reason: Option<&str>| {
            let mut v = json!({
                "PK": {"S": "WEBHOOKS"}, "SK": {"S": "WEBHOOK#6c5d4e3f-2a1b-4c9d-8e7f-6a5b4c3d2e1f"},
                "id": {"S": "6c5d4e3f-2a1b-4c9d-8e7f-6a5b4c3d2e1f"},
                "url": {"S": "https://hooks.example.com/x?token=private"},
                "events": {"L": [{"S": "*"}]}, "active": {"BOOL": active},
                "consecutiveFailures": {"N": "5"}, "secret": {"S": secret},
                "createdAt": {"S": "2026-11-24T10:00:00Z"}, "updatedAt": {"S": "2026-11-24T10:05:00Z"},
                "version": {"N": "3"}
            });
            if let Some(r) = reason {
                v["disabledReason"] = json!({"S": r});
            }
            v
        };
        let sk = "WEBHOOK#6c5d4e3f-2a1b-4c9d-8e7f-6a5b4c3d2e1f";
        let disabled = record(
            "MODIFY",
            sk,
            Some(hook(true, None)),
            Some(hook(false, Some("failing"))),
        );
        let effects = effects_of(&disabled).unwrap();
        let [Effect::Event(DomainEvent::WebhookDisabled(facts))] = effects.as_slice() else {
            panic!("{effects:?}");
        };
        assert_eq!(
            facts.reason,
            crate::domain::webhook::DisabledReason::Failing
        );
        let detail = DomainEvent::WebhookDisabled(facts.clone())
            .detail()
            .to_string();
        assert!(
            !detail.contains("token") && !detail.contains("whsec_"),
            "{detail}"
        );
        for (old, new) in [
            (hook(true, None), hook(false, None)),
            (hook(false, Some("gone")), hook(false, Some("gone"))),
        ] {
            let r = record("MODIFY", sk, Some(old), Some(new));
            assert_eq!(effects_of(&r).unwrap(), vec![]);
        }
    }

    #[test]
    fn a_provider_item_is_decoded_for_the_directory_and_publishes_nothing() {
        let provider = |languages: &str| {
            json!({
                "PK": {"S": "PROVIDER#5d0c2f54-6a0e-4a8e-9a55-1f5b7a1c3e01"}, "SK": {"S": "PROFILE"},
                "providerId": {"S": "5d0c2f54-6a0e-4a8e-9a55-1f5b7a1c3e01"},
                "updatedAt": {"S": "2026-11-24T10:00:00Z"}, "profileVersion": {"N": "1"},
                "profile": {"M": {"displayName": {"S": "Dr. A"}, "languages": {"L": [{"S": languages}]},
                    "specialties": {"L": []}, "telehealthRegions": {"L": []}, "locationIds": {"L": []},
                    "appointmentTypeIds": {"L": []}, "acceptingNewPatients": {"BOOL": true}, "active": {"BOOL": true}}}
            })
        };
        let r = record(
            "MODIFY",
            "PROFILE",
            Some(provider("en")),
            Some(provider("es")),
        );
        let change = Change::decode(&r).unwrap();
        let super::Item::Provider(diff) = &change.item else {
            panic!("{change:?}");
        };
        let languages = |p: Option<&crate::store::items::ProviderProfile>| {
            p.and_then(|p| p.profile.as_ref())
                .map(|p| p.languages.clone())
        };
        assert_eq!(
            (languages(diff.before()), languages(diff.after())),
            (Some(vec!["en".to_owned()]), Some(vec!["es".to_owned()]))
        );
        assert!(effects_of(&r).unwrap().is_empty());
        // A provider item from before profiles (a zone only) decodes too: no profile, nothing listed.
        let zone_only = json!({
            "PK": {"S": "PROVIDER#5d0c2f54-6a0e-4a8e-9a55-1f5b7a1c3e01"}, "SK": {"S": "PROFILE"},
            "providerId": {"S": "5d0c2f54-6a0e-4a8e-9a55-1f5b7a1c3e01"},
            "timeZone": {"S": "Europe/Paris"}, "updatedAt": {"S": "2026-11-24T10:00:00Z"}
        });
        let r = record("INSERT", "PROFILE", None, Some(zone_only));
        assert!(effects_of(&r).unwrap().is_empty());
    }

    fn kinds(effects: &[Effect]) -> Vec<String> {
        effects
            .iter()
            .map(|e| match e {
                Effect::Event(e) => e.detail_type().to_string(),
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
        let effects = effects_of(&r).unwrap();
        assert_eq!(kinds(&effects), ["appointment.cancelled", "seat-freed"]);
        assert_eq!(
            effects,
            effects_of(&r).unwrap(),
            "a redelivered record has the same ids"
        );
    }

    #[test]
    fn a_cancelled_run_frees_a_seat_of_each_slot_once() {
        let run = json!({"L": [
            {"S": "0f1e2d3c-4b5a-4968-8776-655443322110"},
            {"S": "1f1e2d3c-4b5a-4968-8776-655443322110"},
            {"S": "2f1e2d3c-4b5a-4968-8776-655443322110"}]});
        let (mut before, mut after) = (image("scheduled", None), image("cancelled", None));
        before["slotIds"] = run.clone();
        after["slotIds"] = run;
        let r = record("MODIFY", "APPT", Some(before), Some(after));
        let effects = effects_of(&r).unwrap();
        assert_eq!(
            kinds(&effects),
            [
                "appointment.cancelled",
                "seat-freed",
                "seat-freed",
                "seat-freed"
            ]
        );
        let freed: Vec<(String, bool)> = effects
            .iter()
            .filter_map(|e| match e {
                Effect::Job(Job::SeatFreed {
                    slot_id,
                    start_time,
                    ..
                }) => Some((slot_id.to_string()[..2].to_owned(), start_time.is_some())),
                _ => None,
            })
            .collect();
        // The first slot's start is the appointment's; the others' the worker reads.
        assert_eq!(
            freed,
            [
                ("0f".into(), true),
                ("1f".into(), false),
                ("2f".into(), false)
            ]
        );
        let ids: std::collections::HashSet<_> = effects
            .iter()
            .filter_map(|e| match e {
                Effect::Job(Job::SeatFreed { job_id, .. }) => Some(*job_id),
                _ => None,
            })
            .collect();
        assert_eq!(ids.len(), 3, "a job id each, the same on every delivery");
        assert_eq!(effects, effects_of(&r).unwrap());
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
            assert_eq!(kinds(&effects_of(&r).unwrap()), [event]);
        }
    }

    #[test]
    fn a_request_waits_for_its_deadline_and_its_answer_is_its_event() {
        let plan = plan("2026-11-24T10:05:00Z");
        let mut pending = image("pending", None);
        pending["confirmationDeadline"] = json!({"S": "2026-11-25T10:05:00Z"});
        let id: crate::domain::AppointmentId =
            "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d".parse().unwrap();
        let asked = record("INSERT", "APPT", None, Some(pending.clone()));
        assert_eq!(kinds(&effects_of(&asked).unwrap()), ["appointment.created"]);
        assert_eq!(
            schedule_changes(&asked, &plan).unwrap(),
            [ScheduleChange::Create {
                name: confirmation_schedule_name(id),
                at: "2026-11-25T10:05:00Z".parse().unwrap(),
                job: Job::ConfirmationDue { appointment_id: id },
            }],
            "a request has its deadline and no reminders"
        );
        let confirmed = record(
            "MODIFY",
            "APPT",
            Some(pending.clone()),
            Some(image("scheduled", None)),
        );
        assert_eq!(
            kinds(&effects_of(&confirmed).unwrap()),
            ["appointment.confirmed"]
        );
        let changes = schedule_changes(&confirmed, &plan).unwrap();
        assert_eq!(
            changes[0],
            ScheduleChange::Delete {
                name: confirmation_schedule_name(id)
            }
        );
        assert_eq!(
            changes.len(),
            4,
            "the deadline gone, three reminders planned: {changes:?}"
        );
        let mut declined = image("cancelled", None);
        declined["declined"] = json!({"BOOL": true});
        let no = record("MODIFY", "APPT", Some(pending), Some(declined));
        assert_eq!(
            kinds(&effects_of(&no).unwrap()),
            ["appointment.declined", "seat-freed"]
        );
        assert_eq!(
            schedule_changes(&no, &plan).unwrap(),
            [ScheduleChange::Delete {
                name: confirmation_schedule_name(id)
            }]
        );
    }

    #[test]
    fn a_follow_up_with_a_date_names_its_waitlist_entry_and_asks_the_worker_for_it() {
        let mut done = image("completed", None);
        done["followUpRequired"] = json!({"BOOL": true});
        let without = record(
            "MODIFY",
            "APPT",
            Some(image("in_progress", None)),
            Some(done.clone()),
        );
        assert_eq!(
            kinds(&effects_of(&without).unwrap()),
            ["appointment.completed", "appointment.follow_up_requested"]
        );
        done["followUpDate"] = json!({"S": "2031-04-01"});
        let dated = record(
            "MODIFY",
            "APPT",
            Some(image("in_progress", None)),
            Some(done),
        );
        let effects = effects_of(&dated).unwrap();
        assert_eq!(
            kinds(&effects),
            [
                "appointment.completed",
                "appointment.follow_up_requested",
                "follow-up"
            ]
        );
        let appointment = "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d".parse().unwrap();
        let entry = crate::domain::waitlist::follow_up_entry_id(appointment);
        let Effect::Event(asked) = &effects[1] else {
            panic!()
        };
        assert_eq!(asked.detail()["waitlistEntryId"], json!(entry));
        assert_eq!(
            effects[2],
            Effect::Job(Job::FollowUp {
                appointment_id: appointment,
                patient_id: "9b7e1c2d-3f4a-4b5c-8d6e-7f8091a2b3c4".parse().unwrap(),
                provider_id: "5d0c2f54-6a0e-4a8e-9a55-1f5b7a1c3e01".parse().unwrap(),
                appointment_type_id: None,
                consultation_type: crate::domain::ConsultationType::Video,
                date: "2031-04-01".parse().unwrap(),
            })
        );
    }

    #[test]
    fn other_changes_name_the_fields_but_never_their_values() {
        let r = record(
            "MODIFY",
            "APPT",
            Some(image("scheduled", None)),
            Some(image("scheduled", Some("bring x-rays"))),
        );
        let effects = effects_of(&r).unwrap();
        let Effect::Event(event) = &effects[0] else {
            panic!()
        };
        let detail = event.detail();
        assert_eq!(event.detail_type(), "appointment.updated");
        assert_eq!(detail["changedFields"], json!(["notes"]));
        assert!(
            !detail.to_string().contains("x-rays") && !detail.to_string().contains("dizziness")
        );
    }

    #[test]
    fn guards_removals_and_unchanged_appointments_publish_nothing() {
        assert!(effects_of(&record("MODIFY", "SCHEDULE", None, None))
            .unwrap()
            .is_empty());
        assert!(effects_of(&record(
            "REMOVE",
            "APPT",
            Some(image("scheduled", None)),
            None
        ))
        .unwrap()
        .is_empty());
        assert!(effects_of(&record(
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
                &effects_of(&record(
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

    fn hold_image(status: &str) -> Value {
        let mut v = json!({
            "PK": {"S": "HOLD#5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c"}, "SK": {"S": "HOLD"},
            "id": {"S": "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c"},
            "slotId": {"S": "0f1e2d3c-4b5a-4968-8776-655443322110"},
            "patientId": {"S": "9b7e1c2d-3f4a-4b5c-8d6e-7f8091a2b3c4"},
            "providerId": {"S": "5d0c2f54-6a0e-4a8e-9a55-1f5b7a1c3e01"},
            "consultationType": {"S": "video"},
            "startTime": {"S": "2031-03-04T14:00:00Z"}, "endTime": {"S": "2031-03-04T14:30:00Z"},
            "expiresAt": {"S": "2026-11-24T10:15:00Z"}, "status": {"S": status},
            "heldBy": {"S": "9b7e1c2d-3f4a-4b5c-8d6e-7f8091a2b3c4"},
            "createdAt": {"S": "2026-11-24T10:05:00Z"}, "updatedAt": {"S": "2026-11-24T10:06:00Z"}
        });
        if status == "converted" {
            v["appointmentId"] = json!({"S": "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"});
        }
        v
    }

    #[test]
    fn a_hold_s_changes_are_hold_events_its_expiry_a_schedule_and_a_returned_seat_a_job() {
        let plan = |now: &str| Plan {
            offsets: vec![],
            lead: jiff::SignedDuration::from_secs(60),
            now: now.parse().unwrap(),
        };
        let name = "hold-5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c";
        let expired = Job::HoldExpired {
            hold_id: "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c".parse().unwrap(),
        };
        let change = |old: Option<Value>, new: Value, now: &str| {
            let r = record(
                if old.is_some() { "MODIFY" } else { "INSERT" },
                "HOLD",
                old,
                Some(new),
            );
            let e = effects_of(&r).unwrap();
            (kinds(&e), schedule_changes(&r, &plan(now)).unwrap(), e)
        };
        let (k, s, _) = change(None, hold_image("held"), "2026-11-24T10:05:00Z");
        assert_eq!(k, ["hold.created"]);
        assert_eq!(
            s,
            [ScheduleChange::Create {
                name: name.into(),
                at: "2026-11-24T10:15:00Z".parse().unwrap(),
                job: expired.clone(),
            }]
        );
        // Published within the least lead of its end: a job delayed until a second past it.
        let (_, s, _) = change(None, hold_image("held"), "2026-11-24T10:14:30Z");
        assert_eq!(
            s,
            [ScheduleChange::Delay {
                job: expired,
                seconds: 31
            }]
        );
        let delete = vec![ScheduleChange::Delete { name: name.into() }];
        for (to, event, seat_back) in [
            ("released", "hold.released", true),
            ("expired", "hold.expired", true),
            ("converted", "hold.converted", false),
        ] {
            let (k, s, e) = change(
                Some(hold_image("held")),
                hold_image(to),
                "2026-11-24T10:06:00Z",
            );
            let want: &[&str] = if seat_back {
                &[event, "slot-opened"] // the seat came back: offered to the waitlist
            } else {
                &[event]
            };
            assert_eq!(k, want, "{to}");
            assert_eq!(s, delete, "{to}");
            assert!(e.len() == want.len());
        }
        // A hold of a run gives a seat of each of its slots back; the worker reads the later starts.
        let run = |status: &str| {
            let mut v = hold_image(status);
            v["slotIds"] = json!({"L": [
                {"S": "0f1e2d3c-4b5a-4968-8776-655443322110"},
                {"S": "1f1e2d3c-4b5a-4968-8776-655443322110"}
            ]});
            v["endTime"] = json!({"S": "2031-03-04T15:00:00Z"});
            v
        };
        let (k, _, e) = change(Some(run("held")), run("released"), "2026-11-24T10:06:00Z");
        assert_eq!(k, ["hold.released", "slot-opened", "slot-opened"]);
        let provider_id: crate::domain::ProviderId =
            "5d0c2f54-6a0e-4a8e-9a55-1f5b7a1c3e01".parse().unwrap();
        assert_eq!(
            e[1..],
            [
                Effect::Job(Job::SlotOpened {
                    slot_id: "0f1e2d3c-4b5a-4968-8776-655443322110".parse().unwrap(),
                    provider_id,
                    start_time: Some("2031-03-04T14:00:00Z".parse().unwrap()),
                }),
                Effect::Job(Job::SlotOpened {
                    slot_id: "1f1e2d3c-4b5a-4968-8776-655443322110".parse().unwrap(),
                    provider_id,
                    start_time: None,
                }),
            ]
        );
        // A change that is not a change of status is no news.
        let (k, s, e) = change(
            Some(hold_image("expired")),
            hold_image("expired"),
            "2026-11-24T10:20:00Z",
        );
        assert!(k.is_empty() && s.is_empty() && e.is_empty());
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
            let e = effects_of(&r).unwrap();
            let text = serde_json::to_string(&format!("{e:?}")).unwrap();
            assert!(!text.contains("knee"), "notes stay out of events: {text}");
            (kinds(&e), schedule_changes(&r, &plan).unwrap(), e)
        };
        let (k, s, _) = change(None, entry_image("waiting", 0));
        assert_eq!((k, s), (vec!["waitlist.joined".to_owned()], vec![]));

        let (k, s, e) = change(Some(entry_image("waiting", 0)), entry_image("offered", 1));
        assert_eq!(k, ["waitlist.offered"]);
        let Effect::Event(event) = &e[0] else {
            panic!()
        };
        let detail = event.detail();
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
        let Effect::Event(event) = &e[0] else {
            panic!()
        };
        let detail = event.detail();
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
                    start_time: Some("2031-03-04T14:00:00Z".parse().unwrap()),
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
        let effects = effects_of(&r).unwrap();
        assert_eq!(
            kinds(&effects),
            [
                "appointment.cancelled",
                "seat-freed",
                "payment.refund_requested"
            ]
        );
        let Effect::Event(event) = &effects[2] else {
            panic!()
        };
        let detail = event.detail();
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
        let effects = effects_of(&late).unwrap();
        assert_eq!(
            kinds(&effects),
            ["appointment.updated", "payment.refund_requested"]
        );
        let Effect::Event(event) = &effects[1] else {
            unreachable!()
        };
        let detail = event.detail();
        assert_eq!(detail["paymentId"], "pay_9");
        // Its refund recorded later, or a payment on an appointment that stands: nothing to give back.
        let mut refunded = paid.clone();
        refunded["isPaid"] = json!({"BOOL": false});
        let after = record("MODIFY", "APPT", Some(paid), Some(refunded));
        assert_eq!(kinds(&effects_of(&after).unwrap()), ["appointment.updated"]);
        let mut standing = image("scheduled", None);
        standing["isPaid"] = json!({"BOOL": true});
        let on_time = record(
            "MODIFY",
            "APPT",
            Some(image("scheduled", None)),
            Some(standing),
        );
        assert_eq!(
            kinds(&effects_of(&on_time).unwrap()),
            ["appointment.updated"]
        );
    }

    #[test]
    fn a_reschedule_is_one_rescheduled_event_and_frees_the_old_seat() {
        let mut new = image("scheduled", None);
        new["rescheduledFrom"] = json!({"S": "0f1e2d3c-4b5a-4968-8776-655443322110"});
        let inserted = effects_of(&record("INSERT", "APPT", None, Some(new))).unwrap();
        assert_eq!(kinds(&inserted), ["appointment.rescheduled"]);
        let Effect::Event(event) = &inserted[0] else {
            panic!()
        };
        let detail = event.detail();
        assert_eq!(
            detail["previousAppointmentId"],
            "0f1e2d3c-4b5a-4968-8776-655443322110"
        );
        let mut old = image("rescheduled", None);
        old["rescheduledTo"] = json!({"S": "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"});
        let left = effects_of(&record(
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
        assert_eq!(kinds(&effects_of(&r).unwrap()), ["appointment.completed"]);
        let r = record(
            "MODIFY",
            "APPT",
            Some(image("in_progress", None)),
            Some(image("completed", None)),
        );
        assert_eq!(kinds(&effects_of(&r).unwrap()), ["appointment.completed"]);
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
        let effects = effects_of(&record("INSERT", "REMINDER#30m", None, Some(sent))).unwrap();
        assert_eq!(kinds(&effects), ["appointment.reminder_due"]);
        let Effect::Event(event) = &effects[0] else {
            unreachable!()
        };
        let detail = event.detail();
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
        let Effect::Event(event) = &asked[0] else {
            unreachable!()
        };
        let detail = event.detail();
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
