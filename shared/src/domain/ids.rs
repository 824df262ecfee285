//! Typed identifiers. Each wraps a UUID, so a patient id can never be passed where a slot id belongs and
//! a value that parsed is well-formed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }

            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            pub fn uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            fn from_str(s: &str) -> Result<Self, InvalidId> {
                parse_uuid(s).map(Self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// Only the canonical hyphenated form is accepted, so one id has one spelling in keys and URLs.
fn parse_uuid(s: &str) -> Result<Uuid, InvalidId> {
    if s.len() != 36 {
        return Err(InvalidId);
    }
    Uuid::parse_str(s)
        .map(|u| Uuid::from_u128(u.as_u128()))
        .map_err(|_| InvalidId)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be a UUID such as 3f2b8c4e-1d5a-4e7b-9c2d-8a6f0e1b2c3d")]
pub struct InvalidId;

id_type!(
    /// An appointment: one patient in one seat of one slot.
    AppointmentId
);
id_type!(
    /// A bookable period of a provider's time with one or more seats.
    SlotId
);
id_type!(
    /// A patient; the `sub` of a patient's token.
    PatientId
);
id_type!(
    /// A provider (clinician); the `sub` of a provider's token.
    ProviderId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_only_canonical_uuids() {
        let id: SlotId = "3f2b8c4e-1d5a-4e7b-9c2d-8a6f0e1b2c3d".parse().unwrap();
        assert_eq!(id.to_string(), "3f2b8c4e-1d5a-4e7b-9c2d-8a6f0e1b2c3d");
        assert_eq!(
            "3F2B8C4E-1D5A-4E7B-9C2D-8A6F0E1B2C3D"
                .parse::<SlotId>()
                .unwrap()
                .to_string(),
            "3f2b8c4e-1d5a-4e7b-9c2d-8a6f0e1b2c3d",
            "upper case is the same id, printed in lower case"
        );
        for bad in [
            "",
            "abc",
            "3f2b8c4e1d5a4e7b9c2d8a6f0e1b2c3d",
            "{3f2b8c4e-1d5a-4e7b-9c2d-8a6f0e1b2c3d}",
        ] {
            assert_eq!(bad.parse::<SlotId>(), Err(InvalidId), "{bad:?}");
        }
    }

    #[test]
    fn ids_deserialize_from_json_strings_and_refuse_other_shapes() {
        let id: PatientId =
            serde_json::from_str("\"3f2b8c4e-1d5a-4e7b-9c2d-8a6f0e1b2c3d\"").unwrap();
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            "\"3f2b8c4e-1d5a-4e7b-9c2d-8a6f0e1b2c3d\""
        );
        assert!(serde_json::from_str::<PatientId>("\"nope\"").is_err());
        assert!(serde_json::from_str::<PatientId>("42").is_err());
    }
}
id_type!(
    /// A patient's entry on a provider's waitlist.
    EntryId
);
id_type!(
    /// A seat held for a patient for a few minutes (`POST /holds`).
    HoldId
);
