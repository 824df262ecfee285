//! Listing appointments: one Query per page on the patient's (GSI1) or the provider's (GSI2) index,
//! ordered by start time.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::page::{self, BadCursor, Page};
use super::{keys, s, Item, Store, StoreError};
use crate::domain::{Appointment, AppointmentStatus, PatientId, ProviderId, UtcTime};

/// Whose appointments: the partition a list reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    Patient(PatientId),
    Provider(ProviderId),
}

impl Owner {
    fn index(self) -> (&'static str, &'static str, &'static str, String) {
        match self {
            Owner::Patient(p) => (
                keys::GSI1,
                keys::GSI1PK,
                keys::GSI1SK,
                keys::patient_appointments(p),
            ),
            Owner::Provider(p) => (
                keys::GSI2,
                keys::GSI2PK,
                keys::GSI2SK,
                keys::provider_appointments(p),
            ),
        }
    }
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
    fn bounds(&self) -> (String, Option<String>) {
        (
            self.from.map(|t| t.to_string()).unwrap_or_default(),
            self.to.map(|t| t.to_string()),
        )
    }

    /// Checks a cursor against this query's partition and range.
    pub fn start_key(&self, cursor: Option<&str>) -> Result<Option<Item>, BadCursor> {
        let (_, pk_name, sk_name, pk) = self.owner.index();
        let (lo, hi) = self.bounds();
        cursor
            .map(|c| page::decode(c, pk_name, &pk, sk_name, &lo, hi.as_deref()))
            .transpose()
    }
}

/// An appointment as a provider's schedule lists it under its slot.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Booking {
    pub id: crate::domain::AppointmentId,
    pub patient_id: PatientId,
    pub slot_id: crate::domain::SlotId,
    pub status: AppointmentStatus,
}

impl Store {
    pub async fn list_appointments(
        &self,
        q: &ListQuery,
        start_key: Option<Item>,
    ) -> Result<Page<Appointment>, StoreError> {
        let (index, pk_name, sk_name, pk) = q.owner.index();
        let mut names = HashMap::from([("#pk".to_owned(), pk_name.to_owned())]);
        if q.from.is_some() || q.to.is_some() {
            names.insert("#sk".to_owned(), sk_name.to_owned());
        }
        let mut values: HashMap<String, AttributeValue> =
            HashMap::from([(":pk".to_owned(), s(pk))]);
        let mut key = "#pk = :pk".to_owned();
        let (lo, hi) = q.bounds();
        match (q.from, q.to) {
            (Some(_), Some(_)) => key.push_str(" AND #sk BETWEEN :lo AND :hi"),
            (Some(_), None) => key.push_str(" AND #sk >= :lo"),
            (None, Some(_)) => key.push_str(" AND #sk < :hi"),
            (None, None) => {}
        }
        if q.from.is_some() {
            values.insert(":lo".into(), s(lo));
        }
        if let Some(hi) = hi {
            values.insert(":hi".into(), s(hi));
        }
        let mut filters = vec![];
        if !q.statuses.is_empty() {
            names.insert("#status".into(), "status".into());
            let list: Vec<String> = q
                .statuses
                .iter()
                .enumerate()
                .map(|(i, st)| {
                    values.insert(format!(":s{i}"), s(st.as_str()));
                    format!(":s{i}")
                })
                .collect();
            filters.push(format!("#status IN ({})", list.join(", ")));
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
        let query = self
            .db
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression(key)
            .set_filter_expression((!filters.is_empty()).then(|| filters.join(" AND ")))
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .scan_index_forward(!q.newest_first)
            .set_exclusive_start_key(start_key)
            .limit(q.limit);
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
        let query = self
            .db
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI2)
            .key_condition_expression("GSI2PK = :pk AND GSI2SK BETWEEN :lo AND :hi")
            .projection_expression("id, patientId, slotId, #status")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pk", s(keys::provider_appointments(provider)))
            .expression_attribute_values(":lo", s(from.to_string()))
            .expression_attribute_values(":hi", s(to.to_string()));
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
        let query = self
            .db
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI2)
            .key_condition_expression("GSI2PK = :pk AND GSI2SK BETWEEN :lo AND :hi")
            .projection_expression("patientId, #status")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pk", s(keys::provider_appointments(provider)))
            .expression_attribute_values(":lo", s(from.to_string()))
            .expression_attribute_values(":hi", s(to.to_string()));
        let visits: Vec<Visit> = self.all_pages(query).await?;
        Ok(visits
            .into_iter()
            .map(|v| (v.patient_id, v.status))
            .collect())
    }
}
