//! What the HTTP API answers, as types: every response body is one of these (or a domain type such as
//! `Appointment` and `AppointmentType`), so the contract is read here rather than from `json!` calls.

use serde::{Deserialize, Serialize};

use crate::domain::{
    AppointmentId, AppointmentStatus, Caller, PatientId, ProviderId, Slot, SlotId, SlotState,
    UtcTime,
};

/// A page of a list and the cursor of the next, if any (a page may hold fewer items than `limit`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> From<crate::store::page::Page<T>> for Page<T> {
    /// A store page as it is answered: its items, and its LastEvaluatedKey as the next cursor.
    fn from(page: crate::store::page::Page<T>) -> Page<T> {
        Page {
            data: page.items,
            next_cursor: page.next,
        }
    }
}

/// A slot as clients see it: `status` is derived (`booked` when no seat is left); `notes` and
/// `blockReason` only for its provider, staff and admins.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SlotView {
    pub id: SlotId,
    pub provider_id: ProviderId,
    pub start_time: UtcTime,
    pub end_time: UtcTime,
    pub status: SlotState,
    pub max_bookings: u32,
    pub current_bookings: u32,
    pub seats_left: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_appointment_types: Vec<uuid::Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub room_number: Option<String>,
    /// The rooms and equipment it holds, by name (`POST /locations/{id}/resources`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<crate::domain::resource::SlotResource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    pub is_overbook: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_reason: Option<String>,
    pub created_at: UtcTime,
    pub updated_at: UtcTime,
}

impl SlotView {
    /// The whole slot, for its provider, staff and admins.
    pub fn of(slot: &Slot) -> SlotView {
        SlotView {
            id: slot.id,
            provider_id: slot.provider_id,
            start_time: slot.start_time,
            end_time: slot.end_time,
            status: slot.state(),
            max_bookings: slot.max_bookings,
            current_bookings: slot.current_bookings,
            seats_left: slot.seats_left(),
            allowed_appointment_types: slot.allowed_appointment_types.clone(),
            location_id: slot.location_id.clone(),
            room_number: slot.room_number.clone(),
            resources: slot.resources.clone(),
            notes: slot.notes.clone(),
            is_overbook: slot.is_overbook,
            block_reason: slot.block_reason.clone(),
            created_at: slot.created_at,
            updated_at: slot.updated_at,
        }
    }

    /// The slot as `who` may see it: the clinic's notes and block reason stay with the clinic.
    pub fn for_caller(slot: &Slot, who: &Caller) -> SlotView {
        let mut view = Self::of(slot);
        if !who.may_act_for_provider(slot.provider_id) {
            view.notes = None;
            view.block_reason = None;
        }
        view
    }
}

/// What `POST /slots/bulk` did.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BulkCreated {
    pub created: usize,
    /// Slots of the request that already existed (a repeated request creates none).
    pub existing: usize,
    pub slots: Vec<SlotView>,
    /// Days left out whole because a room or device was held by other slots then (the rest were made).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<RefusedDay>,
}

/// A local day a bulk creation left out, and each slot of it that could not take a resource.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefusedDay {
    pub date: jiff::civil::Date,
    pub conflicts: Vec<ResourceConflict>,
}

/// A slot that could not take a resource: what holds it, and when.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResourceConflict {
    pub start_time: UtcTime,
    pub resource: crate::domain::resource::SlotResource,
    /// The slot that holds it (the first, by start, if several do).
    pub held_by: String,
    pub held_from: UtcTime,
    pub held_to: UtcTime,
}

impl RefusedDay {
    pub fn of(day: &crate::store::slots::RefusedDay) -> RefusedDay {
        RefusedDay {
            date: day.date,
            conflicts: day
                .conflicts
                .iter()
                .map(|(start, t)| ResourceConflict {
                    start_time: *start,
                    resource: t.resource.clone(),
                    held_by: t.by.clone(),
                    held_from: t.during.start(),
                    held_to: t.during.end(),
                })
                .collect(),
        }
    }
}

/// A slot a block left as it was, and why.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Skipped {
    pub slot_id: SlotId,
    pub start_time: UtcTime,
    /// `has_bookings`, `already_blocked` or `cancelled`.
    pub reason: String,
    pub current_bookings: u32,
}

/// What `POST /slots/block` did.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Blocked {
    pub blocked: Vec<SlotId>,
    pub skipped: Vec<Skipped>,
}

/// An appointment under its slot in a day's schedule.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScheduledBooking {
    pub appointment_id: AppointmentId,
    pub patient_id: PatientId,
    pub status: AppointmentStatus,
}

