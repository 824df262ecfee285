//! A provider's settings (the `settings` map of their profile item) and the count of their appointments
//! per local day.
//!
//! The count is its own item, `PROVIDER#<pid>` / `BOOKED#<local date>` with a number `booked`: the
//! provider's day guards (`DAY#<UTC date>`) hold slot intervals per UTC day, and a clinic's "day" is
//! its local one. Every transaction that creates an appointment adds one under `booked < limit` (no
//! condition when the provider has no limit, or for a staff overbook), every cancel and every
//! reschedule away takes one off, so the limit is checked in the same transaction that takes the seat:
//! of two bookings racing for the last place of a day, exactly one commits. The count is kept whether
//! or not a limit is set, so a limit set later applies to the days already booked. The day counted
//! is the appointment's `terms.day`; appointments booked before terms existed were never counted.
//!
//! The price: every booking of one provider's day now writes one item, and DynamoDB cancels a
//! TransactWriteItems that meets another one in progress on the same item (`TransactionConflict`,
//! https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html). Such a
//! cancellation is transient and retried by `retry::retrying` with jitter; a provider's day sees
//! bookings at human rates, and the racing tests run with injected conflicts.

use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use jiff::civil::Date;

use super::items::ProviderProfile;
use super::{from_item, key_item, keys, n, s, Store, StoreError};
use crate::domain::settings::{Rules, Settings};
use crate::domain::{ProviderId, UtcTime};

/// A provider's settings as `GET` and `PUT` answer them: what is in force, and when it last changed.
#[derive(Clone, Debug, PartialEq)]
pub struct ProviderSettings {
    pub provider_id: ProviderId,
    pub rules: Rules,
    pub updated_at: Option<UtcTime>,
    /// How many times the settings were replaced: the `ETag`.
    pub version: u64,
}

impl Store {
    pub(super) async fn profile(
        &self,
        provider: ProviderId,
    ) -> Result<Option<ProviderProfile>, StoreError> {
        self.read(&keys::provider_profile(provider)).await
    }

    /// The rules in force for `provider` (their settings over the deployment's defaults): one GetItem.
    pub async fn provider_rules(&self, provider: ProviderId) -> Result<Rules, StoreError> {
        Ok(self.rules_of(self.profile(provider).await?.as_ref()))
    }

    /// The rules in force for a provider whose profile (if any) was read.
    pub fn rules_of(&self, profile: Option<&ProviderProfile>) -> Rules {
        let settings = profile.and_then(|p| p.settings.clone()).unwrap_or_default();
        settings.rules(profile.and_then(|p| p.time_zone.as_deref()), &self.defaults)
    }

    pub async fn provider_settings(
        &self,
        provider: ProviderId,
    ) -> Result<ProviderSettings, StoreError> {
        let profile = self.profile(provider).await?;
        Ok(ProviderSettings {
            provider_id: provider,
            rules: self.rules_of(profile.as_ref()),
            updated_at: profile.as_ref().and_then(|p| p.settings_updated_at),
            version: profile.map_or(0, |p| p.settings_version),
        })
    }

    /// Replaces the provider's settings (what is left out follows the defaults again): one UpdateItem
    /// of the `settings` map alone, so the zone of their last bulk generation stays. With `expected`
    /// (the client's `If-Match`), only if the settings are still at that version: `Ok(None)` otherwise,
    /// and nothing is written.
    pub async fn put_settings(
        &self,
        provider: ProviderId,
        settings: &Settings,
        expected: Option<u64>,
        now: UtcTime,
    ) -> Result<Option<ProviderSettings>, StoreError> {
        self.put_settings_as(uuid::Uuid::new_v4(), provider, settings, expected, now)
            .await
    }

