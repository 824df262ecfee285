//! Every parser a request reaches answers `Ok` or an error for any string: never a panic, which on
//! Lambda (`panic = "abort"`) would end the function and answer 500 with no body. One property test
//! each, on arbitrary Unicode (schemathesis found a reminder offset of `"é"` panicking in a byte split).

use proptest::prelude::*;
use serde_json::json;
use shared::domain::reminders::{parse_offsets, Offset};
use shared::domain::{
    AppointmentId, Day, EntryId, PatientId, ProviderId, SlotId, UtcTime, ZoneName,
};

/// Arbitrary text, and text close to what the parsers look for.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9hmé:,TZ+\\-/ .W\"*]{0,24}",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2})?(Z|[+-][0-9]{2}:[0-9]{2})?)?",
        "[A-Za-z_]{1,12}/[A-Za-z_]{1,14}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn ids_dates_times_and_zones(s in text()) {
        let _ = s.parse::<AppointmentId>();
        let _ = s.parse::<SlotId>();
        let _ = s.parse::<ProviderId>();
        let _ = s.parse::<PatientId>();
        let _ = s.parse::<EntryId>();
        let _ = s.parse::<Day>();
        let _ = s.parse::<UtcTime>();
        if let Ok(zone) = s.parse::<ZoneName>() {
            prop_assert!(zone.as_str().contains('/') || zone.as_str() == "UTC");
        }
    }

    #[test]
    fn reminder_offsets_alone_and_in_lists(s in text(), t in text()) {
        if let Ok(o) = s.parse::<Offset>() {
            prop_assert_eq!(o.to_string().parse::<Offset>(), Ok(o));
        }
        let _ = parse_offsets(&s);
        let _ = parse_offsets(&format!("{s},{t}"));
    }

    #[test]
    fn roles_claims_and_free_text(s in text()) {
        let _ = shared::domain::access::parse_roles(&s);
        let _ = shared::domain::text::has_forbidden(&s);
    }

    #[test]
    fn list_cursors(s in text(), b64 in "[A-Za-z0-9_-]{0,400}") {
        let cursors = shared::store::page::Cursors::with_secret("a key of the stack, 32 characters or more");
        let _ = cursors.decode(&s, "GSI1PK", "PATIENT#x", "GSI1SK", "2030", Some("2031"));
        let _ = cursors.decode(&s, "GSI1PK", "PATIENT#x", "GSI1SK", "", None);
        // Well-formed base64url is not a cursor unless the stack sealed it.
        prop_assert!(cursors.decode(&b64, "GSI1PK", "PATIENT#x", "GSI1SK", "", None).is_err());
    }

    /// A settings body with the string in every text field: parsed, checked and canonicalised.
    #[test]
    fn settings_bodies(s in text()) {
        for body in [
            json!({"reminderOffsets": [s]}),
            json!({"timeZone": s}),
            json!({"reminderOffsets": [s, "2h"], "timeZone": s}),
        ] {
            if let Ok(settings) = serde_json::from_value::<shared::domain::settings::Settings>(body) {
                if settings.problems().is_empty() {
                    let _ = settings.canonical();
                }
            }
        }
    }

    /// Working hours with the string as a time of day.
    #[test]
    fn working_hours(s in text()) {
        let hours = json!({"monday": {"morning": {"start": s, "end": "12:00"}}, "tuesday": {"morning": {"start": "09:00", "end": s}}});
        if let Ok(h) = serde_json::from_value::<shared::domain::calendar::WorkingHours>(hours) {
            let _ = h.problems();
        }
    }
}

#[test]
fn the_offsets_schemathesis_found_are_refused_not_a_panic() {
    for found in ["é", "1é", "éh", "2ħ", "🙂", "1m\u{301}"] {
        assert!(found.parse::<Offset>().is_err(), "{found}");
        let body = json!({"reminderOffsets": [found]});
        let settings: shared::domain::settings::Settings =
            serde_json::from_value(body).unwrap_or_default();
        let _ = settings.problems();
    }
}
