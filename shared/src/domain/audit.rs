//! The audit trail's records as data: what an audited function does, one record of it, and the record
//! as a FHIR R4 AuditEvent. Written and read by `crate::audit`.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use super::UtcTime;

/// The mark of an audit line; the subscription filter's pattern matches it.
pub const MARK: &str = "v1";

/// What an audited function does to which kind of resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Audited {
    /// FHIR AuditEvent.action: C(reate), R(ead), U(pdate), D(elete).
    pub action: &'static str,
    /// The FHIR-ish name of what it acts on: `Appointment`, `WaitlistEntry`, `Series`, `CalendarFeed`.
    pub resource_type: &'static str,
}

/// The audited functions: every one that reads or changes a patient's appointments, entries, series
/// or feeds. A function not here (slots, types, settings, metadata) writes no audit record.
pub fn audited(function: &str) -> Option<Audited> {
    let (action, resource_type) = match function {
        "create-appointment" | "fhir-book" => ("C", "Appointment"),
        "get-appointment"
        | "list-appointments"
        | "upcoming-appointments"
        | "appointment-history"
        | "no-show-report"
        | "provider-schedule"
        | "fhir-appointment" => ("R", "Appointment"),
        "cancel-appointment"
        | "confirm-appointment"
        | "decline-appointment"
        | "update-appointment"
        | "reschedule-appointment"
        | "check-in-appointment"
        | "start-appointment"
        | "complete-appointment"
        | "no-show-appointment" => ("U", "Appointment"),
        "create-hold" | "fhir-hold" => ("C", "Hold"),
        "get-hold" => ("R", "Hold"),
        "release-hold" => ("U", "Hold"),
        "join-waitlist" => ("C", "WaitlistEntry"),
        "list-waitlist" | "get-waitlist-entry" => ("R", "WaitlistEntry"),
        "accept-waitlist-offer" | "decline-waitlist-offer" => ("U", "WaitlistEntry"),
        "cancel-waitlist-entry" => ("D", "WaitlistEntry"),
        "book-series" => ("C", "Series"),
        "get-series" => ("R", "Series"),
        "cancel-series" => ("U", "Series"),
        "create-calendar-feed" => ("C", "CalendarFeed"),
        "list-calendar-feeds" | "calendar-feed" => ("R", "CalendarFeed"),
        "revoke-calendar-feed" => ("D", "CalendarFeed"),
        // Reading the trail reads who saw a patient's data: that is audited too.
        "audit-trail" | "fhir-audit-events" => ("R", "AuditEvent"),
        _ => return None,
    };
    Some(Audited {
        action,
        resource_type,
    })
}

/// One audit record, as its line carries it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Record {
    /// [`MARK`].
    #[serde(rename = "_audit")]
    pub mark: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: UtcTime,
    /// The caller's id (the token's `sub`); none for an unauthenticated request (a feed's token).
    pub actor: Option<Uuid>,
    pub roles: Vec<String>,
    pub action: String,
    /// The function of template.yaml that answered.
    pub function: String,
    pub resource_type: String,
    /// The resource's id: the path's, or the created one's (its `Location`).
    pub resource_id: Option<String>,
    pub patient_id: Option<Uuid>,
    /// The HTTP status answered.
    pub outcome: u16,
    pub request_id: String,
    pub source_ip: String,
}

/// A read of the trail: the records found, by time, and whether more matched than one answer holds.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Trail {
    pub data: Vec<Record>,
    /// More records matched than one answer holds (5,000): ask for a shorter range.
    pub truncated: bool,
}

impl Record {
    /// A stable id of the record (the same line always gives the same id).
    pub fn id(&self) -> Uuid {
        let name = format!(
            "{}/{}/{}/{}",
            self.request_id,
            self.function,
            self.patient_id.map(|p| p.to_string()).unwrap_or_default(),
            self.at
        );
        Uuid::new_v5(&Uuid::NAMESPACE_URL, name.as_bytes())
    }

    /// The record as a FHIR R4 AuditEvent (a RESTful operation): the actor as the requesting agent
    /// with their roles and network address, the resource and the patient as entities, and the
    /// outcome as FHIR grades it (0 success, 4 a refusal, 8 a failure).
    pub fn as_audit_event(&self) -> Value {
        let interaction = match self.action.as_str() {
            "C" => "create",
            "U" => "update",
            "D" => "delete",
            _ => "read",
        };
        let outcome = match self.outcome {
            0..=399 => "0",
            400..=499 => "4",
            _ => "8",
        };
        let mut agent = json!({
            "requestor": true,
            "role": self.roles.iter().map(|r| json!({"text": r})).collect::<Vec<_>>(),
            "network": {"address": self.source_ip, "type": "2"},
        });
        agent["who"] = match self.actor {
            Some(actor) => {
                json!({"identifier": {"system": "urn:clinic-appointments:subject", "value": actor}})
            }
            None => json!({"display": "the holder of a calendar feed's token"}),
        };
        let mut entity = vec![];
        if let Some(id) = &self.resource_id {
            entity.push(json!({
                "what": {"identifier": {"system": format!("urn:clinic-appointments:{}", self.resource_type), "value": id}},
                "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2", "display": "System Object"},
            }));
        }
        if let Some(patient) = self.patient_id {
            entity.push(json!({
                "what": {"reference": format!("Patient/{patient}")},
                "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1", "display": "Person"},
                "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1", "display": "Patient"},
            }));
        }
        json!({
            "resourceType": "AuditEvent",
            "id": self.id(),
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest", "display": "RESTful Operation"},
            "subtype": [{"system": "http://hl7.org/fhir/restful-interaction", "code": interaction}],
            "action": self.action,
            "recorded": self.at,
            "outcome": outcome,
            "outcomeDesc": format!("HTTP {}", self.outcome),
            "agent": [agent],
            "source": {"site": self.function, "observer": {"display": "Clinic appointments"}},
            "entity": entity,
        })
    }
}
