//! The SMART Scheduling Links feed (issue 23, section 2; STU 1,
//! https://github.com/smart-on-fhir/smart-scheduling-links, `specification.md`): what a slot finder
//! reads. Pure builders of its Location, Schedule and Slot lines and of the `$bulk-publish` manifest;
//! `feed` writes them to S3 and serves the manifest.
//!
//! The specification is location-centred: a Schedule is a service at a Location, and its `actor` is
//! that one Location. Here a Schedule is one provider's slots at one physical location (its id a v5
//! UUID of the two), its `serviceType` the appointment types those slots admit. A virtual location,
//! or a slot without a location, has no place in a finder's map and is left out.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use super::location::{Location, TelecomSystem};
use super::slot::{Slot, SlotState};
use super::{ProviderId, UtcTime};

pub const BOOKING_DEEP_LINK: &str =
    "http://fhir-registry.smarthealthit.org/StructureDefinition/booking-deep-link";
pub const BOOKING_PHONE: &str =
    "http://fhir-registry.smarthealthit.org/StructureDefinition/booking-phone";
pub const SLOT_CAPACITY: &str =
    "http://fhir-registry.smarthealthit.org/StructureDefinition/slot-capacity";

/// What a deployment says about booking (`SLOT_FEED_BOOKING_URL`, `SLOT_FEED_BOOKING_PHONE`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Booking {
    /// An https URL with `{slotId}` where the slot's id goes.
    pub url: String,
    pub phone: Option<String>,
}

impl Booking {
    /// The placeholder a booking URL must hold.
    pub const PLACEHOLDER: &'static str = "{slotId}";

    /// `url` checked: http(s), with the placeholder.
    pub fn new(url: String, phone: Option<String>) -> Result<Booking, &'static str> {
        let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
        if !scheme_ok || !url.contains(Self::PLACEHOLDER) {
            return Err("an http(s) URL with {slotId} where the slot's id goes");
        }
        Ok(Booking {
            url,
            phone: phone.filter(|p| !p.trim().is_empty()),
        })
    }

    pub fn link(&self, slot: &Slot) -> String {
        self.url.replace(Self::PLACEHOLDER, &slot.id.to_string())
    }
}

/// The id of one provider's Schedule at one location.
pub fn schedule_id(provider: ProviderId, location: Uuid) -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_OID,
        format!("smart-schedule/{provider}/{location}").as_bytes(),
    )
}

/// A location as the feed's Location, if it can be one: physical, with an address that has a line,
/// a city, a state and a postal code, and a phone or URL to reach it (its own, else the booking
/// phone). Its identifier is its id as a URN.
pub fn location(l: &Location, booking: &Booking) -> Option<Value> {
    let a = l.address.as_ref().filter(|_| !l.is_virtual)?;
    let (state, postal) = (a.region.as_ref()?, a.postal_code.as_ref()?);
    if a.lines.is_empty() {
        return None;
    }
    let mut telecom: Vec<Value> = l
        .telecom
        .iter()
        .filter_map(|t| match t.system {
            TelecomSystem::Phone => Some(json!({"system": "phone", "value": t.value})),
            TelecomSystem::Url => Some(json!({"system": "url", "value": t.value})),
            TelecomSystem::Email => None,
        })
        .collect();
    if telecom.is_empty() {
        telecom.push(json!({"system": "phone", "value": booking.phone.as_ref()?}));
    }
    Some(json!({
        "resourceType": "Location",
        "id": l.id,
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": format!("urn:uuid:{}", l.id)}],
        "name": l.name,
        "telecom": telecom,
        "address": {"line": a.lines, "city": a.city, "state": state, "postalCode": postal},
    }))
}

