//! Items own their keys. Every stored item type says through [`Stored`] what its primary key and index
//! keys are (from `keys.rs`, where the key formats and the named ranges live).

use serde::{Deserialize, Serialize};

use super::keys::{self, Key};
use super::{n, to_item, Item, StoreError};
use crate::domain::{Appointment, AppointmentStatus, AppointmentType, ProviderId, Slot, UtcTime};

/// An item type as the table stores it.
pub trait Stored: Serialize {
    fn key(&self) -> Key;

    /// Its keys on the secondary indexes it appears in, as `(attribute, value)`.
    fn index_keys(&self) -> Vec<(&'static str, String)> {
        vec![]
    }

    /// When the table's TTL may delete it (epoch seconds), if ever.
    fn expires_at(&self) -> Option<i64> {
        None
    }
}

/// An item replaced whole under its version number (appointment types, locations): a version, not
/// `updatedAt`, because two changes within one second have the same `updatedAt`.
pub trait Versioned: Stored + serde::de::DeserializeOwned {
    fn version(&self) -> u64;
    /// Marks it as the `version` written at `now`.
    fn stamp(&mut self, version: u64, now: UtcTime);
}

/// The items with a `version` and an `updatedAt` of their own, replaced whole.
macro_rules! versioned {
    ($($t:ty),*) => {$(
        impl Versioned for $t {
            fn version(&self) -> u64 {
                self.version
            }

            fn stamp(&mut self, version: u64, now: UtcTime) {
                self.version = version;
                self.updated_at = now;
            }
        }
    )*};
}

versioned!(
    AppointmentType,
    crate::domain::location::Location,
    crate::domain::resource::Resource,
    crate::domain::webhook::Webhook
);

impl super::Store {
    /// Puts `value`, which must not exist yet (a fresh id).
    pub async fn put_fresh<T: Stored>(
        &self,
        value: &T,
        what: &'static str,
    ) -> Result<(), StoreError> {
        let put = self
            .db
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item(value)?))
            .condition_expression("attribute_not_exists(PK)");
        super::conditional::answered(what, || put.clone().send()).await??;
        Ok(())
    }

    /// Applies `edit` to the item under `key` as read and replaces it under its version, reading it
    /// again when it changed meanwhile; `Ok(None)` when there is no such item. `edit` may refuse.
    pub async fn update_versioned<T, E>(
        &self,
        key: &Key,
        what: &'static str,
        now: UtcTime,
        edit: impl Fn(&mut T) -> Result<(), E>,
    ) -> Result<Option<T>, E>
    where
        T: Versioned,
        E: From<StoreError> + crate::retry::Retry + std::fmt::Display,
    {
        crate::retry::retrying(what, || async {
            let Some(mut t) = self.read::<T>(key).await? else {
                return Ok(crate::retry::Attempt::Done(None));
            };
            let read = t.version();
            edit(&mut t)?;
            t.stamp(read + 1, now);
            Ok(match self.replace_versioned(&t, read, what).await? {
                true => crate::retry::Attempt::Done(Some(t)),
                false => crate::retry::Attempt::Again,
            })
        })
        .await
    }

    /// Replaces `t` if it is still the version that was read; `false` if it changed meanwhile.
    async fn replace_versioned<T: Versioned>(
        &self,
        t: &T,
        read: u64,
        what: &'static str,
    ) -> Result<bool, StoreError> {
        let mut put = self
            .db
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item(t)?));
        put = if read == 0 {
            put.condition_expression("attribute_exists(PK) AND attribute_not_exists(version)")
        } else {
            put.condition_expression("version = :read")
                .expression_attribute_values(":read", n(read))
        };
        super::conditional::made(super::conditional::answered(what, || put.clone().send()).await?)
    }
}

/// `value` as its stored item: its fields, its key and index keys, its expiry.
pub fn item<T: Stored>(value: &T) -> Result<Item, StoreError> {
    let mut item = to_item(value, &value.key(), &value.index_keys())?;
    if let Some(at) = value.expires_at() {
        item.insert(keys::EXPIRES_AT.to_owned(), n(at));
    }
    Ok(item)
}

