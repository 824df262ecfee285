//! The domain events this service puts on EventBridge (source `appointments`): one closed enum, one
//! payload struct per shape, the `detail-type` from one exhaustive match. The stream builds them from
//! table changes (`stream::effects`); `docs/events.md` is generated from this file (`catalogue`), and a
//! test keeps it current.
//!
//! A payload is built field by field from ids, times, statuses and amounts, so nothing added to an
//! appointment or an entry later (notes, vitals, symptoms, reasons, names) reaches an event by default.

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::hold::{Hold, HoldStatus};
use super::reminders::Offset;
use super::waitlist::{Entry, EntryStatus};
use super::webhook::{DisabledReason, Webhook};
use super::{
    Appointment, AppointmentId, AppointmentStatus, ConsultationType, Day, EntryId, HoldId,
    PatientId, ProviderId, SlotId, UtcTime,
};

/// What every appointment event carries.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppointmentFacts {
    /// The same for every delivery of one change: consumers deduplicate by it.
    pub event_id: Uuid,
    pub appointment_id: AppointmentId,
    pub patient_id: PatientId,
    pub provider_id: ProviderId,
    pub slot_id: SlotId,
    /// A visit longer than one slot: every slot of its run (the first is `slotId`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub slot_ids: Vec<SlotId>,
    pub start_time: UtcTime,
    pub end_time: UtcTime,
    pub status: AppointmentStatus,
    pub consultation_type: ConsultationType,
    pub occurred_at: UtcTime,
    /// `appointment.created`, `.rescheduled` and `.confirmed`: the patient's manage link (see, cancel
    /// or move this visit without signing in, under the patient's rules; it dies when the visit is
    /// cancelled or moved, and at its end). A credential: forward it to the patient only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manage_url: Option<String>,
}

impl AppointmentFacts {
    pub fn of(event_id: Uuid, a: &Appointment) -> AppointmentFacts {
        AppointmentFacts {
            event_id,
            appointment_id: a.id,
            patient_id: a.patient_id,
            provider_id: a.provider_id,
            slot_id: a.slot_id,
            slot_ids: a.slot_ids.clone(),
            start_time: a.start_time,
            end_time: a.end_time,
            status: a.status,
            consultation_type: a.consultation_type,
            occurred_at: a.updated_at,
            manage_url: None,
        }
    }
}

/// What `webhook.disabled` carries: the endpoint's id and why, never its URL (a URL may hold a token).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookFacts {
    pub event_id: Uuid,
    pub webhook_id: Uuid,
    pub reason: DisabledReason,
    /// Deliveries in a row whose every attempt failed.
    pub consecutive_failures: u32,
    pub occurred_at: UtcTime,
}

impl WebhookFacts {
    pub fn of(event_id: Uuid, w: &Webhook, reason: DisabledReason) -> WebhookFacts {
        WebhookFacts {
            event_id,
            webhook_id: w.id,
            reason,
            consecutive_failures: w.consecutive_failures,
            occurred_at: w.updated_at,
        }
    }
}

/// What every hold event carries: ids and times only.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HoldFacts {
    pub event_id: Uuid,
    pub hold_id: HoldId,
    pub slot_id: SlotId,
    /// A hold of a visit longer than one slot: every slot of its run (the first is `slotId`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub slot_ids: Vec<SlotId>,
    pub patient_id: PatientId,
    pub provider_id: ProviderId,
    pub start_time: UtcTime,
    pub end_time: UtcTime,
    pub expires_at: UtcTime,
    pub status: HoldStatus,
    /// The appointment a `converted` hold became.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub appointment_id: Option<AppointmentId>,
    pub occurred_at: UtcTime,
}

