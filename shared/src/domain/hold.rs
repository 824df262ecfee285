//! Holds (DESIGN.md section 16): a seat taken for a few minutes while a patient finishes (intake,
//! insurance, payment), then booked with the hold, given back, or lapsed. Pure rules; the writes are in
//! `store::holds`.
//!
//! A hold is recorded three times, all in one transaction: the `HOLD#<id>` item (its life), the slot's
//! `heldFor` set and `currentBookings` (the seat, exactly as a waitlist offer holds one), and an entry
//! of the patient's guard (their time, so a patient cannot hold two overlapping seats, and the count
//! of their live holds). The guard entry's name carries the hold's expiry (`hold:<id>:<epoch
//! seconds>`), so a hold that has run out stops counting at once, before its lapse is written.

use serde::{Deserialize, Serialize};

use super::{ConsultationType, HoldId, PatientId, ProviderId, SlotId, UtcTime};

/// A hold's life: `held` until booked (`converted`), given back (`released`) or run out (`expired`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum HoldStatus {
    Held,
    Converted,
    Released,
    Expired,
}

impl HoldStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HoldStatus::Held => "held",
            HoldStatus::Converted => "converted",
            HoldStatus::Released => "released",
            HoldStatus::Expired => "expired",
        }
    }
}

/// A hold as stored and shown: ids and times only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Hold {
    pub id: HoldId,
    /// The slot held, or the first of the consecutive slots a visit longer than one slot takes.
    pub slot_id: SlotId,
    /// A visit longer than one slot: every slot of its run, in order (the first is `slotId`), a seat
    /// of each held; absent for one slot.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slot_ids: Vec<SlotId>,
    pub patient_id: PatientId,
    pub provider_id: ProviderId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appointment_type_id: Option<uuid::Uuid>,
    /// What the booking will be (the type's first when not asked).
    pub consultation_type: ConsultationType,
    /// The slot's time, or the run's (the patient's time the hold takes).
    pub start_time: UtcTime,
    pub end_time: UtcTime,
    /// The seat is the patient's until then (at most the slot's start).
    pub expires_at: UtcTime,
    pub status: HoldStatus,
    /// The appointment booked with the hold, once `converted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appointment_id: Option<super::AppointmentId>,
    /// Who asked for the hold (the patient, or staff for them).
    pub held_by: uuid::Uuid,
    pub created_at: UtcTime,
    pub updated_at: UtcTime,
}

impl Hold {
    /// Whether the hold still keeps its seat for its patient at `now`.
    pub fn is_live(&self, now: UtcTime) -> bool {
        self.status == HoldStatus::Held && self.expires_at > now
    }

    /// The slots it keeps a seat of.
    pub fn seats(&self) -> Vec<SlotId> {
        super::admission::seats(self.slot_id, &self.slot_ids)
    }

    /// The name of the hold's entry in its patient's guard.
    pub fn guard_entry(&self) -> String {
        guard_entry(self.id, self.expires_at)
    }

    /// Who may see the hold: its patient, and staff and admins (everybody else is told it does not
    /// exist). Providers see their slots' seats taken, not who holds them.
    pub fn may_be_seen_by(&self, who: &super::Caller) -> bool {
        who.is_staff() || who.is_patient(self.patient_id)
    }
}

/// `hold:<id>:<expiry in epoch seconds>`: a guard entry that is a hold, and when it stops counting.
pub fn guard_entry(id: HoldId, expires_at: UtcTime) -> String {
    format!("hold:{id}:{}", expires_at.timestamp().as_second())
}

/// Whether a guard entry's name is a hold's, and if so whether that hold is still live at `now`.
/// `None`: an appointment's entry.
pub fn hold_entry_live(name: &str, now: UtcTime) -> Option<bool> {
    let rest = name.strip_prefix("hold:")?;
    let expiry = rest
        .rsplit_once(':')
        .and_then(|(_, s)| s.parse::<i64>().ok());
    // A hold entry whose expiry does not read counts as live: it is removed by its lapse.
    Some(expiry.is_none_or(|e| e > now.timestamp().as_second()))
}

/// The live holds among a patient's guard entries.
pub fn live_holds<'a>(names: impl IntoIterator<Item = &'a String>, now: UtcTime) -> usize {
    names
        .into_iter()
        .filter(|n| hold_entry_live(n, now) == Some(true))
        .count()
}

/// When a hold made at `now` for a slot starting at `start` runs out: `ttl` later, never past the
/// start.
pub fn expiry(now: UtcTime, ttl: jiff::SignedDuration, start: UtcTime) -> UtcTime {
    now.plus(ttl).min(start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: &str) -> UtcTime {
        s.parse().unwrap()
    }

    #[test]
    fn a_hold_entry_counts_until_its_expiry_and_an_appointment_entry_is_not_a_hold() {
        let id = HoldId::new();
        let name = guard_entry(id, t("2030-01-01T10:10:00Z"));
        assert!(name.starts_with(&format!("hold:{id}:")));
        assert_eq!(
            hold_entry_live(&name, t("2030-01-01T10:09:59Z")),
            Some(true)
        );
        assert_eq!(
            hold_entry_live(&name, t("2030-01-01T10:10:00Z")),
            Some(false)
        );
        assert_eq!(
            hold_entry_live(&uuid::Uuid::new_v4().to_string(), t("2030-01-01T10:00:00Z")),
            None
        );
        assert_eq!(
            hold_entry_live("hold:x", t("2030-01-01T10:00:00Z")),
            Some(true)
        );
        let names = vec![
            name,
            guard_entry(HoldId::new(), t("2030-01-01T09:00:00Z")),
            uuid::Uuid::new_v4().to_string(),
        ];
        assert_eq!(live_holds(&names, t("2030-01-01T10:00:00Z")), 1);
    }

    #[test]
    fn a_hold_never_outlives_its_slot_s_start() {
        let ttl = jiff::SignedDuration::from_mins(10);
        assert_eq!(
            expiry(t("2030-01-01T10:00:00Z"), ttl, t("2030-01-01T12:00:00Z")),
            t("2030-01-01T10:10:00Z")
        );
        assert_eq!(
            expiry(t("2030-01-01T10:00:00Z"), ttl, t("2030-01-01T10:05:00Z")),
            t("2030-01-01T10:05:00Z")
        );
    }

    proptest! {
        #[test]
        fn no_guard_entry_name_makes_the_reader_panic(name in ".{0,80}") {
            let _ = hold_entry_live(&name, t("2030-01-01T10:00:00Z"));
        }
    }
}