/// A provider's Schedule at a location: the appointment types its slots admit as `serviceType` (as
/// the API's FHIR Slot and HealthcareService name them), or a plain "Appointment" when they admit any.
pub fn schedule(provider: ProviderId, location: Uuid, types: &[Uuid]) -> Value {
    let service: Vec<Value> = if types.is_empty() {
        vec![json!({"text": "Appointment"})]
    } else {
        types
            .iter()
            .map(|t| json!({"coding": [{"system": "urn:ietf:rfc:3986", "code": format!("urn:uuid:{t}")}], "text": format!("HealthcareService/{t}")}))
            .collect()
    };
    json!({
        "resourceType": "Schedule",
        "id": schedule_id(provider, location),
        "serviceType": service,
        "actor": [{"reference": format!("Location/{location}")}],
    })
}

/// A slot as the feed's Slot, unless it is blocked or cancelled (no capacity to monitor): `free`
/// while a seat is left, `busy` once every seat is taken; a deep link to book it, the booking phone,
/// and its seats as `slot-capacity` when it has more than one.
pub fn slot(s: &Slot, location: Uuid, booking: &Booking) -> Option<Value> {
    let status = match s.state() {
        SlotState::Available => "free",
        SlotState::Booked => "busy",
        SlotState::Blocked | SlotState::Cancelled => return None,
    };
    let mut extension = vec![json!({"url": BOOKING_DEEP_LINK, "valueUrl": booking.link(s)})];
    if let Some(p) = &booking.phone {
        extension.push(json!({"url": BOOKING_PHONE, "valueString": p}));
    }
    if s.max_bookings > 1 {
        extension.push(json!({"url": SLOT_CAPACITY, "valueInteger": s.max_bookings}));
    }
    Some(json!({
        "resourceType": "Slot",
        "id": s.id,
        "schedule": {"reference": format!("Schedule/{}", schedule_id(s.provider_id, location))},
        "status": status,
        "start": s.start_time,
        "end": s.end_time,
        "extension": extension,
    }))
}

/// One NDJSON file of the feed, as the writer recorded it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct File {
    /// `Location`, `Schedule` or `Slot`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its object's key in the feed bucket.
    pub key: String,
    /// The states its lines are in (Slot files are one per state).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub states: Vec<String>,
    /// When its content last changed (a run that writes the same lines leaves it).
    pub last_modified: UtcTime,
    /// SHA-256 of its content, hex: how a run knows nothing changed.
    pub sha256: String,
    pub lines: usize,
}

/// What the writer leaves beside the files: when it published, and each file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Published {
    pub transaction_time: UtcTime,
    pub files: Vec<File>,
}