impl Stored for Appointment {
    fn key(&self) -> Key {
        keys::appointment(self.id)
    }

    fn index_keys(&self) -> Vec<(&'static str, String)> {
        let by_start = keys::by_start(self.start_time, self.id);
        let mut out = vec![
            (keys::GSI1PK, keys::patient_appointments(self.patient_id)),
            (keys::GSI1SK, by_start.clone()),
            (keys::GSI2PK, keys::provider_appointments(self.provider_id)),
            (keys::GSI2SK, by_start),
        ];
        // A request waiting for its provider, by its deadline: the sweeper's list of requests to
        // decline. Every status change removes it (`Store::change`, `cancel`).
        if let (AppointmentStatus::Pending, Some(deadline)) =
            (self.status, self.confirmation_deadline)
        {
            out.push((keys::GSI3PK, keys::PENDING_REQUESTS.to_owned()));
            out.push((keys::GSI3SK, keys::due(deadline, self.id)));
        }
        out
    }
}

impl Stored for Slot {
    fn key(&self) -> Key {
        keys::slot(self.id)
    }

    fn index_keys(&self) -> Vec<(&'static str, String)> {
        vec![
            (keys::GSI1PK, keys::provider_slots(self.provider_id)),
            (keys::GSI1SK, keys::by_start(self.start_time, self.id)),
        ]
    }
}

impl Stored for AppointmentType {
    fn key(&self) -> Key {
        keys::appointment_type(self.id)
    }

    fn index_keys(&self) -> Vec<(&'static str, String)> {
        vec![
            (keys::GSI1PK, keys::TYPES.to_owned()),
            (keys::GSI1SK, keys::by_name(&self.name, self.id)),
        ]
    }
}

/// What the service keeps of a provider: the time zone of their last bulk generation, their settings
/// and their directory profile. Bulk generation sets only `timeZone`, `PUT /providers/{id}/settings`
/// only `settings`, `PUT /providers/{id}` only `profile`: each is an UpdateItem of its own attributes,
/// so none overwrites another.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderProfile {
    pub provider_id: ProviderId,
    /// The zone of the last bulk generation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<crate::domain::settings::Settings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings_updated_at: Option<UtcTime>,
    /// How many times the settings were replaced (the `ETag` of `GET` and `PUT`; 0: never).
    #[serde(default)]
    pub settings_version: u64,
    /// What patients choose the provider by (`PUT /providers/{id}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<crate::domain::profile::Profile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_updated_at: Option<UtcTime>,
    /// How many times the profile was replaced (its `ETag`; 0: never).
    #[serde(default)]
    pub profile_version: u64,
    pub updated_at: UtcTime,
}

impl ProviderProfile {
    /// The provider's zone: the settings', else the last bulk generation's.
    pub fn zone_name(&self) -> Option<&str> {
        self.settings
            .as_ref()
            .and_then(|s| s.time_zone.as_deref())
            .or(self.time_zone.as_deref())
    }
}

impl Stored for ProviderProfile {
    fn key(&self) -> Key {
        keys::provider_profile(self.provider_id)
    }
}

#[cfg(test)]
mod tests {
    //! The stored shape of every item type, pinned: a change here is a change of the table's contract.

    use super::*;
    use crate::domain::{AppointmentId, ConsultationType, Interval, PatientId};
    use aws_sdk_dynamodb::types::AttributeValue;

    fn t(s: &str) -> UtcTime {
        s.parse().unwrap()
    }

