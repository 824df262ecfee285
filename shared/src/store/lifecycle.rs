//! Status changes and edits as one conditional UpdateItem: the condition carries every rule (current
//! status, the caller's ownership, the time window), `ALL_NEW` returns the result, and on refusal
//! `ALL_OLD` returns the item as it was so that the API can say which rule failed without another read.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::conditional::answered;
use super::{from_item, key_item, keys, n, s, Store, StoreError};
use crate::domain::lifecycle::{Refusal, Scope, Set, Transition};
use crate::domain::{Appointment, AppointmentStatus, UtcTime};
use crate::retry::{Retry, Spent};
use aws_sdk_dynamodb::error::SdkError;

/// The attribute a value is stored under, and the value as DynamoDB holds it.
fn attribute(value: &Set) -> Result<Vec<(&'static str, AttributeValue)>, StoreError> {
    let time = |t: &UtcTime| s(t.to_string());
    Ok(match value {
        Set::CheckInTime(t) => vec![("checkInTime", time(t))],
        Set::ActualStartTime(t) => vec![("actualStartTime", time(t))],
        Set::ActualEndTime(t) => vec![("actualEndTime", time(t))],
        Set::WaitTime(mins) => vec![("waitTime", n(mins))],
        Set::VideoRoom { id, url } => vec![("videoRoomId", s(id)), ("videoRoomUrl", s(url))],
        Set::Notes(v) => vec![("notes", s(v))],
        Set::PrivateNotes(v) => vec![("privateNotes", s(v))],
        Set::Vitals(v) => vec![(
            "vitals",
            serde_dynamo::to_attribute_value(v)
                .map_err(|e| StoreError::Corrupt(format!("vitals: {e}")))?,
        )],
        Set::FollowUpRequired(v) => vec![("followUpRequired", AttributeValue::Bool(*v))],
        Set::FollowUpDate(d) => vec![("followUpDate", s(d.to_string()))],
        Set::FollowUpNotes(v) => vec![("followUpNotes", s(v))],
        Set::ConsultationType(c) => vec![("consultationType", s(c.as_str()))],
    })
}

/// Why an action on an appointment did not happen: a rule refused it, or the store failed.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("refused: {0:?}")]
    Refused(Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<Refusal> for ChangeError {
    fn from(r: Refusal) -> Self {
        ChangeError::Refused(r)
    }
}

impl Retry for ChangeError {
    fn is_transient(&self) -> bool {
        matches!(self, ChangeError::Store(e) if e.is_transient())
    }

    fn spent(spent: Spent, _last: Option<Self>) -> Self {
        StoreError::from(spent).into()
    }
}

#[derive(Debug)]
pub enum Outcome {
    Done(Appointment),
    /// A condition failed; the item as it was, if it exists.
    Refused(Option<Appointment>),
}

impl Store {
    /// Writes `c` as one conditional UpdateItem.
    pub async fn change(&self, c: &Transition) -> Result<Outcome, StoreError> {
        let mut names: HashMap<String, String> = HashMap::new();
        let mut values: HashMap<String, AttributeValue> = HashMap::from([
            (":now".to_owned(), s(c.now.to_string())),
            (":by".to_owned(), s(c.by.to_string())),
        ]);
        let mut sets = vec!["updatedAt = :now".to_owned(), "updatedBy = :by".to_owned()];
        if let Some(to) = c.to {
            names.insert("#status".into(), "status".into());
            values.insert(":to".into(), s(to.as_str()));
            sets.push("#status = :to".into());
        }
        let written: Vec<(&str, AttributeValue)> = c
            .sets
            .iter()
            .map(attribute)
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect();
        for (i, (attr, value)) in written.into_iter().enumerate() {
            names.insert(format!("#a{i}"), attr.to_owned());
            values.insert(format!(":a{i}"), value);
            sets.push(format!("#a{i} = :a{i}"));
        }
        let mut update = format!("SET {}{}", sets.join(", "), super::NEXT_VERSION);
        if c.to.is_some() {
            // Out of the pending requests' index (GSI3) once the status moves on.
            update.push_str(" REMOVE GSI3PK, GSI3SK");
        }
        names.insert(super::VERSION_NAME.0.into(), super::VERSION_NAME.1.into());
        let (step, one) = super::version_step();
        values.insert(step.into(), one);

        let mut condition = vec!["attribute_exists(PK)".to_owned()];
        if c.from.len() < AppointmentStatus::ALL.len() {
            names.insert("#status".into(), "status".into());
            let (clause, named) = super::status_in("f", c.from.iter().map(|st| st.as_str()));
            values.extend(named);
            condition.push(clause);
        }
        let me = |id: uuid::Uuid, values: &mut HashMap<String, AttributeValue>| {
            values.insert(":me".into(), s(id.to_string()));
        };
        match c.scope {
            Scope::Any => {}
            Scope::Patient(id) => {
                me(id, &mut values);
                condition.push("patientId = :me".into());
            }
            Scope::Provider(id) => {
                me(id, &mut values);
                condition.push("providerId = :me".into());
            }
            Scope::PatientOrProvider(id) => {
                me(id, &mut values);
                condition.push("(patientId = :me OR providerId = :me)".into());
            }
        }
        if let Some((lo, hi)) = c.start_between {
            // Check-in opens at the appointment's own `terms.checkInOpensAt` (its provider's setting when
            // booked); one booked before terms existed opens by the configuration (`:hi`).
            values.insert(":lo".into(), s(lo.to_string()));
            values.insert(":hi".into(), s(hi.to_string()));
            values.insert(":at".into(), s(c.now.to_string()));
            names.insert("#terms".into(), "terms".into());
            names.insert("#opens".into(), "checkInOpensAt".into());
            condition.push(
                "startTime >= :lo AND (#terms.#opens <= :at OR (attribute_not_exists(#terms) AND startTime <= :hi))"
                    .into(),
            );
        }
        if let Some(end) = c.ended_by {
            values.insert(":end".into(), s(end.to_string()));
            condition.push("endTime <= :end".into());
        }

        let update = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_item(&keys::appointment(c.id))))
            .update_expression(update)
            .condition_expression(condition.join(" AND "))
            .set_expression_attribute_names((!names.is_empty()).then_some(names))
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        // A plain write meets `TransactionConflictException` while a transaction holds the item.
        match answered("change appointment", || update.clone().send()).await? {
            Ok(out) => Ok(Outcome::Done(from_item(
                out.attributes.unwrap_or_default(),
            )?)),
            Err(SdkError::ServiceError(e)) => match e.into_err() {
                UpdateItemError::ConditionalCheckFailedException(failed) => {
                    Ok(Outcome::Refused(failed.item.map(from_item).transpose()?))
                }
                other => Err(StoreError::service(other)),
            },
            Err(e) => Err(e.into()),
        }
    }
}
