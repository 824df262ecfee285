//! FHIR R4 resources of the service's data, without I/O (DESIGN.md section 11's mapping): Appointment,
//! Slot, Schedule, a searchset Bundle, the CapabilityStatement of what is supported, and
//! OperationOutcome for errors. Built field by field, so no note, reason or symptom reaches an EHR
//! through this read API unless it is mapped here.

use serde_json::{json, Value};

use super::{Appointment, AppointmentStatus, ProviderId, Slot, SlotState, UtcTime};

/// The FHIR version served.
pub const FHIR_VERSION: &str = "4.0.1";
/// The media type of every FHIR answer, errors included.
pub const MEDIA_TYPE: &str = "application/fhir+json";

/// Appointment.status for an appointment status.
pub fn appointment_status(s: AppointmentStatus) -> &'static str {
    match s {
        AppointmentStatus::Pending => "pending",
        AppointmentStatus::Scheduled => "booked",
        AppointmentStatus::Confirmed => "checked-in",
        AppointmentStatus::InProgress => "arrived",
        AppointmentStatus::Completed => "fulfilled",
        AppointmentStatus::Cancelled | AppointmentStatus::Rescheduled => "cancelled",
        AppointmentStatus::NoShow => "noshow",
    }
}

/// Slot.status for a slot's state.
pub fn slot_status(s: SlotState) -> &'static str {
    match s {
        SlotState::Available => "free",
        SlotState::Booked => "busy",
        SlotState::Blocked => "busy-unavailable",
        SlotState::Cancelled => "entered-in-error",
    }
}

pub fn appointment(a: &Appointment) -> Value {
    let participant = |reference: String| {
        json!({
            "actor": {"reference": reference},
            "required": "required",
            "status": "accepted",
        })
    };
    let minutes = (a.end_time.timestamp().as_second() - a.start_time.timestamp().as_second()) / 60;
    let mut out = json!({
        "resourceType": "Appointment",
        "id": a.id,
        "meta": {"lastUpdated": a.updated_at},
        "status": appointment_status(a.status),
        "start": a.start_time,
        "end": a.end_time,
        "minutesDuration": minutes,
        "created": a.created_at,
        "slot": a.seats().iter().map(|s| json!({"reference": format!("Slot/{s}")})).collect::<Vec<_>>(),
        "participant": [
            participant(format!("Patient/{}", a.patient_id)),
            participant(format!("Practitioner/{}", a.provider_id)),
        ],
    });
    if a.status == AppointmentStatus::Rescheduled {
        out["cancelationReason"] = json!({"text": "rescheduled"});
    }
    out
}

/// A seat `Appointment/$find` proposes, as an R4 Appointment `proposed` (IHE ITI Scheduling's
/// Appointment profile: https://build.fhir.org/ig/IHE/ITI.Scheduling/StructureDefinition-ihe-sched-appt.html):
/// its slot, its practitioner (and patient, when the search was for one) needing to act.
pub fn proposed_appointment(p: &crate::store::search::Proposal) -> Value {
    let participant = |reference: String, display: Option<&str>| {
        let mut actor = json!({"reference": reference});
        if let Some(d) = display {
            actor["display"] = json!(d);
        }
        json!({"actor": actor, "required": "required", "status": "needs-action"})
    };
    let mut participants = vec![participant(
        format!("Practitioner/{}", p.provider_id),
        Some(&p.provider_name),
    )];
    if let Some(patient) = p.patient_id {
        participants.push(participant(format!("Patient/{patient}"), None));
    }
    let minutes = (p.end_time.timestamp().as_second() - p.start_time.timestamp().as_second()) / 60;
    let mut out = json!({
        "resourceType": "Appointment",
        "id": p.id,
        "meta": {"lastUpdated": p.created_at},
        "status": "proposed",
        "start": p.start_time,
        "end": p.end_time,
        "minutesDuration": minutes,
        "created": p.created_at,
        "slot": super::admission::seats(p.slot_id, &p.slot_ids).iter().map(|s| json!({"reference": format!("Slot/{s}")})).collect::<Vec<_>>(),
        "participant": participants,
    });
    if let Some(t) = p.appointment_type_id {
        out["serviceType"] = json!([{"coding": [{"system": "urn:ietf:rfc:3986", "code": format!("urn:uuid:{t}")}], "text": format!("HealthcareService/{t}")}]);
    }
    out
}