/// A slot of a day's schedule, in the day's zone too.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScheduleRow {
    #[serde(flatten)]
    pub slot: SlotView,
    pub local_start_time: String,
    pub local_end_time: String,
    pub bookings: Vec<ScheduledBooking>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScheduleSummary {
    pub total: usize,
    pub available: usize,
    pub booked: usize,
    pub blocked: usize,
}

/// `GET /providers/{providerId}/schedule`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Schedule {
    pub provider_id: ProviderId,
    /// The first day; `slots` and `summary` are its, with every booking.
    pub date: jiff::civil::Date,
    pub time_zone: String,
    pub slots: Vec<ScheduleRow>,
    pub summary: ScheduleSummary,
    /// Every day asked for (`days`, 1 to 31), the first included: slots with their seats, and a
    /// summary, without the bookings (a month of full days would pass Lambda's 6 MB response limit).
    pub days: Vec<ScheduleDay>,
}

/// One day of a week or month view, in the schedule's zone.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScheduleDay {
    pub date: jiff::civil::Date,
    pub slots: Vec<DaySlot>,
    pub summary: ScheduleSummary,
}

/// A slot of a week or month view: its seats and its local times.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DaySlot {
    #[serde(flatten)]
    pub slot: SlotView,
    pub local_start_time: String,
    pub local_end_time: String,
}

impl ScheduleSummary {
    /// The summary of `slots`.
    pub fn of<'a>(slots: impl IntoIterator<Item = &'a Slot>) -> ScheduleSummary {
        let mut summary = ScheduleSummary::default();
        for slot in slots {
            summary.total += 1;
            match slot.state() {
                SlotState::Available => summary.available += 1,
                SlotState::Booked => summary.booked += 1,
                SlotState::Blocked => summary.blocked += 1,
                SlotState::Cancelled => {}
            }
        }
        summary
    }
}

/// One patient's line of a no-show report.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PatientNoShows {
    pub patient_id: PatientId,
    pub appointments: u32,
    pub no_shows: u32,
}

/// `GET /appointments/reports/no-shows`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NoShowReport {
    pub provider_id: ProviderId,
    pub start_date: UtcTime,
    pub end_date: UtcTime,
    pub total_appointments: u32,
    pub no_shows: u32,
    pub no_show_rate: f64,
    pub by_patient: Vec<PatientNoShows>,
}

/// A calendar feed as its owner sees it (never its token, which is shown once, at creation).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FeedView {
    pub id: uuid::Uuid,
    /// Whose appointments it shows: the owner's as a patient or as a provider.
    pub owner_role: crate::store::feeds::FeedRole,
    pub created_at: UtcTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<UtcTime>,
}

impl From<&crate::store::feeds::Feed> for FeedView {
    fn from(f: &crate::store::feeds::Feed) -> FeedView {
        FeedView {
            id: f.id,
            owner_role: f.owner_role,
            created_at: f.created_at,
            revoked_at: f.revoked_at,
        }
    }
}

/// `POST /calendar/feeds`: the new feed, its secret token and the URL a calendar app subscribes to
/// (shown this once; only the token's SHA-256 is kept).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewFeed {
    #[serde(flatten)]
    pub feed: FeedView,
    pub token: String,
    pub url: String,
}

/// `GET /calendar/feeds`: every feed of the caller, revoked ones included.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Feeds {
    pub data: Vec<FeedView>,
}

/// A recurring series with its appointments (as the caller may see them).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SeriesView {
    #[serde(flatten)]
    pub series: crate::store::series::Series,
    pub appointments: Vec<crate::domain::Appointment>,
}

/// A provider's settings in force.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SettingsView {
    provider_id: ProviderId,
    #[serde(flatten)]
    rules: crate::domain::settings::Rules,
    /// When the provider's settings last changed; null if they never set any.
    updated_at: Option<UtcTime>,
}

/// A provider's directory profile as `GET` and `PUT /providers/{providerId}` answer it: what the
/// directory lists (the profile's fields with the provider's id), whether active, and when it changed.
/// (Not the profile flattened: a `PUT` body refuses unknown fields, an answer has two more.)
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProviderView {
    #[serde(flatten)]
    pub listing: crate::store::directory::Listing,
    pub active: bool,
    /// When the profile last changed.
    pub updated_at: UtcTime,
}

impl From<crate::store::directory::ProviderEntry> for ProviderView {
    fn from(e: crate::store::directory::ProviderEntry) -> ProviderView {
        ProviderView {
            listing: crate::store::directory::Listing::of(e.provider_id, &e.profile),
            active: e.profile.active,
            updated_at: e.updated_at,
        }
    }
}

impl From<crate::store::settings::ProviderSettings> for SettingsView {
    fn from(s: crate::store::settings::ProviderSettings) -> SettingsView {
        SettingsView {
            provider_id: s.provider_id,
            rules: s.rules,
            updated_at: s.updated_at,
        }
    }
}
