//! Who is calling and what they may do. The token was verified by API Gateway's JWT authorizer; here we
//! only read its claims.

use std::collections::HashMap;

use uuid::Uuid;

use super::{PatientId, ProviderId};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Patient,
    Provider,
    Staff,
    Admin,
}

impl Role {
    /// Its name in tokens and audit records.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Patient => "patient",
            Role::Provider => "provider",
            Role::Staff => "staff",
            Role::Admin => "admin",
        }
    }

    fn parse(s: &str) -> Option<Role> {
        match s {
            "patient" | "patients" => Some(Role::Patient),
            "provider" | "providers" => Some(Role::Provider),
            "staff" => Some(Role::Staff),
            "admin" | "admins" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// The authenticated caller: the token's `sub` and the roles we recognise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub id: Uuid,
    pub roles: Vec<Role>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallerError {
    #[error("the request carries no verified token")]
    NoToken,
    #[error("the token's sub is not a UUID")]
    BadSubject,
}

impl Caller {
    /// Reads `sub` and the roles claim as API Gateway hands them over.
    pub fn from_claims(
        claims: &HashMap<String, String>,
        roles_claim: &str,
    ) -> Result<Caller, CallerError> {
        let sub = claims.get("sub").ok_or(CallerError::NoToken)?;
        let id = Uuid::parse_str(sub).map_err(|_| CallerError::BadSubject)?;
        let roles = claims
            .get(roles_claim)
            .map(|v| parse_roles(v))
            .unwrap_or_default();
        Ok(Caller { id, roles })
    }

    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Staff and admins act on behalf of anyone.
    pub fn is_staff(&self) -> bool {
        self.has(Role::Staff) || self.has(Role::Admin)
    }

    pub fn is_patient(&self, patient: PatientId) -> bool {
        self.has(Role::Patient) && self.id == patient.uuid()
    }

    pub fn is_provider(&self, provider: ProviderId) -> bool {
        self.has(Role::Provider) && self.id == provider.uuid()
    }

    /// Reads an appointment between `patient` and `provider`.
    pub fn may_read(&self, patient: PatientId, provider: ProviderId) -> bool {
        self.is_staff() || self.is_patient(patient) || self.is_provider(provider)
    }

    /// Books or cancels for `patient`: the patient, or staff for them.
    pub fn may_act_for_patient(&self, patient: PatientId) -> bool {
        self.is_staff() || self.is_patient(patient)
    }

    /// Manages `provider`'s slots and appointments.
    pub fn may_act_for_provider(&self, provider: ProviderId) -> bool {
        self.is_staff() || self.is_provider(provider)
    }

    pub fn may_read_private_notes(&self, provider: ProviderId) -> bool {
        self.has(Role::Admin) || self.is_provider(provider)
    }
}

/// API Gateway HTTP APIs pass an array claim as one string, `[provider staff]`; a JSON array, a single
/// value and a comma list are accepted as well. Unknown role names are ignored.
pub fn parse_roles(raw: &str) -> Vec<Role> {
    let raw = raw.trim();
    let names: Vec<String> = match serde_json::from_str::<Vec<String>>(raw) {
        Ok(list) => list,
        Err(_) => raw
            .trim_start_matches('[')
            .trim_end_matches(']')
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|s| !s.is_empty())
            .map(|s| s.trim_matches('"').to_owned())
            .collect(),
    };
    let mut roles = Vec::new();
    for role in names
        .iter()
        .filter_map(|n| Role::parse(&n.to_ascii_lowercase()))
    {
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    roles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_arrive_in_every_shape_api_gateway_and_issuers_use() {
        assert_eq!(
            parse_roles("[provider staff]"),
            vec![Role::Provider, Role::Staff]
        );
        assert_eq!(
            parse_roles(r#"["provider","admin"]"#),
            vec![Role::Provider, Role::Admin]
        );
        assert_eq!(parse_roles("patient"), vec![Role::Patient]);
        assert_eq!(
            parse_roles("patient,staff"),
            vec![Role::Patient, Role::Staff]
        );
        assert_eq!(parse_roles("[]"), vec![]);
        assert_eq!(
            parse_roles("[superuser root]"),
            vec![],
            "unknown names give no power"
        );
    }

    fn claims(sub: &str, groups: &str) -> HashMap<String, String> {
        HashMap::from([
            ("sub".to_owned(), sub.to_owned()),
            ("cognito:groups".to_owned(), groups.to_owned()),
        ])
    }

    #[test]
    fn a_caller_is_its_sub_and_roles() {
        let id = Uuid::new_v4();
        let c =
            Caller::from_claims(&claims(&id.to_string(), "[patient]"), "cognito:groups").unwrap();
        assert_eq!(
            c,
            Caller {
                id,
                roles: vec![Role::Patient]
            }
        );
        assert_eq!(
            Caller::from_claims(&HashMap::new(), "cognito:groups"),
            Err(CallerError::NoToken)
        );
        assert_eq!(
            Caller::from_claims(&claims("alice", "[patient]"), "cognito:groups"),
            Err(CallerError::BadSubject)
        );
    }

    #[test]
    fn patients_act_for_themselves_and_staff_for_anyone() {
        let me = PatientId::new();
        let other = PatientId::new();
        let provider = ProviderId::new();
        let patient = Caller {
            id: me.uuid(),
            roles: vec![Role::Patient],
        };
        assert!(patient.may_act_for_patient(me) && !patient.may_act_for_patient(other));
        assert!(patient.may_read(me, provider) && !patient.may_read(other, provider));
        assert!(
            !patient.may_act_for_provider(provider) && !patient.may_read_private_notes(provider)
        );

        let doc = Caller {
            id: provider.uuid(),
            roles: vec![Role::Provider],
        };
        assert!(doc.may_read(other, provider) && doc.may_read_private_notes(provider));
        assert!(!doc.may_read(other, ProviderId::new()) && !doc.may_act_for_patient(other));

        let staff = Caller {
            id: Uuid::new_v4(),
            roles: vec![Role::Staff],
        };
        assert!(staff.may_act_for_patient(other) && staff.may_act_for_provider(provider));
        assert!(
            !staff.may_read_private_notes(provider),
            "private notes are the provider's and admins' only"
        );
        let admin = Caller {
            id: Uuid::new_v4(),
            roles: vec![Role::Admin],
        };
        assert!(admin.may_read_private_notes(provider));
    }

    #[test]
    fn a_role_only_counts_with_the_matching_id() {
        let id = Uuid::new_v4();
        let provider_only = Caller {
            id,
            roles: vec![Role::Provider],
        };
        assert!(
            !provider_only.is_patient(PatientId::from_uuid(id)),
            "a provider is not a patient by sharing an id"
        );
    }
}