/// A location as an R4 Location (https://hl7.org/fhir/R4/location.html): `mode` instance, its address
/// and telecom, its IANA time zone in the `timezone` extension, a virtual one typed `vi` (Virtual) in
/// `physicalType`.
pub fn location(l: &crate::domain::location::Location) -> Value {
    use crate::domain::location::TelecomSystem;
    let mut out = json!({
        "resourceType": "Location",
        "id": l.id,
        "meta": {"lastUpdated": l.updated_at},
        "status": if l.active { "active" } else { "inactive" },
        "name": l.name,
        "mode": "instance",
        "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/timezone", "valueCode": l.time_zone}],
    });
    if let Some(a) = &l.address {
        let mut address = json!({"use": "work", "type": "physical", "line": a.lines, "city": a.city, "country": a.country});
        if let Some(r) = &a.region {
            address["state"] = json!(r);
        }
        if let Some(p) = &a.postal_code {
            address["postalCode"] = json!(p);
        }
        out["address"] = address;
    }
    if !l.telecom.is_empty() {
        out["telecom"] = l
            .telecom
            .iter()
            .map(|t| {
                let system = match t.system {
                    TelecomSystem::Phone => "phone",
                    TelecomSystem::Email => "email",
                    TelecomSystem::Url => "url",
                };
                json!({"system": system, "value": t.value, "use": "work"})
            })
            .collect();
    }
    if l.is_virtual {
        out["physicalType"] = json!({"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/location-physical-type",
            "code": "vi",
            "display": "Virtual",
        }]});
    }
    out
}

/// A held seat (`$hold`, IHE ITI-116) as the Appointment it may become: `pending` while held (its
/// `end` of hold in `requestedPeriod`), `booked` once booked with it, `cancelled` once released or run
/// out. Its id is the hold's, which `$book` and `GET /fhir/Appointment/{id}` take.
pub fn held_appointment(h: &crate::domain::hold::Hold) -> Value {
    use crate::domain::hold::HoldStatus;
    let status = match h.status {
        HoldStatus::Held => "pending",
        HoldStatus::Converted => "booked",
        HoldStatus::Released | HoldStatus::Expired => "cancelled",
    };
    let minutes = (h.end_time.timestamp().as_second() - h.start_time.timestamp().as_second()) / 60;
    let participant = |reference: String| json!({"actor": {"reference": reference}, "required": "required", "status": "tentative"});
    let mut out = json!({
        "resourceType": "Appointment",
        "id": h.id,
        "meta": {"lastUpdated": h.updated_at},
        "status": status,
        "start": h.start_time,
        "end": h.end_time,
        "minutesDuration": minutes,
        "created": h.created_at,
        "slot": h.seats().iter().map(|s| json!({"reference": format!("Slot/{s}")})).collect::<Vec<_>>(),
        "requestedPeriod": [{"start": h.created_at, "end": h.expires_at}],
        "participant": [
            participant(format!("Patient/{}", h.patient_id)),
            participant(format!("Practitioner/{}", h.provider_id)),
        ],
    });
    if let Some(t) = h.appointment_type_id {
        out["serviceType"] = json!([{"coding": [{"system": "urn:ietf:rfc:3986", "code": format!("urn:uuid:{t}")}], "text": format!("HealthcareService/{t}")}]);
    }
    if matches!(h.status, HoldStatus::Released | HoldStatus::Expired) {
        out["cancelationReason"] = json!({"text": format!("hold {}", h.status.as_str())});
    }
    out
}

/// A searchset Bundle that continues at `next`: a page's `total` would not be the matches' count,
/// so it is left out (it is optional: https://hl7.org/fhir/R4/bundle-definitions.html#Bundle.total).
pub fn continued(mut bundle: Value, next: Option<String>) -> Value {
    if let Some(url) = next {
        if let Some(map) = bundle.as_object_mut() {
            map.remove("total");
        }
        if let Some(links) = bundle["link"].as_array_mut() {
            links.push(json!({"relation": "next", "url": url}));
        }
    }
    bundle
}

