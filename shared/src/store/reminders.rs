//! Reminders that fired: the record a due reminder leaves on its appointment, once per offset, only
//! while the appointment still stands (the stream publishes `appointment.reminder_due` from it).

use serde::{Deserialize, Serialize};

use super::items::{item, Stored};
use super::keys::{self, Key};
use super::{s, Store, StoreError};
use crate::domain::reminders::Offset;
use crate::domain::{
    AppointmentId, AppointmentStatus, ConsultationType, PatientId, ProviderId, UtcTime,
};

/// The record that a reminder fired for an appointment that still stood: written once per offset (the
/// stream publishes `appointment.reminder_due` from it), kept 30 days after the start.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReminderSent {
    pub appointment_id: AppointmentId,
    pub patient_id: PatientId,
    pub provider_id: ProviderId,
    pub start_time: UtcTime,
    pub offset: Offset,
    pub consultation_type: ConsultationType,
    pub sent_at: UtcTime,
}

impl Stored for ReminderSent {
    fn key(&self) -> Key {
        keys::reminder(self.appointment_id, self.offset)
    }

    fn expires_at(&self) -> Option<i64> {
        Some(
            self.start_time
                .plus(jiff::SignedDuration::from_hours(24 * 30))
                .timestamp()
                .as_second(),
        )
    }
}

/// What became of a due reminder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reminded {
    Recorded,
    /// A delivery of the same reminder recorded it before.
    AlreadyRecorded,
    /// The appointment no longer stands at that time (cancelled, moved, over, or gone).
    Stale,
}

impl Store {
    /// Records that the `offset` reminder of an appointment starting at `start` fired, only if the
    /// appointment is still scheduled or confirmed at that start: one read, one transaction (a
    /// ConditionCheck on the appointment and the record's put, so a cancel in between cannot slip by).
    pub async fn record_reminder(
        &self,
        appointment: AppointmentId,
        offset: Offset,
        start: UtcTime,
        now: UtcTime,
    ) -> Result<Reminded, StoreError> {
        use aws_sdk_dynamodb::types::{ConditionCheck, Put, TransactWriteItem};
        let Some(a) = self.appointment(appointment).await? else {
            return Ok(Reminded::Stale);
        };
        let standing = [AppointmentStatus::Scheduled, AppointmentStatus::Confirmed];
        if !standing.contains(&a.status) || a.start_time != start {
            return Ok(Reminded::Stale);
        }
        let record = ReminderSent {
            appointment_id: a.id,
            patient_id: a.patient_id,
            provider_id: a.provider_id,
            start_time: a.start_time,
            offset,
            consultation_type: a.consultation_type,
            sent_at: now,
        };
        #[derive(Clone, Copy, Debug, PartialEq)]
        enum W {
            Standing,
            Record,
        }
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(super::key_item(&keys::appointment(a.id))))
            .condition_expression("#status IN (:scheduled, :confirmed) AND startTime = :start")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":scheduled", s(AppointmentStatus::Scheduled.as_str()))
            .expression_attribute_values(":confirmed", s(AppointmentStatus::Confirmed.as_str()))
            .expression_attribute_values(":start", s(start.to_string()))
            .build()?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item(&record)?))
            .condition_expression("attribute_not_exists(PK)")
            .build()?;
        let mut writes = super::Writes::new();
        writes.add(
            W::Standing,
            TransactWriteItem::builder().condition_check(check).build(),
        );
        writes.add(W::Record, TransactWriteItem::builder().put(put).build());
        crate::retry::retrying("record reminder", || {
            let writes = writes.clone();
            async move {
                Ok::<_, StoreError>(match self.commit(writes).await? {
                    None => crate::retry::Attempt::Done(Reminded::Recorded),
                    Some(refused) if refused.has(W::Standing) => {
                        crate::retry::Attempt::Done(Reminded::Stale)
                    }
                    Some(_) => crate::retry::Attempt::Done(Reminded::AlreadyRecorded),
                })
            }
        })
        .await
    }
}