impl HoldFacts {
    pub fn of(event_id: Uuid, h: &Hold) -> HoldFacts {
        HoldFacts {
            event_id,
            hold_id: h.id,
            slot_id: h.slot_id,
            slot_ids: h.slot_ids.clone(),
            patient_id: h.patient_id,
            provider_id: h.provider_id,
            start_time: h.start_time,
            end_time: h.end_time,
            expires_at: h.expires_at,
            status: h.status,
            appointment_id: h.appointment_id,
            occurred_at: h.updated_at,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rescheduled {
    #[serde(flatten)]
    pub appointment: AppointmentFacts,
    pub previous_appointment_id: AppointmentId,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Started {
    #[serde(flatten)]
    pub appointment: AppointmentFacts,
    pub video_room_id: Option<String>,
    pub video_room_url: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cancelled {
    #[serde(flatten)]
    pub appointment: AppointmentFacts,
    /// Inside the provider's cancellation window.
    pub late_cancellation: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Updated {
    #[serde(flatten)]
    pub appointment: AppointmentFacts,
    /// The names of the fields that changed, never their values.
    pub changed_fields: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FollowUpRequested {
    #[serde(flatten)]
    pub appointment: AppointmentFacts,
    pub follow_up_date: Option<jiff::civil::Date>,
    /// With a date: the waitlist entry the follow-up becomes (the patient first in line for that
    /// date), made by the worker under this id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waitlist_entry_id: Option<EntryId>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReminderDue {
    pub event_id: Uuid,
    pub appointment_id: AppointmentId,
    pub patient_id: PatientId,
    pub provider_id: ProviderId,
    pub start_time: UtcTime,
    pub offset: Offset,
    pub consultation_type: ConsultationType,
}

/// What every waitlist event carries: ids, the date, status, priority and offer count; never notes.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryFacts {
    pub event_id: Uuid,
    pub entry_id: EntryId,
    pub patient_id: PatientId,
    pub provider_id: ProviderId,
    pub appointment_type_id: Option<Uuid>,
    pub preferred_date: Day,
    pub status: EntryStatus,
    pub priority: u8,
    pub offer_count: u32,
    pub occurred_at: UtcTime,
}

impl EntryFacts {
    pub fn of(event_id: Uuid, e: &Entry) -> EntryFacts {
        EntryFacts {
            event_id,
            entry_id: e.id,
            patient_id: e.patient_id,
            provider_id: e.provider_id,
            appointment_type_id: e.appointment_type_id,
            preferred_date: e.preferred_date,
            status: e.status,
            priority: e.priority,
            offer_count: e.offer_count,
            occurred_at: e.updated_at,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Offered {
    #[serde(flatten)]
    pub entry: EntryFacts,
    pub slot_id: Option<SlotId>,
    pub start_time: Option<UtcTime>,
    pub offer_expires_at: Option<UtcTime>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Accepted {
    #[serde(flatten)]
    pub entry: EntryFacts,
    pub appointment_id: Option<AppointmentId>,
    pub slot_id: Option<SlotId>,
}

/// A request to the billing service: who, for which appointment, how much. Never why.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    pub event_id: Uuid,
    pub appointment_id: AppointmentId,
    pub patient_id: PatientId,
    pub provider_id: ProviderId,
    pub amount: Option<f64>,
    pub payment_id: Option<String>,
    pub occurred_at: UtcTime,
}

impl Payment {
    /// The appointment's fee (`consultationFee`) and its payment.
    pub fn of(event_id: Uuid, a: &Appointment) -> Payment {
        Payment {
            event_id,
            appointment_id: a.id,
            patient_id: a.patient_id,
            provider_id: a.provider_id,
            amount: a.consultation_fee,
            payment_id: a.payment_id.clone(),
            occurred_at: a.updated_at,
        }
    }

    /// A fee other than the consultation's (a late cancellation's, a no-show's).
    pub fn fee(event_id: Uuid, a: &Appointment, amount: f64) -> Payment {
        Payment {
            amount: Some(amount),
            ..Payment::of(event_id, a)
        }
    }
}

/// Declares the events once: the enum, its `detail-type`s, when each fires, and an example of each.
macro_rules! events {
    ($($(#[doc = $when:literal])+ $variant:ident($payload:ident) = $name:literal,)+) => {
        /// Every event this service emits.
        #[derive(Clone, Debug, PartialEq)]
        pub enum DomainEvent {
            $($(#[doc = $when])+ $variant($payload),)+
        }

        impl DomainEvent {
            /// EventBridge's `detail-type`.
            pub fn detail_type(&self) -> &'static str {
                match self {
                    $(DomainEvent::$variant(_) => $name,)+
                }
            }

            /// When it fires, in words (the catalogue's).
            #[cfg(test)]
            pub fn when(&self) -> String {
                match self {
                    $(DomainEvent::$variant(_) => {
                        [$($when),+].iter().map(|l| l.trim()).collect::<Vec<_>>().join(" ")
                    })+
                }
            }

            /// EventBridge's `detail`.
            pub fn detail(&self) -> Value {
                // Serializing a struct of ids, times, strings and numbers cannot fail.
                match self {
                    $(DomainEvent::$variant(p) => serde_json::to_value(p),)+
                }
                .unwrap_or(Value::Null)
            }

            /// One of each, in the order declared.
            #[cfg(test)]
            pub fn examples() -> Vec<DomainEvent> {
                vec![$(DomainEvent::$variant(<$payload as examples::Example>::example($name)),)+]
            }
        }
    };
}

events! {
    /// An appointment is booked (by a patient, staff, a series or an accepted waitlist offer).
    AppointmentCreated(AppointmentFacts) = "appointment.created",
    /// A replacement appointment is booked by a reschedule; the old one becomes `rescheduled`.
    AppointmentRescheduled(Rescheduled) = "appointment.rescheduled",
    /// The provider confirmed a request (`pending` became `scheduled`): reminders are planned now.
    AppointmentConfirmed(AppointmentFacts) = "appointment.confirmed",
    /// The provider declined a request, or nobody answered it by its deadline: it is `cancelled`
    /// (`declined`), never late, and its seat is free again.
    AppointmentDeclined(AppointmentFacts) = "appointment.declined",
    /// The patient checked in: the appointment is `confirmed`.
    AppointmentCheckedIn(AppointmentFacts) = "appointment.checked_in",
    /// The consultation started (`in_progress`), with the video room of a video visit.
    AppointmentStarted(Started) = "appointment.started",
    /// The consultation ended (`completed`).
    AppointmentCompleted(AppointmentFacts) = "appointment.completed",
    /// The patient did not come (`no_show`), marked after the end.
    AppointmentNoShow(AppointmentFacts) = "appointment.no_show",
    /// The appointment was cancelled; `lateCancellation` when inside the cancellation window.
    AppointmentCancelled(Cancelled) = "appointment.cancelled",
    /// Anything else changed (notes, type, payment, the old side of a reschedule): the names of the
    /// fields, never their values.
    AppointmentUpdated(Updated) = "appointment.updated",
    /// A completed appointment asks for a follow-up; with a date, `waitlistEntryId` names the waitlist
    /// entry for that date it becomes.
    AppointmentFollowUpRequested(FollowUpRequested) = "appointment.follow_up_requested",
    /// A reminder's time came (its Scheduler schedule fired and the worker recorded it once).
    AppointmentReminderDue(ReminderDue) = "appointment.reminder_due",
    /// A patient joined a provider's waitlist.
    WaitlistJoined(EntryFacts) = "waitlist.joined",
    /// A freed seat is held for the entry until `offerExpiresAt`.
    WaitlistOffered(Offered) = "waitlist.offered",
    /// The patient accepted the offer: it is booked as the appointment named.
    WaitlistAccepted(Accepted) = "waitlist.accepted",
    /// The patient declined the offer; the seat goes to the next entry.
    WaitlistDeclined(EntryFacts) = "waitlist.declined",
    /// An offer lapsed unanswered and the entry waits again.
    WaitlistOfferExpired(EntryFacts) = "waitlist.offer_expired",
    /// An offer lapsed unanswered for the `MaxOffers`th time: the entry waits no more.
    WaitlistExpired(EntryFacts) = "waitlist.expired",
    /// The patient (or staff) left the waitlist.
    WaitlistCancelled(EntryFacts) = "waitlist.cancelled",
    /// A seat is held for a patient until `expiresAt` (`POST /holds`).
    HoldCreated(HoldFacts) = "hold.created",
    /// A hold was released before its end: its seat is free again (and offered to the waitlist).
    HoldReleased(HoldFacts) = "hold.released",
    /// A hold ran out unbooked: its seat is free again (and offered to the waitlist).
    HoldExpired(HoldFacts) = "hold.expired",
    /// A hold was booked: `appointmentId` names the appointment, which kept the seat.
    HoldConverted(HoldFacts) = "hold.converted",
    /// A completed appointment with a fee is unpaid: billing is asked to charge `amount`.
    PaymentRequested(Payment) = "payment.requested",
    /// A paid appointment was cancelled, or a payment arrived for one already cancelled or moved:
    /// billing is asked to refund it, once.
    PaymentRefundRequested(Payment) = "payment.refund_requested",
    /// A late cancellation's fee (the provider's terms), when not 0.
    PaymentCancellationFeeRequested(Payment) = "payment.cancellation_fee_requested",
    /// A no-show's fee (the provider's terms), when not 0.
    PaymentNoShowFeeRequested(Payment) = "payment.no_show_fee_requested",
    /// Deliveries disabled a webhook endpoint: it answered 410 Gone (`reason: gone`), or its
    /// `WebhookDisableAfter`th delivery in a row failed every attempt (`failing`). `PATCH` with
    /// `active: true` turns it on again.
    WebhookDisabled(WebhookFacts) = "webhook.disabled",
}

impl DomainEvent {
    /// The event of an appointment reaching `status` by a status change, or `None` where the change
    /// is not news of its own (back to scheduled, or rescheduled: the replacement's insert tells it).
    pub fn status_reached(event_id: Uuid, a: &Appointment) -> Option<DomainEvent> {
        let facts = AppointmentFacts::of(event_id, a);
        Some(match a.status {
            AppointmentStatus::Confirmed => DomainEvent::AppointmentCheckedIn(facts),
            AppointmentStatus::InProgress => DomainEvent::AppointmentStarted(Started {
                appointment: facts,
                video_room_id: a.video_room_id.clone(),
                video_room_url: a.video_room_url.clone(),
            }),
            AppointmentStatus::Completed => DomainEvent::AppointmentCompleted(facts),
            AppointmentStatus::NoShow => DomainEvent::AppointmentNoShow(facts),
            AppointmentStatus::Cancelled if a.declined => DomainEvent::AppointmentDeclined(facts),
            AppointmentStatus::Cancelled => DomainEvent::AppointmentCancelled(Cancelled {
                appointment: facts,
                late_cancellation: a.late_cancellation.unwrap_or(false),
            }),
            // Requested: the created event tells it; confirmed: `appointment.confirmed`, from the
            // change (`stream`), which knows it was pending.
            AppointmentStatus::Pending
            | AppointmentStatus::Scheduled
            | AppointmentStatus::Rescheduled => return None,
        })
    }

    /// The facts that carry a manage link: those of a booking, a move and a confirmation.
    pub fn manageable(&mut self) -> Option<&mut AppointmentFacts> {
        match self {
            DomainEvent::AppointmentCreated(f) | DomainEvent::AppointmentConfirmed(f) => Some(f),
            DomainEvent::AppointmentRescheduled(r) => Some(&mut r.appointment),
            _ => None,
        }
    }

    /// The event of a hold reaching `h`'s status.
    pub fn hold_reached(event_id: Uuid, h: &Hold) -> DomainEvent {
        let facts = HoldFacts::of(event_id, h);
        match h.status {
            HoldStatus::Held => DomainEvent::HoldCreated(facts),
            HoldStatus::Released => DomainEvent::HoldReleased(facts),
            HoldStatus::Expired => DomainEvent::HoldExpired(facts),
            HoldStatus::Converted => DomainEvent::HoldConverted(facts),
        }
    }

    /// The event of a waitlist entry's change to `e`'s status (its offer count moved, or its status).
    pub fn entry_reached(event_id: Uuid, e: &Entry) -> DomainEvent {
        let entry = EntryFacts::of(event_id, e);
        match e.status {
            EntryStatus::Waiting => DomainEvent::WaitlistOfferExpired(entry),
            EntryStatus::Offered => DomainEvent::WaitlistOffered(Offered {
                entry,
                slot_id: e.offered_slot_id,
                start_time: e.offered_start_time,
                offer_expires_at: e.offer_expires_at,
            }),
            EntryStatus::Accepted => DomainEvent::WaitlistAccepted(Accepted {
                entry,
                appointment_id: e.accepted_appointment_id,
                slot_id: e.offered_slot_id,
            }),
            EntryStatus::Declined => DomainEvent::WaitlistDeclined(entry),
            EntryStatus::Expired => DomainEvent::WaitlistExpired(entry),
            EntryStatus::Cancelled => DomainEvent::WaitlistCancelled(entry),
        }
    }
}

#[cfg(test)]
mod examples {
    //! One example of each payload, and the catalogue generated from them.
    use super::*;

    /// The catalogue of events (`docs/events.md`), generated from [`DomainEvent::examples`].
    pub(super) fn catalogue() -> String {
        let mut out = String::from(
            "# Events\n\n\
             <!-- Generated from shared/src/domain/events.rs by \
             `UPDATE_EVENTS=1 cargo test -p shared --lib catalogue`; a test fails when it drifts. -->\n\n\
             Every event goes to the EventBridge bus with source `appointments`, one per change, published \
             from the table's stream after the change commits. Delivery is at least once and unordered: a \
             change delivered twice carries the same `eventId`, so deduplicate by it; order by \
             `occurredAt`. A detail carries ids, times, statuses and amounts, never notes, vitals, \
             symptoms, reasons for visit or names. An appointment's (and a hold's) events for a visit longer \
             than one slot also carry `slotIds`, every slot of its run (the first is `slotId`).\n\n\
             | detail-type | when it fires | fields |\n|---|---|---|\n",
        );
        let examples = DomainEvent::examples();
        for e in &examples {
            let fields = match e.detail() {
                Value::Object(m) => m.keys().map(|k| format!("`{k}`")).collect::<Vec<_>>(),
                _ => vec![],
            };
            out += &format!(
                "| `{}` | {} | {} |\n",
                e.detail_type(),
                e.when(),
                fields.join(", ")
            );
        }
        out += "\n## Examples\n";
        for e in &examples {
            let detail = serde_json::to_string_pretty(&e.detail()).unwrap_or_default();
            out += &format!("\n### `{}`\n\n```json\n{detail}\n```\n", e.detail_type());
        }
        out
    }

    /// A payload with example values, for the catalogue.
    pub(super) trait Example {
        fn example(detail_type: &str) -> Self;
    }

    fn example_id(n: u128) -> Uuid {
        Uuid::from_u128(0x7a6b5c4d_3e2f_4a1b_9c8d_7e6f5a4b3c00 + n)
    }

    fn example_time(s: &str) -> UtcTime {
        s.parse().expect("an example time")
    }

    pub(super) fn example_appointment(detail_type: &str) -> Appointment {
        let status = match detail_type {
            "appointment.checked_in" => AppointmentStatus::Confirmed,
            "appointment.started" => AppointmentStatus::InProgress,
            "appointment.completed" | "appointment.follow_up_requested" | "payment.requested" => {
                AppointmentStatus::Completed
            }
            "appointment.no_show" | "payment.no_show_fee_requested" => AppointmentStatus::NoShow,
            "appointment.confirmed" => AppointmentStatus::Scheduled,
            "appointment.cancelled"
            | "appointment.declined"
            | "payment.refund_requested"
            | "payment.cancellation_fee_requested" => AppointmentStatus::Cancelled,
            _ => AppointmentStatus::Scheduled,
        };
        let mut a = Appointment::scheduled(
            AppointmentId::from_uuid(example_id(1)),
            PatientId::from_uuid(example_id(2)),
            ProviderId::from_uuid(example_id(3)),
            SlotId::from_uuid(example_id(4)),
            example_time("2031-03-04T14:00:00Z"),
            example_time("2031-03-04T14:30:00Z"),
            ConsultationType::Video,
            example_time("2031-03-01T09:15:00Z"),
        );
        a.status = status;
        a.declined = detail_type == "appointment.declined";
        a.consultation_fee = Some(80.0);
        a.payment_id = detail_type
            .starts_with("payment.refund")
            .then(|| "pay_123".to_string());
        a
    }

    fn example_event_id(detail_type: &str) -> Uuid {
        Uuid::new_v5(&Uuid::NAMESPACE_OID, detail_type.as_bytes())
    }

    impl Example for AppointmentFacts {
        fn example(t: &str) -> Self {
            let mut facts = AppointmentFacts::of(example_event_id(t), &example_appointment(t));
            if matches!(
                t,
                "appointment.created" | "appointment.rescheduled" | "appointment.confirmed"
            ) {
                facts.manage_url = Some("https://api.clinic.example/manage/AQzK1w...".into());
            }
            facts
        }
    }

    impl Example for Rescheduled {
        fn example(t: &str) -> Self {
            Rescheduled {
                appointment: AppointmentFacts::example(t),
                previous_appointment_id: AppointmentId::from_uuid(example_id(5)),
            }
        }
    }

    impl Example for Started {
        fn example(t: &str) -> Self {
            Started {
                appointment: AppointmentFacts::example(t),
                video_room_id: Some("room-7a6b5c4d".into()),
                video_room_url: Some("https://video.example.org/room-7a6b5c4d".into()),
            }
        }
    }

    impl Example for Cancelled {
        fn example(t: &str) -> Self {
            Cancelled {
                appointment: AppointmentFacts::example(t),
                late_cancellation: false,
            }
        }
    }

    impl Example for Updated {
        fn example(t: &str) -> Self {
            Updated {
                appointment: AppointmentFacts::example(t),
                changed_fields: vec!["consultationType".into(), "notes".into()],
            }
        }
    }

    impl Example for FollowUpRequested {
        fn example(t: &str) -> Self {
            FollowUpRequested {
                appointment: AppointmentFacts::example(t),
                follow_up_date: "2031-04-01".parse().ok(),
                waitlist_entry_id: Some(crate::domain::waitlist::follow_up_entry_id(
                    AppointmentId::from_uuid(example_id(1)),
                )),
            }
        }
    }

    impl Example for ReminderDue {
        fn example(t: &str) -> Self {
            let a = example_appointment(t);
            ReminderDue {
                event_id: example_event_id(t),
                appointment_id: a.id,
                patient_id: a.patient_id,
                provider_id: a.provider_id,
                start_time: a.start_time,
                offset: "30m".parse().expect("an example offset"),
                consultation_type: a.consultation_type,
            }
        }
    }

    pub(super) fn example_entry(t: &str) -> Entry {
        let mut e = Entry::waiting(
            PatientId::from_uuid(example_id(2)),
            ProviderId::from_uuid(example_id(3)),
            "2031-03-04".parse().expect("an example day"),
            example_time("2031-03-01T09:15:00Z"),
        );
        e.id = EntryId::from_uuid(example_id(6));
        let offered = t != "waitlist.joined";
        if offered {
            e.offer_count = 1;
            e.offered_slot_id = Some(SlotId::from_uuid(example_id(4)));
            e.offered_start_time = Some(example_time("2031-03-04T14:00:00Z"));
            e.offer_expires_at = Some(example_time("2031-03-01T09:45:00Z"));
        }
        e.status = match t {
            "waitlist.offered" => EntryStatus::Offered,
            "waitlist.accepted" => EntryStatus::Accepted,
            "waitlist.declined" => EntryStatus::Declined,
            "waitlist.expired" => EntryStatus::Expired,
            "waitlist.cancelled" => EntryStatus::Cancelled,
            _ => EntryStatus::Waiting,
        };
        if e.status == EntryStatus::Accepted {
            e.accepted_appointment_id = Some(AppointmentId::from_uuid(example_id(1)));
        }
        e
    }

    impl Example for EntryFacts {
        fn example(t: &str) -> Self {
            EntryFacts::of(example_event_id(t), &example_entry(t))
        }
    }

    impl Example for Offered {
        fn example(t: &str) -> Self {
            match DomainEvent::entry_reached(example_event_id(t), &example_entry(t)) {
                DomainEvent::WaitlistOffered(o) => o,
                _ => Offered {
                    entry: EntryFacts::example(t),
                    slot_id: None,
                    start_time: None,
                    offer_expires_at: None,
                },
            }
        }
    }

    impl Example for Accepted {
        fn example(t: &str) -> Self {
            match DomainEvent::entry_reached(example_event_id(t), &example_entry(t)) {
                DomainEvent::WaitlistAccepted(a) => a,
                _ => Accepted {
                    entry: EntryFacts::example(t),
                    appointment_id: None,
                    slot_id: None,
                },
            }
        }
    }

    pub(super) fn example_hold(t: &str) -> Hold {
        let status = match t {
            "hold.released" => HoldStatus::Released,
            "hold.expired" => HoldStatus::Expired,
            "hold.converted" => HoldStatus::Converted,
            _ => HoldStatus::Held,
        };
        Hold {
            id: HoldId::from_uuid(example_id(6)),
            slot_id: SlotId::from_uuid(example_id(4)),
            slot_ids: vec![],
            patient_id: PatientId::from_uuid(example_id(2)),
            provider_id: ProviderId::from_uuid(example_id(3)),
            appointment_type_id: None,
            consultation_type: ConsultationType::Video,
            start_time: example_time("2031-03-04T14:00:00Z"),
            end_time: example_time("2031-03-04T14:30:00Z"),
            expires_at: example_time("2031-03-01T09:25:00Z"),
            status,
            appointment_id: (status == HoldStatus::Converted)
                .then(|| AppointmentId::from_uuid(example_id(1))),
            held_by: example_id(2),
            created_at: example_time("2031-03-01T09:15:00Z"),
            updated_at: example_time("2031-03-01T09:15:00Z"),
        }
    }

    impl Example for HoldFacts {
        fn example(t: &str) -> Self {
            HoldFacts::of(example_event_id(t), &example_hold(t))
        }
    }

    impl Example for WebhookFacts {
        fn example(t: &str) -> Self {
            WebhookFacts {
                event_id: example_event_id(t),
                webhook_id: example_id(40),
                reason: DisabledReason::Failing,
                consecutive_failures: 5,
                occurred_at: example_time("2031-03-05T09:12:00Z"),
            }
        }
    }

    impl Example for Payment {
        fn example(t: &str) -> Self {
            let a = example_appointment(t);
            match t {
                "payment.cancellation_fee_requested" => Payment::fee(example_event_id(t), &a, 25.0),
                "payment.no_show_fee_requested" => Payment::fee(example_event_id(t), &a, 40.0),
                _ => Payment::of(example_event_id(t), &a),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_has_its_own_detail_type_and_says_when_it_fires() {
        let examples = DomainEvent::examples();
        let mut names: Vec<_> = examples.iter().map(DomainEvent::detail_type).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), examples.len());
        for e in &examples {
            assert!(e.when().len() > 20, "{}", e.detail_type());
            let detail = e.detail();
            assert!(detail["eventId"].is_string(), "{}", e.detail_type());
            for private in [
                "notes",
                "privateNotes",
                "symptoms",
                "reasonForVisit",
                "vitals",
            ] {
                assert!(detail.get(private).is_none(), "{}", e.detail_type());
            }
        }
    }

    #[test]
    fn a_status_reached_by_an_action_is_its_event_and_the_others_are_none() {
        let mut a = examples::example_appointment("appointment.created");
        let reached =
            |a: &Appointment| DomainEvent::status_reached(Uuid::nil(), a).map(|e| e.detail_type());
        for (status, event) in [
            (AppointmentStatus::Confirmed, Some("appointment.checked_in")),
            (AppointmentStatus::InProgress, Some("appointment.started")),
            (AppointmentStatus::Completed, Some("appointment.completed")),
            (AppointmentStatus::NoShow, Some("appointment.no_show")),
            (AppointmentStatus::Cancelled, Some("appointment.cancelled")),
            (AppointmentStatus::Scheduled, None),
            (AppointmentStatus::Rescheduled, None),
        ] {
            a.status = status;
            assert_eq!(reached(&a), event, "{status:?}");
        }
    }

    #[test]
    fn the_examples_are_what_their_changes_publish() {
        for e in DomainEvent::examples() {
            match &e {
                DomainEvent::AppointmentCheckedIn(f)
                | DomainEvent::AppointmentCompleted(f)
                | DomainEvent::AppointmentNoShow(f) => {
                    let a = examples::example_appointment(e.detail_type());
                    assert_eq!(
                        DomainEvent::status_reached(f.event_id, &a).map(|e| e.detail_type()),
                        Some(e.detail_type())
                    );
                }
                DomainEvent::WaitlistDeclined(f)
                | DomainEvent::WaitlistExpired(f)
                | DomainEvent::WaitlistCancelled(f)
                | DomainEvent::WaitlistOfferExpired(f) => {
                    let entry = examples::example_entry(e.detail_type());
                    assert_eq!(DomainEvent::entry_reached(f.event_id, &entry), e);
                }
                DomainEvent::HoldCreated(f)
                | DomainEvent::HoldReleased(f)
                | DomainEvent::HoldExpired(f)
                | DomainEvent::HoldConverted(f) => {
                    let h = examples::example_hold(e.detail_type());
                    assert_eq!(DomainEvent::hold_reached(f.event_id, &h), e);
                }
                _ => {}
            }
        }
    }

    /// `docs/events.md` is this catalogue; `UPDATE_EVENTS=1` rewrites it.
    #[test]
    fn catalogue() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/events.md");
        let generated = examples::catalogue();
        if std::env::var_os("UPDATE_EVENTS").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let kept = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            kept == generated,
            "docs/events.md is not the catalogue of shared/src/domain/events.rs: run \
             UPDATE_EVENTS=1 cargo test -p shared --lib catalogue"
        );
    }
}