pub fn slot(s: &Slot) -> Value {
    // Every seat taken, some only held (a hold or a waitlist offer that may come back): tentative.
    let status = match s.state() {
        SlotState::Booked if !s.held_for.is_empty() => "busy-tentative",
        state => slot_status(state),
    };
    json!({
        "resourceType": "Slot",
        "id": s.id,
        "meta": {"lastUpdated": s.updated_at},
        "schedule": {"reference": format!("Schedule/{}", s.provider_id)},
        "status": status,
        "start": s.start_time,
        "end": s.end_time,
        "overbooked": s.current_bookings > s.max_bookings,
    })
}

/// A provider's Schedule: the Practitioner's bookable time (`zone`: their IANA time zone, if stored).
pub fn schedule(provider: ProviderId, zone: Option<&str>) -> Value {
    let mut out = json!({
        "resourceType": "Schedule",
        "id": provider,
        "active": true,
        "actor": [{"reference": format!("Practitioner/{provider}")}],
    });
    if let Some(z) = zone {
        out["comment"] = json!(format!("Times in UTC; the practitioner works in {z}."));
    }
    out
}

/// `items` as the repeated element `name` of `resource`, left out when there are none (FHIR has no
/// empty arrays: https://hl7.org/fhir/R4/json.html#arrays).
fn repeated(resource: &mut Value, name: &str, items: Vec<Value>) {
    if !items.is_empty() {
        resource[name] = Value::Array(items);
    }
}

/// A provider's directory profile as an R4 Practitioner: the display name, the languages spoken
/// (`communication`, BCP 47 codes: https://hl7.org/fhir/R4/practitioner.html), whether active. The
/// specialties are a role's (PractitionerRole), not the person's.
pub fn practitioner(provider: ProviderId, profile: &crate::domain::profile::Profile) -> Value {
    let communication: Vec<Value> = profile
        .languages
        .iter()
        .map(|tag| json!({"coding": [{"system": "urn:ietf:bcp:47", "code": tag}]}))
        .collect();
    let mut out = json!({
        "resourceType": "Practitioner",
        "id": provider,
        "active": profile.active,
        "name": [{"text": profile.display_name}],
    });
    repeated(&mut out, "communication", communication);
    out
}

/// A provider's directory listing as an R4 PractitionerRole (https://hl7.org/fhir/R4/practitionerrole.html):
/// the practitioner, their specialties (coded as the profile codes them; the code system is the
/// clinic's, NUCC's taxonomy or SNOMED CT, and not named), the appointment types offered as
/// HealthcareServices. One role a provider: its id is the provider's.
pub fn practitioner_role(listing: &crate::store::directory::Listing) -> Value {
    let specialties: Vec<Value> = listing
        .specialties
        .iter()
        .map(|s| json!({"coding": [{"code": s.code, "display": s.display}], "text": s.display}))
        .collect();
    let services: Vec<Value> = listing
        .appointment_type_ids
        .iter()
        .map(|t| json!({"reference": format!("HealthcareService/{t}")}))
        .collect();
    let mut out = json!({
        "resourceType": "PractitionerRole",
        "id": listing.provider_id,
        "active": true,
        "practitioner": {
            "reference": format!("Practitioner/{}", listing.provider_id),
            "display": listing.display_name,
        },
    });
    repeated(&mut out, "specialty", specialties);
    repeated(&mut out, "healthcareService", services);
    out
}

