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

/// A provider as the directory lists them under one facet value: what a patient chooses by. Its
/// stored item also names every facet value it is listed under (`listedUnder`), which a directory
/// query's other filters look in.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Listing {
    pub provider_id: ProviderId,
    pub display_name: String,
    pub specialties: Vec<crate::domain::profile::Specialty>,
    pub languages: Vec<String>,
    pub telehealth_regions: Vec<String>,
    pub location_ids: Vec<uuid::Uuid>,
    pub appointment_type_ids: Vec<uuid::Uuid>,
    pub accepting_new_patients: bool,
}

impl Listing {
    pub fn of(provider: ProviderId, p: &Profile) -> Listing {
        Listing {
            provider_id: provider,
            display_name: p.display_name.clone(),
            specialties: p.specialties.clone(),
            languages: p.languages.clone(),
            telehealth_regions: p.telehealth_regions.clone(),
            location_ids: p.location_ids.clone(),
            appointment_type_ids: p.appointment_type_ids.clone(),
            accepting_new_patients: p.accepting_new_patients,
        }
    }
}

/// What `GET /providers` asks for: each filter optional, all of them to hold.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DirectoryQuery {
    pub specialty: Option<String>,
    /// A primary language subtag.
    pub language: Option<String>,
    pub region: Option<String>,
    pub location: Option<uuid::Uuid>,
    pub appointment_type: Option<uuid::Uuid>,
}

impl DirectoryQuery {
    /// Every filter given as a facet value, the most selective first: a location, a type, a
    /// specialty, a region, a language.
    fn given(&self) -> Vec<Facet> {
        let mut out = vec![];
        out.extend(self.location.map(Facet::Location));
        out.extend(self.appointment_type.map(Facet::Type));
        out.extend(self.specialty.clone().map(Facet::Specialty));
        out.extend(self.region.clone().map(Facet::Region));
        out.extend(self.language.clone().map(Facet::Language));
        out
    }

    /// The facet value whose partition a page reads: the most selective filter given, else the whole
    /// directory. The others are filters.
    pub fn facet(&self) -> Facet {
        self.given().into_iter().next().unwrap_or(Facet::All)
    }
}

/// The attribute of a listing's item that names every facet value it is listed under.
const LISTED_UNDER: &str = "listedUnder";

use crate::domain::profile::{relisting, Facet};

impl Store {
    /// Keeps the directory in step with a change of `provider`'s profile (`publish`, from the stream):
    /// their listing under every facet value of the new profile written (so each carries it), those of
    /// the old one it lost deleted. Deterministic keys, so a record delivered again writes the same;
    /// the stream gives one item's changes in order ([`Store::write_batches`]).
    pub async fn relist(
        &self,
        provider: ProviderId,
        before: Option<&Profile>,
        after: Option<&Profile>,
    ) -> Result<usize, StoreError> {
        use aws_sdk_dynamodb::types::{DeleteRequest, WriteRequest};
        if before == after {
            return Ok(0);
        }
        let (put, gone) = relisting(before, after);
        let mut writes = vec![];
        if let Some(profile) = after {
            let listing = Listing::of(provider, profile);
            let mut item: super::Item = serde_dynamo::to_item(&listing)?;
            let listed_under: Vec<String> = put.iter().map(Facet::key).collect();
            item.insert(
                LISTED_UNDER.into(),
                serde_dynamo::to_attribute_value(&listed_under)?,
            );
            for facet in &put {
                let mut item = item.clone();
                item.extend(super::key_item(&super::keys::provider_listing(
                    provider, facet,
                )));
                item.insert(
                    super::keys::GSI1PK.into(),
                    super::s(super::keys::directory(facet)),
                );
                item.insert(
                    super::keys::GSI1SK.into(),
                    super::s(format!(
                        "{}#{provider}",
                        profile.display_name.to_lowercase()
                    )),
                );
                writes.push(super::batch::put_request(item)?);
            }
        }
        for facet in &gone {
            let key = super::key_item(&super::keys::provider_listing(provider, facet));
            writes.push(
                WriteRequest::builder()
                    .delete_request(DeleteRequest::builder().set_key(Some(key)).build()?)
                    .build(),
            );
        }
        let count = writes.len();
        self.write_batches("write the directory's listings", writes)
            .await?;
        Ok(count)
    }

    /// One page of the directory: the providers listed under `query`'s facet value, by name, those
    /// that also meet its other filters; one Query.
    pub async fn directory(
        &self,
        query: &DirectoryQuery,
        limit: i32,
        start: Option<super::Item>,
    ) -> Result<super::page::Page<Listing>, StoreError> {
        let mut given = query.given().into_iter();
        let facet = given.next().unwrap_or(Facet::All);
        let mut q = super::keys::Range::directory(&facet)
            .query(self)
            .set_exclusive_start_key(start)
            .limit(limit);
        let mut filters = vec![];
        for (i, other) in given.enumerate() {
            filters.push(format!("contains({LISTED_UNDER}, :f{i})"));
            q = q.expression_attribute_values(format!(":f{i}"), super::s(other.key()));
        }
        if !filters.is_empty() {
            q = q.filter_expression(filters.join(" AND "));
        }
        self.page(q).await
    }
}
