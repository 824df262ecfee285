//! Listing appointments: one Query per page on the patient's (GSI1) or the provider's (GSI2) index,
//! ordered by start time.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::keys::Range;
use super::page::{BadCursor, Page};
use super::{s, Item, Store, StoreError};
use crate::domain::{Appointment, AppointmentStatus, PatientId, ProviderId, UtcTime};

/// Whose appointments: the partition a list reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    Patient(PatientId),
    Provider(ProviderId),
}

#[derive(Clone, Debug)]
pub struct ListQuery {
    pub owner: Owner,
    /// Starts in `[from, to)`.
    pub from: Option<UtcTime>,
    pub to: Option<UtcTime>,
    /// Any of these statuses; empty: all.
    pub statuses: Vec<AppointmentStatus>,
    /// Only appointments with this counterpart (the provider on a patient's list, or the reverse).
    pub with: Option<uuid::Uuid>,
    pub newest_first: bool,
    pub limit: i32,
}

impl ListQuery {
    /// The partition and range this list reads.
    pub fn range(&self) -> Range {
        match self.owner {
            Owner::Patient(p) => Range::patient_appointments(p, self.from, self.to),
            Owner::Provider(p) => Range::provider_appointments(p, self.from, self.to),
        }
    }

    /// Checks a cursor against this query's partition and range.
    pub fn start_key(
        &self,
        cursors: &super::page::Cursors,
        cursor: Option<&str>,
    ) -> Result<Option<Item>, BadCursor> {
        let range = self.range();
        cursor.map(|c| range.cursor(cursors, c)).transpose()
    }
}

/// An appointment as a provider's schedule lists it under its slot.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Booking {
    pub id: crate::domain::AppointmentId,
    pub patient_id: PatientId,
    pub slot_id: crate::domain::SlotId,
    /// A visit longer than one slot: its run's slots (`slotId` first).
    #[serde(default)]
    pub slot_ids: Vec<crate::domain::SlotId>,
    pub status: AppointmentStatus,
}

impl Booking {
    /// Whether it takes a seat of `slot` (its own, or one of its run's).
    pub fn takes(&self, slot: crate::domain::SlotId) -> bool {
        self.slot_id == slot || self.slot_ids.contains(&slot)
    }
}

impl Store {
    pub async fn list_appointments(
        &self,
        q: &ListQuery,
        start_key: Option<Item>,
    ) -> Result<Page<Appointment>, StoreError> {
        let mut names: HashMap<String, String> = HashMap::new();
        let mut values: HashMap<String, AttributeValue> = HashMap::new();
        let mut filters = vec![];
        if !q.statuses.is_empty() {
            names.insert("#status".into(), "status".into());
            let (clause, named) = super::status_in("s", q.statuses.iter().map(|st| st.as_str()));
            values.extend(named);
            filters.push(clause);
        }
        if let Some(other) = q.with {
            let attr = match q.owner {
                Owner::Patient(_) => "providerId",
                Owner::Provider(_) => "patientId",
            };
            names.insert("#with".into(), attr.into());
            values.insert(":with".into(), s(other.to_string()));
            filters.push("#with = :with".into());
        }
        let mut query = q
            .range()
            .query(self)
            .set_filter_expression((!filters.is_empty()).then(|| filters.join(" AND ")))
            .scan_index_forward(!q.newest_first)
            .set_exclusive_start_key(start_key)
            .limit(q.limit);
        for (k, v) in names {
            query = query.expression_attribute_names(k, v);
        }
        for (k, v) in values {
            query = query.expression_attribute_values(k, v);
        }
        self.page(query).await
    }

    /// Every appointment of `provider` starting in `[from, to)` (a day's schedule): the whole range, page
    /// after page (a query page stops at 1 MB), reading only what a schedule shows.
    pub async fn bookings(
        &self,
        provider: ProviderId,
        from: UtcTime,
        to: UtcTime,
    ) -> Result<Vec<Booking>, StoreError> {
        let query = Range::provider_appointments(provider, Some(from), Some(to))
            .query(self)
            .projection_expression("id, patientId, slotId, slotIds, #status")
            .expression_attribute_names("#status", "status");
        self.all_pages(query).await
    }

    /// `(patient, status)` of every appointment of `provider` starting in `[from, to)`: the whole range,
    /// page after page, reading only those two attributes.
    pub async fn visits(
        &self,
        provider: ProviderId,
        from: UtcTime,
        to: UtcTime,
    ) -> Result<Vec<(PatientId, AppointmentStatus)>, StoreError> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Visit {
            patient_id: PatientId,
            status: AppointmentStatus,
        }
        let query = Range::provider_appointments(provider, Some(from), Some(to))
            .query(self)
            .projection_expression("patientId, #status")
            .expression_attribute_names("#status", "status");
        let visits: Vec<Visit> = self.all_pages(query).await?;
        Ok(visits
            .into_iter()
            .map(|v| (v.patient_id, v.status))
            .collect())
    }
}