/// An appointment type as an R4 HealthcareService (https://hl7.org/fhir/R4/healthcareservice.html):
/// its name and description, whether offered, how it may be held (`characteristic`: in person, video,
/// phone), its length and fee (`extraDetails`), and that it is booked by appointment.
pub fn healthcare_service(t: &crate::domain::AppointmentType) -> Value {
    let modes: Vec<Value> = t
        .consultation_types
        .iter()
        .map(|c| json!({"text": c.as_str()}))
        .collect();
    let mut out = json!({
        "resourceType": "HealthcareService",
        "id": t.id,
        "active": t.is_active,
        "name": t.name,
        "appointmentRequired": true,
        "extraDetails": format!("{} minutes; fee {:.2}", t.duration_minutes, t.consultation_fee),
    });
    repeated(&mut out, "characteristic", modes);
    if let Some(d) = t.description.as_deref().filter(|d| !d.trim().is_empty()) {
        out["comment"] = json!(d);
    }
    out
}

/// A searchset Bundle of `resources`, found at `self_url`.
pub fn searchset(resources: Vec<Value>, self_url: &str, base: &str) -> Value {
    let entries: Vec<Value> = resources
        .into_iter()
        .map(|r| {
            json!({
                "fullUrl": format!("{base}/fhir/{}/{}", r["resourceType"].as_str().unwrap_or_default(), r["id"].as_str().unwrap_or_default()),
                "resource": r,
                "search": {"mode": "match"},
            })
        })
        .collect();
    json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "total": entries.len(),
        "link": [{"relation": "self", "url": self_url}],
        "entry": entries,
    })
}

/// What this server supports: read of Appointment and Schedule, search of Slot.
pub fn capability_statement(base: &str, now: UtcTime) -> Value {
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": now,
        "kind": "instance",
        "software": {"name": "Clinic appointments", "version": env!("CARGO_PKG_VERSION")},
        "implementation": {"description": "Clinic appointments, FHIR R4 read", "url": format!("{base}/fhir")},
        "fhirVersion": FHIR_VERSION,
        "format": [MEDIA_TYPE],
        "rest": [{
            "mode": "server",
            "security": {"description": "Bearer JWT (the same authorization as the native API)."},
            "resource": [
                {
                    "type": "Appointment",
                    "interaction": [{"code": "read"}],
                    "operation": [{
                        "name": "find",
                        "definition": "https://profiles.ihe.net/ITI/Scheduling/OperationDefinition/appointment-find",
                        "documentation": "IHE ITI-115, GET or POST: start, end, service-type, specialty, practitioner, location, patient, _count (at most 25); visit-type is not supported. Proposed Appointments resolve for an hour.",
                    }, {
                        "name": "hold",
                        "definition": "https://profiles.ihe.net/ITI/Scheduling/OperationDefinition/appointment-hold",
                        "documentation": "IHE ITI-116, POST a Parameters with appointment-reference (a proposed Appointment of $find): the seat held for HoldTtlSeconds, answered as the Appointment pending.",
                    }, {
                        "name": "book",
                        "definition": "https://profiles.ihe.net/ITI/Scheduling/OperationDefinition/appointment-book",
                        "documentation": "IHE ITI-117, POST a Parameters with appointment-reference (a held Appointment of $hold, or a proposed one of $find): a searchset Bundle of the Appointment booked (pending for a type that requires confirmation).",
                    }],
                },
                {"type": "Schedule", "interaction": [{"code": "read"}]},
                {
                    "type": "Location",
                    "interaction": [{"code": "read"}, {"code": "search-type"}],
                    "searchParam": [
                        {"name": "name", "type": "string", "documentation": "Starts with, ignoring case."},
                        {"name": "address-city", "type": "string", "documentation": "Starts with, ignoring case."},
                        {"name": "status", "type": "token", "documentation": "active or inactive."},
                        {"name": "_count", "type": "number", "documentation": "The first this many by name (1 to 100, default 50)."},
                    ],
                },
                {"type": "Practitioner", "interaction": [{"code": "read"}]},
                {"type": "HealthcareService", "interaction": [{"code": "read"}]},
                {
                    "type": "PractitionerRole",
                    "interaction": [{"code": "search-type"}],
                    "searchParam": [
                        {"name": "specialty", "type": "token", "documentation": "A specialty code ([system|]code; the system is not compared)."},
                        {"name": "practitioner", "type": "reference", "documentation": "Practitioner/<providerId>."},
                        {"name": "_count", "type": "number", "documentation": "The first this many by name (1 to 100, default 50); no further pages yet."},
                    ],
                },
                {
                    "type": "AuditEvent",
                    "interaction": [{"code": "search-type"}],
                    "searchParam": [
                        {"name": "patient", "type": "reference", "documentation": "Required: Patient/<id>. Admins only."},
                        {"name": "date", "type": "date", "documentation": "Required twice: ge<date> and le<date>, at most 31 days apart."},
                    ],
                },
                {
                    "type": "Slot",
                    "interaction": [{"code": "search-type"}],
                    "searchParam": [
                        {"name": "schedule", "type": "reference", "documentation": "Schedule/<providerId>: that provider's slots, start required twice (ge and lt, at most 31 days). Without it: the earliest free slots across providers from the search index, start ge and lt optional (at most 14 days), with service-type, specialty and _count (at most 25)."},
                        {"name": "start", "type": "date", "documentation": "ge<instant or date> and lt<instant or date>."},
                        {"name": "status", "type": "token", "documentation": "free, busy, busy-unavailable or entered-in-error (free only across providers)."},
                        {"name": "service-type", "type": "token", "documentation": "Across providers: an appointment type (HealthcareService) id, [system|]code."},
                        {"name": "specialty", "type": "token", "documentation": "Across providers: a specialty code, [system|]code."},
                        {"name": "_count", "type": "number", "documentation": "Across providers: at most this many (1 to 25, default 10); the next page is the Bundle's next link."},
                    ],
                },
            ],
        }],
    })
}

