//! The provider directory's source of truth: each provider's profile, the `profile` part of their item
//! (`PROVIDER#<pid>` / `PROFILE`), versioned on its own like their settings (DESIGN.md section 15).

use super::settings::Part;
use super::{Store, StoreError};
use crate::domain::profile::Profile;
use crate::domain::{ProviderId, UtcTime};

/// A provider's profile as `GET` and `PUT /providers/{id}` answer it.
#[derive(Clone, Debug, PartialEq)]
pub struct ProviderEntry {
    pub provider_id: ProviderId,
    pub profile: Profile,
    pub updated_at: UtcTime,
    /// How many times the profile was replaced: the `ETag`.
    pub version: u64,
}

impl ProviderEntry {
    fn of(item: super::items::ProviderProfile) -> Option<ProviderEntry> {
        Some(ProviderEntry {
            provider_id: item.provider_id,
            updated_at: item.profile_updated_at.unwrap_or(item.updated_at),
            version: item.profile_version,
            profile: item.profile?,
        })
    }
}

impl Store {
    /// The provider's profile, if they have one: one GetItem.
    pub async fn provider_entry(
        &self,
        provider: ProviderId,
    ) -> Result<Option<ProviderEntry>, StoreError> {
        Ok(self.profile(provider).await?.and_then(ProviderEntry::of))
    }

    /// Replaces the provider's profile (canonical, without problems): one UpdateItem of the `profile`
    /// part alone, so their settings and zone stay. With `expected` (the client's `If-Match`), only if
    /// the profile is still at that version: `Ok(None)` otherwise, and nothing is written.
    pub async fn put_profile(
        &self,
        provider: ProviderId,
        profile: &Profile,
        expected: Option<u64>,
        now: UtcTime,
    ) -> Result<Option<ProviderEntry>, StoreError> {
        let value = serde_dynamo::to_attribute_value(profile)?;
        let item = self
            .replace_part(
                Part::PROFILE,
                uuid::Uuid::new_v4(),
                provider,
                value,
                expected,
                now,
            )
            .await?;
        Ok(item.and_then(ProviderEntry::of))
    }
}
