//! A slot: a period of one provider's time with `maxBookings` seats.

use serde::{Deserialize, Serialize};

use super::{Interval, ProviderId, SlotId, SlotStatus, UtcTime};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Slot {
    pub id: SlotId,
    pub provider_id: ProviderId,
    pub start_time: UtcTime,
    pub end_time: UtcTime,
    pub max_bookings: u32,
    pub current_bookings: u32,
    pub status: SlotStatus,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_appointment_types: Vec<uuid::Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_number: Option<String>,
    /// The rooms and equipment it names (at its location), with their names when it took them. An open
    /// slot holds them for its time in their day guards; blocking gives that time back, releasing
    /// takes it again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<super::resource::SlotResource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    #[serde(default)]
    pub is_overbook: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_reason: Option<String>,
    /// The holders of its held seats (waitlist entries' and holds' ids): read, never written from
    /// here (only `Store::hold_seat` and `Store::end_hold` change it; a slot is put whole only new).
    #[serde(default, rename = "heldFor", skip_serializing)]
    pub held_for: Vec<String>,
    pub created_at: UtcTime,
    pub updated_at: UtcTime,
}

/// What a client sees as the slot's status: `booked` when every seat is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum SlotState {
    Available,
    Booked,
    Blocked,
    Cancelled,
}

impl Slot {
    /// A new open slot with no bookings and no restrictions.
    pub fn open(
        id: SlotId,
        provider_id: ProviderId,
        interval: Interval,
        max_bookings: u32,
        now: UtcTime,
    ) -> Slot {
        Slot {
            id,
            provider_id,
            start_time: interval.start(),
            end_time: interval.end(),
            max_bookings,
            current_bookings: 0,
            status: SlotStatus::Available,
            allowed_appointment_types: vec![],
            location_id: None,
            room_number: None,
            resources: vec![],
            notes: None,
            is_overbook: false,
            block_reason: None,
            held_for: vec![],
            created_at: now,
            updated_at: now,
        }
    }

    pub fn interval(&self) -> Interval {
        Interval::new(self.start_time, self.end_time).expect("a stored slot ends after it starts")
    }

    pub fn seats_left(&self) -> u32 {
        self.max_bookings.saturating_sub(self.current_bookings)
    }

    pub fn state(&self) -> SlotState {
        match self.status {
            SlotStatus::Blocked => SlotState::Blocked,
            SlotStatus::Cancelled => SlotState::Cancelled,
            SlotStatus::Available if self.seats_left() == 0 => SlotState::Booked,
            SlotStatus::Available => SlotState::Available,
        }
    }

    /// A slot can be booked while it is open, has a seat and has not started.
    pub fn is_bookable_at(&self, now: UtcTime) -> bool {
        self.state() == SlotState::Available && self.start_time > now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(max: u32, current: u32, status: SlotStatus) -> Slot {
        let iv = Interval::new(
            "2027-01-01T09:00:00Z".parse().unwrap(),
            "2027-01-01T09:30:00Z".parse().unwrap(),
        )
        .unwrap();
        let mut s = Slot::open(
            SlotId::new(),
            ProviderId::new(),
            iv,
            max,
            "2026-12-01T00:00:00Z".parse().unwrap(),
        );
        s.current_bookings = current;
        s.status = status;
        s
    }

    #[test]
    fn booked_is_derived_from_the_seat_counter() {
        assert_eq!(
            slot(3, 2, SlotStatus::Available).state(),
            SlotState::Available
        );
        assert_eq!(slot(3, 3, SlotStatus::Available).state(), SlotState::Booked);
        assert_eq!(slot(1, 0, SlotStatus::Blocked).state(), SlotState::Blocked);
        assert_eq!(slot(3, 3, SlotStatus::Available).seats_left(), 0);
    }

    #[test]
    fn a_slot_that_has_started_is_not_bookable() {
        let s = slot(1, 0, SlotStatus::Available);
        assert!(s.is_bookable_at("2027-01-01T08:59:59Z".parse().unwrap()));
        assert!(!s.is_bookable_at("2027-01-01T09:00:00Z".parse().unwrap()));
        assert!(!slot(1, 1, SlotStatus::Available)
            .is_bookable_at("2026-01-01T00:00:00Z".parse().unwrap()));
    }
}