/// An OperationOutcome of one error: `code` from FHIR's issue-type value set.
pub fn operation_outcome(code: &str, problem: &str, diagnostics: &str) -> Value {
    json!({
        "resourceType": "OperationOutcome",
        "issue": [{
            "severity": "error",
            "code": code,
            // The native API's code (problem+json's `code`), so a client handles both the same way.
            "details": {"coding": [{"system": PROBLEMS, "code": problem}], "text": problem},
            "diagnostics": diagnostics,
        }],
    })
}

/// The id an Appointment reference names: `Appointment/<id>`, absolute (`https://.../Appointment/<id>`,
/// with or without a trailing `/`), or the bare id. `None` for anything else.
pub fn appointment_id_in(reference: &str) -> Option<uuid::Uuid> {
    let id = reference
        .rsplit_once("Appointment/")
        .map_or(reference, |(_, id)| id);
    id.strip_suffix('/').unwrap_or(id).parse().ok()
}

/// What a `$hold` or `$book` Parameters names.
#[derive(Clone, Debug, PartialEq)]
pub enum Named {
    /// An Appointment by id: a `$find` proposal, a `$hold` hold (or an appointment).
    Id(uuid::Uuid),
    /// An Appointment resource without an id: the seat it asks for (`slot`), for whom (its `Patient`
    /// participant) and as what (its `serviceType`, an appointment type).
    Seat {
        slot: super::SlotId,
        patient: Option<super::PatientId>,
        service_type: Option<uuid::Uuid>,
    },
}

/// The Appointment a `$hold` or `$book` Parameters names (IHE ITI-116/117): `appointment-reference` (a
/// Reference, or the reference as text), or an `appointment` parameter carrying the resource itself
/// (by its id; without one, by its slot, Patient participant and serviceType). `Err` says what is wrong.
pub fn named_in(body: &[u8]) -> Result<Named, &'static str> {
    const NOT: &str = "must be a FHIR Parameters resource (JSON)";
    const REQUIRED: &str = "appointment-reference is required: a Reference to an Appointment $find proposed or $hold held (or the appointment resource)";
    const REFERENCE: &str = "appointment-reference must be Appointment/<id>";
    let body: Value = serde_json::from_slice(body).map_err(|_| NOT)?;
    if body["resourceType"] != "Parameters" {
        return Err(NOT);
    }
    let list = match &body["parameter"] {
        Value::Null => return Err(REQUIRED),
        Value::Array(list) if list.len() <= 50 => list,
        _ => return Err("parameter must be a list of at most 50"),
    };
    let reference = |p: &Value| {
        p["valueReference"]["reference"]
            .as_str()
            .or(p["valueString"].as_str())
            .or(p["valueUri"].as_str())
            .map(|r| appointment_id_in(r).map(Named::Id).ok_or(REFERENCE))
    };
    for p in list {
        match p["name"].as_str() {
            Some("appointment-reference") => return reference(p).unwrap_or(Err(REFERENCE)),
            Some("appointment") => {
                if let Some(named) = reference(p) {
                    return named;
                }
                return seat_of(&p["resource"]);
            }
            _ => {}
        }
    }
    Err(REQUIRED)
}