/// The `$bulk-publish` manifest of `published` as requested at `request`: the files changed after
/// `since` (all without it), each at the URL `url_of` gives its key.
pub fn manifest(
    published: &Published,
    request: &str,
    since: Option<UtcTime>,
    url_of: impl Fn(&str) -> String,
) -> Value {
    let output: Vec<Value> = published
        .files
        .iter()
        .filter(|f| since.is_none_or(|t| f.last_modified > t))
        .map(|f| {
            let mut item = json!({"type": f.kind, "url": url_of(&f.key)});
            if !f.states.is_empty() {
                item["extension"] = json!({"state": f.states});
            }
            item
        })
        .collect();
    json!({
        "transactionTime": published.transaction_time,
        "request": request,
        "output": output,
        "error": [],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::location::{Address, Telecom};
    use crate::domain::{Interval, SlotId};

    fn booking() -> Booking {
        Booking::new(
            "https://book.example.org/slots/{slotId}?from=finder".into(),
            Some("+1 617 555 0100".into()),
        )
        .unwrap()
    }

    fn place(telecom: Vec<Telecom>, is_virtual: bool) -> Location {
        let now: UtcTime = "2031-03-01T00:00:00Z".parse().unwrap();
        Location {
            id: Uuid::new_v4(),
            name: "Back Bay Clinic".into(),
            address: Some(Address {
                lines: vec!["1 Main St".into()],
                city: "Boston".into(),
                region: Some("MA".into()),
                postal_code: Some("02116".into()),
                country: "US".into(),
            }),
            time_zone: "America/New_York".into(),
            telecom,
            active: true,
            is_virtual,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    #[test]
    fn a_booking_url_needs_its_placeholder() {
        assert!(Booking::new("https://x.example/book".into(), None).is_err());
        assert!(Booking::new("ftp://x.example/{slotId}".into(), None).is_err());
        let b = Booking::new("https://x.example/{slotId}".into(), Some(" ".into())).unwrap();
        assert_eq!(b.phone, None);
    }

    #[test]
    fn a_location_is_physical_with_a_full_address_and_a_contact() {
        let email = Telecom {
            system: TelecomSystem::Email,
            value: "desk@clinic.example".into(),
        };
        let l = place(vec![email.clone()], false);
        let shown = location(&l, &booking()).unwrap();
        assert_eq!(
            shown["telecom"],
            json!([{"system": "phone", "value": "+1 617 555 0100"}])
        );
        assert_eq!(shown["address"]["state"], "MA");
        assert_eq!(
            shown["identifier"][0]["value"],
            format!("urn:uuid:{}", l.id)
        );
        let no_phone = Booking::new("https://x.example/{slotId}".into(), None).unwrap();
        assert_eq!(location(&l, &no_phone), None, "no way to reach it");
        assert_eq!(location(&place(vec![], true), &booking()), None, "virtual");
        let mut no_state = place(vec![email], false);
        no_state.address.as_mut().unwrap().region = None;
        assert_eq!(location(&no_state, &booking()), None);
    }

    #[test]
    fn a_slot_is_free_or_busy_with_its_link_and_a_blocked_one_is_left_out() {
        let now: UtcTime = "2031-03-01T00:00:00Z".parse().unwrap();
        let start: UtcTime = "2031-03-02T14:00:00Z".parse().unwrap();
        let interval =
            Interval::new(start, start.plus(jiff::SignedDuration::from_mins(20))).unwrap();
        let mut s = Slot::open(SlotId::new(), ProviderId::new(), interval, 3, now);
        let location = Uuid::new_v4();
        let free = slot(&s, location, &booking()).unwrap();
        assert_eq!(free["status"], "free");
        assert_eq!(
            free["extension"][0]["valueUrl"],
            format!("https://book.example.org/slots/{}?from=finder", s.id)
        );
        assert_eq!(
            free["extension"][2],
            json!({"url": SLOT_CAPACITY, "valueInteger": 3})
        );
        assert_eq!(
            free["schedule"]["reference"],
            format!("Schedule/{}", schedule_id(s.provider_id, location))
        );
        s.current_bookings = 3;
        assert_eq!(slot(&s, location, &booking()).unwrap()["status"], "busy");
        s.status = crate::domain::SlotStatus::Blocked;
        assert_eq!(slot(&s, location, &booking()), None);
    }

    #[test]
    fn the_manifest_lists_the_files_changed_since_a_time() {
        let t = |s: &str| s.parse::<UtcTime>().unwrap();
        let file = |kind: &str, key: &str, at: &str, states: &[&str]| File {
            kind: kind.into(),
            key: key.into(),
            states: states.iter().map(|s| (*s).to_owned()).collect(),
            last_modified: t(at),
            sha256: String::new(),
            lines: 1,
        };
        let published = Published {
            transaction_time: t("2031-03-01T10:05:00Z"),
            files: vec![
                file(
                    "Location",
                    "feed/locations.ndjson",
                    "2031-03-01T09:00:00Z",
                    &[],
                ),
                file(
                    "Slot",
                    "feed/slots-MA.ndjson",
                    "2031-03-01T10:05:00Z",
                    &["MA"],
                ),
            ],
        };
        let url = |k: &str| format!("https://s3.example/{k}");
        let all = manifest(
            &published,
            "https://api.example/fhir/$bulk-publish",
            None,
            url,
        );
        assert_eq!(all["output"].as_array().unwrap().len(), 2);
        assert_eq!(all["output"][1]["extension"], json!({"state": ["MA"]}));
        assert_eq!(all["error"], json!([]));
        let since = manifest(&published, "r", Some(t("2031-03-01T09:30:00Z")), url);
        assert_eq!(
            since["output"],
            json!([{"type": "Slot", "url": "https://s3.example/feed/slots-MA.ndjson", "extension": {"state": ["MA"]}}])
        );
    }
}