    /// [`Store::put_settings`] as the write `write`: the id is stored with the settings, so that when
    /// an attempt whose answer was lost (a timeout) is sent again, the version it moved is recognised
    /// as its own and the write answers as applied rather than stale.
    pub async fn put_settings_as(
        &self,
        write: uuid::Uuid,
        provider: ProviderId,
        settings: &Settings,
        expected: Option<u64>,
        now: UtcTime,
    ) -> Result<Option<ProviderSettings>, StoreError> {
        let value: AttributeValue = serde_dynamo::to_attribute_value(settings)?;
        let Some(profile) = self
            .replace_part(Part::SETTINGS, write, provider, value, expected, now)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(ProviderSettings {
            provider_id: provider,
            rules: self.rules_of(Some(&profile)),
            updated_at: Some(now),
            version: profile.settings_version,
        }))
    }

    /// Replaces one part of the provider's item (its settings, its directory profile) with `value`:
    /// one UpdateItem of that part's attributes alone, its version moved by one. With `expected` (the
    /// client's `If-Match`), only if the part is still at that version: `Ok(None)` otherwise, nothing
    /// written. The write's id `write` is stored with it, so that when an attempt whose answer was lost
    /// (a timeout) is sent again, the version it moved is recognised as its own and the write answers
    /// as applied rather than stale. The item as it is now comes back.
    pub(super) async fn replace_part(
        &self,
        part: Part,
        write: uuid::Uuid,
        provider: ProviderId,
        value: AttributeValue,
        expected: Option<u64>,
        now: UtcTime,
    ) -> Result<Option<ProviderProfile>, StoreError> {
        let mut update = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_item(&keys::provider_profile(provider))))
            .update_expression(
                "SET #part = :value, providerId = :provider, #changed = :now, \
                 updatedAt = :now, #write = :write, \
                 #version = if_not_exists(#version, :zero) + :one",
            )
            .expression_attribute_names("#part", part.value)
            .expression_attribute_names("#changed", part.updated_at)
            .expression_attribute_names("#write", part.write)
            .expression_attribute_names("#version", part.version)
            .expression_attribute_values(":value", value)
            .expression_attribute_values(":provider", s(provider.to_string()))
            .expression_attribute_values(":now", s(now.to_string()))
            .expression_attribute_values(":write", s(write.to_string()))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        match expected {
            None => {}
            Some(0) => update = update.condition_expression("attribute_not_exists(#version)"),
            Some(v) => {
                update = update
                    .condition_expression("#version = :expected")
                    .expression_attribute_values(":expected", n(v))
            }
        }
        let answer = super::conditional::answered(part.what, || update.clone().send()).await?;
        let attributes = match answer {
            Ok(out) => out.attributes,
            Err(e) => {
                // A failed condition is a stale version, unless what moved it was this very write,
                // applied by an attempt whose answer was lost.
                let current = e
                    .as_service_error()
                    .and_then(|e| match e {
                        aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c) => c.item.clone(),
                        _ => None,
                    });
                let ours = current.as_ref().is_some_and(|item| {
                    item.get(part.write).and_then(|w| w.as_s().ok()) == Some(&write.to_string())
                        && item
                            .get(part.version)
                            .and_then(|v| v.as_n().ok())
                            .and_then(|v| v.parse::<u64>().ok())
                            == expected.map(|v| v + 1)
                });
                if !ours {
                    super::conditional::made::<(), _, _>(Err(e))?;
                    return Ok(None);
                }
                current
            }
        };
        let profile: ProviderProfile = attributes.map(from_item).transpose()?.ok_or_else(|| {
            StoreError::Corrupt("a replaced provider item came back empty".into())
        })?;
        Ok(Some(profile))
    }
}

/// A part of the provider's item with a version of its own: its attributes.
#[derive(Clone, Copy, Debug)]
pub(super) struct Part {
    value: &'static str,
    version: &'static str,
    updated_at: &'static str,
    write: &'static str,
    /// What the write is, for errors.
    what: &'static str,
}

impl Part {
    pub(super) const SETTINGS: Part = Part {
        value: "settings",
        version: "settingsVersion",
        updated_at: "settingsUpdatedAt",
        write: "settingsWrite",
        what: "store a provider's settings",
    };
    pub(super) const PROFILE: Part = Part {
        value: "profile",
        version: "profileVersion",
        updated_at: "profileUpdatedAt",
        write: "profileWrite",
        what: "store a provider's profile",
    };
}

impl Store {
    /// Which of `days` (the provider's local dates) hold `rules.max_appointments_per_day` already: one
    /// BatchGetItem of their counts (per 100 days), none without a limit.
    pub async fn full_days(
        &self,
        provider: ProviderId,
        rules: &Rules,
        days: &[Date],
    ) -> Result<std::collections::HashSet<Date>, StoreError> {
        let Some(limit) = rules.max_appointments_per_day else {
            return Ok(Default::default());
        };
        let mut days = days.to_vec();
        days.sort();
        days.dedup();
        let keys: Vec<_> = days
            .iter()
            .map(|d| keys::provider_booked(provider, *d))
            .collect();
        let found = self.get_many(&keys).await?;
        Ok(days
            .into_iter()
            .zip(keys)
            .filter(|(_, k)| {
                found
                    .get(k)
                    .and_then(|item| item.get("booked"))
                    .and_then(|b| b.as_n().ok())
                    .and_then(|b| b.parse::<u64>().ok())
                    .is_some_and(|b| b >= u64::from(limit))
            })
            .map(|(d, _)| d)
            .collect())
    }
}

/// One more appointment on the provider's local `day`, under `booked < limit` when there is a limit
/// (the count as it was comes back on refusal).
pub(super) fn count_in(
    table: &str,
    provider: ProviderId,
    day: Date,
    limit: Option<u32>,
) -> Result<TransactWriteItem, StoreError> {
    let mut update = Update::builder()
        .table_name(table)
        .set_key(Some(key_item(&keys::provider_booked(provider, day))))
        .update_expression("ADD #booked :one SET providerId = :provider, #day = :day")
        .expression_attribute_names("#booked", "booked")
        .expression_attribute_names("#day", "day")
        .expression_attribute_values(":one", n(1))
        .expression_attribute_values(":provider", s(provider.to_string()))
        .expression_attribute_values(":day", s(day.to_string()));
    if let Some(limit) = limit {
        update = update
            .condition_expression("attribute_not_exists(#booked) OR #booked < :limit")
            .expression_attribute_values(":limit", n(limit))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    }
    Ok(TransactWriteItem::builder().update(update.build()?).build())
}

/// One appointment fewer on the provider's local `day` (a cancel, a reschedule away).
pub(super) fn count_out(
    table: &str,
    provider: ProviderId,
    day: Date,
) -> Result<TransactWriteItem, StoreError> {
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(key_item(&keys::provider_booked(provider, day))))
        .update_expression("ADD #booked :minus")
        .expression_attribute_names("#booked", "booked")
        .expression_attribute_values(":minus", n(-1))
        .build()?;
    Ok(TransactWriteItem::builder().update(update).build())
}