/// The seat an Appointment resource asks for (see [`Named::Seat`]), or its id.
fn seat_of(resource: &Value) -> Result<Named, &'static str> {
    if resource["resourceType"] != "Appointment" {
        return Err("the appointment parameter's resource must be an Appointment");
    }
    if let Some(id) = resource.get("id") {
        return id
            .as_str()
            .and_then(|id| id.parse().ok())
            .map(Named::Id)
            .ok_or("the Appointment's id must be one this server gave");
    }
    let slot = resource["slot"][0]["reference"]
        .as_str()
        .and_then(|r| r.rsplit_once("Slot/"))
        .and_then(|(_, id)| id.parse().ok())
        .ok_or("an Appointment without an id names its seat: slot[0].reference Slot/<id>")?;
    let mut patient = None;
    for p in resource["participant"].as_array().into_iter().flatten() {
        if let Some((_, id)) = p["actor"]["reference"]
            .as_str()
            .and_then(|r| r.rsplit_once("Patient/"))
        {
            patient = Some(
                id.parse()
                    .map_err(|_| "a Patient participant must be Patient/<id>")?,
            );
        }
    }
    let service_type = match resource["serviceType"][0]["coding"][0]["code"].as_str() {
        None => None,
        Some(code) => Some(
            code.strip_prefix("urn:uuid:")
                .or_else(|| code.strip_prefix("HealthcareService/"))
                .unwrap_or(code)
                .parse()
                .map_err(|_| "serviceType must name an appointment type: urn:uuid:<id>")?,
        ),
    };
    Ok(Named::Seat {
        slot,
        patient,
        service_type,
    })
}

/// The code system of the native API's problem codes (`/problems/<code>`), in OperationOutcomes.
pub const PROBLEMS: &str = "https://appointments.clinic/problems";

