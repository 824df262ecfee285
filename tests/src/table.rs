//! The table read and written directly, beside the API: what is stored, and the edits a test makes to
//! set up a case the API cannot reach (a slot in the past, an attribute of an older version).

use super::*;

impl TestApp {
    /// Every item in the table (tests' tables are small).
    pub async fn items(&self) -> Vec<HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        let mut out = vec![];
        let mut start = None;
        loop {
            let page = self
                .db
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            out.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            if start.is_none() {
                return out;
            }
        }
    }

    /// The slot as stored.
    pub async fn stored_slot(&self, id: &str) -> shared::domain::Slot {
        self.store()
            .slot(id.parse().unwrap())
            .await
            .unwrap()
            .expect("slot exists")
    }

    /// Writes a slot through the store, as the API would not: with a chosen id, or already started.
    pub async fn put_slot(
        &self,
        id: &str,
        provider: Uuid,
        start: shared::domain::UtcTime,
        minutes: i64,
        seats: u32,
    ) {
        local::put_slot(
            &self.store(),
            id,
            &provider.to_string(),
            start,
            minutes,
            seats,
        )
        .await
        .unwrap();
    }

    /// Sets one string attribute of a stored appointment, as endpoints of later issues will.
    pub async fn set_appointment_field(&self, id: &str, field: &str, value: &str) {
        self.set_appointment_attribute(
            id,
            field,
            aws_sdk_dynamodb::types::AttributeValue::S(value.into()),
        )
        .await
    }

    /// Sets one attribute of a stored appointment (a fee, a payment) as billing will.
    pub async fn set_appointment_attribute(
        &self,
        id: &str,
        field: &str,
        value: aws_sdk_dynamodb::types::AttributeValue,
    ) {
        let key = shared::store::keys::appointment(id.parse().expect("an appointment id"));
        self.db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(shared::store::key_item(&key)))
            .update_expression("SET #f = :v")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_names("#f", field)
            .expression_attribute_values(":v", value)
            .send()
            .await
            .unwrap();
    }

    /// Appointments stored for `slot`.
    pub async fn appointments_of_slot(&self, slot: &str) -> usize {
        self.items()
            .await
            .iter()
            .filter(|i| {
                i.get("SK")
                    .and_then(|v| v.as_s().ok())
                    .is_some_and(|s| s == "APPT")
            })
            .filter(|i| {
                i.get("slotId")
                    .and_then(|v| v.as_s().ok())
                    .is_some_and(|s| s == slot)
            })
            .count()
    }

    /// A provider's count of appointments on a local day (`BOOKED#<day>`), as stored.
    pub async fn booked_count(&self, provider: &Actor, day: &str) -> i64 {
        let key = shared::store::keys::provider_booked(
            shared::domain::ProviderId::from_uuid(provider.id),
            day.parse().unwrap(),
        );
        match self.store().get(&key).await.unwrap() {
            None => 0,
            Some(item) => item["booked"].as_n().unwrap().parse().unwrap(),
        }
    }

    /// The UTC date of a stored slot's start.
    pub async fn slot_date(&self, slot: &str) -> String {
        let start = self.stored_slot(slot).await.start_time;
        start
            .timestamp()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date()
            .to_string()
    }

    /// How many waitlist entries the table holds.
    pub async fn stored_entries(&self) -> usize {
        self.items()
            .await
            .iter()
            .filter(|i| i.get("SK").and_then(|v| v.as_s().ok()).map(String::as_str) == Some("WAIT"))
            .count()
    }
}
