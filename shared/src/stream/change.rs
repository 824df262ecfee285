//! A stream record decoded once into what changed: which item, from what, to what.

use aws_lambda_events::event::dynamodb::EventRecord;
use serde::de::DeserializeOwned;

use super::PublishError;
use crate::domain::waitlist::Entry;
use crate::domain::{Appointment, Slot};
use crate::store::keys::{self, ItemKind};
use crate::store::reminders::ReminderSent;

/// One item's change. `Changed` holds both images (the stream's view type is `NEW_AND_OLD_IMAGES`).
#[derive(Clone, Debug, PartialEq)]
pub enum Diff<T> {
    Inserted(T),
    Changed { from: T, to: T },
    Removed(T),
}

impl<T> Diff<T> {
    /// The item as it is now, or as it was when it went.
    pub fn latest(&self) -> &T {
        match self {
            Diff::Inserted(t) | Diff::Changed { to: t, .. } | Diff::Removed(t) => t,
        }
    }

    /// The item before the change, if it existed.
    pub fn before(&self) -> Option<&T> {
        match self {
            Diff::Inserted(_) => None,
            Diff::Changed { from, .. } | Diff::Removed(from) => Some(from),
        }
    }

    /// The item after the change, if it still exists.
    pub fn after(&self) -> Option<&T> {
        match self {
            Diff::Removed(_) => None,
            Diff::Inserted(to) | Diff::Changed { to, .. } => Some(to),
        }
    }
}

/// The items whose changes have effects; every other item's change has none. One lives per record,
/// for as long as its effects take, so its size does not matter.
#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum Item {
    Appointment(Diff<Appointment>),
    Slot(Diff<Slot>),
    Entry(Diff<Entry>),
    /// A reminder recorded as sent (its insert; its removal by TTL is not news).
    ReminderSent(ReminderSent),
    /// A provider's item: their zone, settings and directory profile.
    Provider(Diff<crate::store::items::ProviderProfile>),
    Hold(Diff<crate::domain::hold::Hold>),
    /// A webhook endpoint (its change by deliveries is news when they disable it).
    Webhook(Diff<crate::domain::webhook::Webhook>),
    Other,
}

/// A stream record, decoded once.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// The record's `eventID`: the same on every delivery, so ids derived from it deduplicate.
    pub event_id: String,
    pub item: Item,
}

impl Change {
    /// Decodes a record: its kind from the sort key, then the images of the kinds that have effects.
    /// An image that does not decode is a permanent failure (the record is parked).
    pub fn decode(record: &EventRecord) -> Result<Change, PublishError> {
        let kind = match record.change.keys.get(keys::SK) {
            Some(serde_dynamo::AttributeValue::S(sk)) => keys::kind_of(sk),
            _ => return Err(PublishError::record("no sort key")),
        };
        let item = match kind {
            ItemKind::Appointment => {
                diff(record, "appointment")?.map_or(Item::Other, Item::Appointment)
            }
            ItemKind::Slot => diff(record, "slot")?.map_or(Item::Other, Item::Slot),
            ItemKind::WaitlistEntry => {
                diff(record, "waitlist entry")?.map_or(Item::Other, Item::Entry)
            }
            ItemKind::Provider => diff(record, "provider")?.map_or(Item::Other, Item::Provider),
            ItemKind::Hold => diff(record, "hold")?.map_or(Item::Other, Item::Hold),
            ItemKind::Webhook => diff(record, "webhook")?.map_or(Item::Other, Item::Webhook),
            ItemKind::Reminder if record.event_name == "INSERT" => {
                image(&record.change.new_image, "reminder")?.map_or(Item::Other, Item::ReminderSent)
            }
            _ => Item::Other,
        };
        Ok(Change {
            event_id: record.event_id.clone(),
            item,
        })
    }

    /// The appointment this change is about, if it is one.
    pub fn appointment(&self) -> Option<&Appointment> {
        match &self.item {
            Item::Appointment(d) => Some(d.latest()),
            _ => None,
        }
    }
}

/// The change of one item by its event name and images; `None` where the images a name needs are
/// missing (nothing to tell).
fn diff<T: DeserializeOwned>(
    record: &EventRecord,
    what: &str,
) -> Result<Option<Diff<T>>, PublishError> {
    let old = image(&record.change.old_image, what)?;
    let new = image(&record.change.new_image, what)?;
    Ok(match (record.event_name.as_str(), old, new) {
        ("INSERT", _, Some(new)) => Some(Diff::Inserted(new)),
        ("MODIFY", Some(from), Some(to)) => Some(Diff::Changed { from, to }),
        ("REMOVE", Some(old), _) => Some(Diff::Removed(old)),
        _ => None,
    })
}

fn image<T: DeserializeOwned>(
    image: &serde_dynamo::Item,
    what: &str,
) -> Result<Option<T>, PublishError> {
    if image.is_empty() {
        return Ok(None);
    }
    serde_dynamo::from_item(image.clone())
        .map(Some)
        .map_err(|_| PublishError::record(&format!("{what} image")))
}