/// The issue type of an HTTP status.
pub fn issue_code(status: u16) -> &'static str {
    match status {
        400 | 413 | 415 | 422 => "invalid",
        401 => "login",
        403 => "forbidden",
        404 => "not-found",
        409 => "conflict",
        503 => "transient",
        _ => "exception",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Interval;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn no_reference_makes_the_reader_panic(reference in ".{0,120}") {
            let _ = appointment_id_in(&reference);
        }

        #[test]
        fn no_body_makes_the_hold_and_book_reader_panic(body in ".{0,200}", reference in ".{0,60}") {
            let _ = named_in(body.as_bytes());
            let shaped = json!({"resourceType": "Parameters", "parameter": [
                {"name": "appointment", "resource": {"resourceType": "Appointment",
                 "slot": [{"reference": reference}], "participant": [{"actor": {"reference": reference}}],
                 "serviceType": [{"coding": [{"code": reference}]}]}}]});
            let _ = named_in(shaped.to_string().as_bytes());
        }
    }

    #[test]
    fn a_hold_or_book_names_an_appointment_by_reference_or_by_the_resource() {
        let (id, slot, patient, kind) = (
            uuid::Uuid::new_v4(),
            uuid::Uuid::new_v4(),
            uuid::Uuid::new_v4(),
            uuid::Uuid::new_v4(),
        );
        let params = |p: Value| json!({"resourceType": "Parameters", "parameter": [p]}).to_string();
        let read = |p: Value| named_in(params(p).as_bytes());
        assert_eq!(
            read(
                json!({"name": "appointment-reference", "valueReference": {"reference": format!("Appointment/{id}")}})
            ),
            Ok(Named::Id(id))
        );
        assert_eq!(
            read(
                json!({"name": "appointment", "resource": {"resourceType": "Appointment", "id": id.to_string()}})
            ),
            Ok(Named::Id(id))
        );
        assert_eq!(
            read(
                json!({"name": "appointment", "resource": {"resourceType": "Appointment", "status": "proposed",
                "slot": [{"reference": format!("Slot/{slot}")}],
                "participant": [{"actor": {"reference": format!("Patient/{patient}")}, "status": "needs-action"}],
                "serviceType": [{"coding": [{"code": format!("urn:uuid:{kind}")}]}]}})
            ),
            Ok(Named::Seat {
                slot: super::super::SlotId::from_uuid(slot),
                patient: Some(super::super::PatientId::from_uuid(patient)),
                service_type: Some(kind),
            })
        );
        for bad in [
            json!({"name": "appointment-reference", "valueReference": {"reference": "Slot/1"}}),
            json!({"name": "appointment", "resource": {"resourceType": "Slot"}}),
            json!({"name": "appointment", "resource": {"resourceType": "Appointment"}}),
            json!({"name": "start", "valueDateTime": "2030-01-01"}),
        ] {
            assert!(read(bad.clone()).is_err(), "{bad}");
        }
        assert!(named_in(b"{}").is_err());
        assert!(named_in(br#"{"resourceType": "Parameters"}"#).is_err());
    }

    #[test]
    fn an_appointment_reference_names_its_id_relative_absolute_or_bare() {
        let id = uuid::Uuid::new_v4();
        for r in [
            format!("Appointment/{id}"),
            format!("https://ehr.example/fhir/Appointment/{id}"),
            format!("https://ehr.example/fhir/Appointment/{id}/"),
            id.to_string(),
        ] {
            assert_eq!(appointment_id_in(&r), Some(id), "{r}");
        }
        for r in ["Appointment/", "Slot/x", "Appointment/12", ""] {
            assert_eq!(appointment_id_in(r), None, "{r}");
        }
    }

    #[test]
    fn every_status_maps_to_fhir_s_value_sets() {
        let appointment_set = [
            "proposed",
            "pending",
            "booked",
            "arrived",
            "fulfilled",
            "cancelled",
            "noshow",
            "entered-in-error",
            "checked-in",
            "waitlist",
        ];
        for s in [
            AppointmentStatus::Pending,
            AppointmentStatus::Scheduled,
            AppointmentStatus::Confirmed,
            AppointmentStatus::InProgress,
            AppointmentStatus::Completed,
            AppointmentStatus::Cancelled,
            AppointmentStatus::NoShow,
            AppointmentStatus::Rescheduled,
        ] {
            assert!(appointment_set.contains(&appointment_status(s)), "{s:?}");
        }
        let slot_set = [
            "busy",
            "free",
            "busy-unavailable",
            "busy-tentative",
            "entered-in-error",
        ];
        for s in [
            SlotState::Available,
            SlotState::Booked,
            SlotState::Blocked,
            SlotState::Cancelled,
        ] {
            assert!(slot_set.contains(&slot_status(s)));
        }
    }

    #[test]
    fn an_appointment_carries_its_people_and_slot_and_nothing_said_in_it() {
        let mut a = Appointment::example();
        a.status = AppointmentStatus::Rescheduled;
        let r = appointment(&a);
        assert_eq!(r["status"], "cancelled");
        assert_eq!(r["cancelationReason"]["text"], "rescheduled");
        assert_eq!(r["minutesDuration"], 30);
        assert_eq!(
            r["participant"][1]["actor"]["reference"],
            format!("Practitioner/{}", a.provider_id)
        );
        assert!(!r.to_string().contains("chest"));
        let s = Slot::open(
            a.slot_id,
            a.provider_id,
            Interval::new(a.start_time, a.end_time).unwrap(),
            1,
            a.created_at,
        );
        assert_eq!(slot(&s)["status"], "free");
        assert_eq!(
            slot(&s)["schedule"]["reference"],
            format!("Schedule/{}", a.provider_id)
        );
    }
}