    fn keys_of(item: &Item) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = item
            .iter()
            .filter(|(k, _)| k.starts_with("PK") || k.starts_with("SK") || k.starts_with("GSI"))
            .map(|(k, v)| (k.clone(), v.as_s().unwrap().clone()))
            .collect();
        out.sort();
        out
    }

    fn pairs(p: &[(&str, String)]) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = p
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        out.sort();
        out
    }

    #[test]
    fn an_appointment_is_found_by_id_by_patient_and_by_provider() {
        let (id, patient, provider, slot) = (
            AppointmentId::new(),
            PatientId::new(),
            ProviderId::new(),
            crate::domain::SlotId::new(),
        );
        let start = t("2030-01-02T09:00:00Z");
        let a = Appointment::scheduled(
            id,
            patient,
            provider,
            slot,
            start,
            t("2030-01-02T09:30:00Z"),
            ConsultationType::Video,
            t("2030-01-01T00:00:00Z"),
        );
        let stored = item(&a).unwrap();
        assert_eq!(
            keys_of(&stored),
            pairs(&[
                ("PK", format!("APPT#{id}")),
                ("SK", "APPT".into()),
                ("GSI1PK", format!("PATIENT#{patient}")),
                ("GSI1SK", format!("2030-01-02T09:00:00Z#{id}")),
                ("GSI2PK", format!("PROVIDER#{provider}")),
                ("GSI2SK", format!("2030-01-02T09:00:00Z#{id}")),
            ])
        );
        assert_eq!(
            stored["consultationType"],
            AttributeValue::S("video".into())
        );
        assert!(!stored.contains_key(keys::EXPIRES_AT));
    }

    #[test]
    fn a_slot_is_found_by_id_and_by_provider_and_start() {
        let (id, provider) = (crate::domain::SlotId::new(), ProviderId::new());
        let start = t("2030-01-02T09:00:00Z");
        let slot = Slot::open(
            id,
            provider,
            Interval::new(start, t("2030-01-02T09:30:00Z")).unwrap(),
            3,
            t("2030-01-01T00:00:00Z"),
        );
        assert_eq!(
            keys_of(&item(&slot).unwrap()),
            pairs(&[
                ("PK", format!("SLOT#{id}")),
                ("SK", "SLOT".into()),
                ("GSI1PK", format!("PROVIDER#{provider}#SLOTS")),
                ("GSI1SK", format!("2030-01-02T09:00:00Z#{id}")),
            ])
        );
    }

    #[test]
    fn an_appointment_type_is_listed_by_its_name_in_lower_case() {
        let now = t("2030-01-01T00:00:00Z");
        let kind = AppointmentType::new("Échographie", 30, vec![ConsultationType::InPerson], now);
        assert_eq!(
            keys_of(&item(&kind).unwrap()),
            pairs(&[
                ("PK", format!("TYPE#{}", kind.id)),
                ("SK", "TYPE".into()),
                ("GSI1PK", "TYPES".into()),
                ("GSI1SK", format!("échographie#{}", kind.id)),
            ])
        );
    }

    #[test]
    fn a_profile_and_a_freed_seat_live_under_their_owner_and_the_seat_expires() {
        let provider = ProviderId::new();
        let profile = ProviderProfile {
            provider_id: provider,
            time_zone: Some("Europe/Paris".into()),
            settings: None,
            settings_updated_at: None,
            settings_version: 0,
            profile: None,
            profile_updated_at: None,
            profile_version: 0,
            updated_at: t("2030-01-01T00:00:00Z"),
        };
        assert_eq!(
            keys_of(&item(&profile).unwrap()),
            pairs(&[
                ("PK", format!("PROVIDER#{provider}")),
                ("SK", "PROFILE".into())
            ])
        );
        let mut entry = crate::domain::waitlist::Entry::waiting(
            PatientId::new(),
            provider,
            "2030-01-05".parse().unwrap(),
            t("2030-01-01T00:00:00Z"),
        );
        entry.priority = 7;
        let stored = item(&entry).unwrap();
        assert_eq!(
            keys_of(&stored),
            pairs(&[
                ("PK", format!("WAIT#{}", entry.id)),
                ("SK", "WAIT".into()),
                ("GSI1PK", format!("PROVIDER#{provider}#WAIT")),
                (
                    "GSI1SK",
                    format!("2030-01-05#03#2030-01-01T00:00:00Z#{}", entry.id)
                ),
                ("GSI2PK", format!("PATIENT#{}#WAIT", entry.patient_id)),
                ("GSI2SK", format!("2030-01-01T00:00:00Z#{}", entry.id)),
            ])
        );
        assert_eq!(stored["offeredSlots"], AttributeValue::L(vec![]));
    }
}
