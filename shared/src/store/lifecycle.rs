//! Status changes and edits as one conditional UpdateItem: the condition carries every rule (current
//! status, the caller's ownership, the time window), `ALL_NEW` returns the result, and on refusal
//! `ALL_OLD` returns the item as it was so that the API can say which rule failed without another read.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::retry::answered;
use super::{from_item, key_item, keys, s, Store, StoreError};
use crate::domain::lifecycle::Scope;
use crate::domain::{Appointment, AppointmentId, AppointmentStatus, UtcTime};
use aws_sdk_dynamodb::error::SdkError;

/// One change to an appointment and the conditions under which it may happen.
#[derive(Clone, Debug)]
pub struct Change {
    pub id: AppointmentId,
    pub scope: Scope,
    /// The statuses it may be in; empty: any.
    pub from: Vec<AppointmentStatus>,
    pub to: Option<AppointmentStatus>,
    pub set: Vec<(&'static str, AttributeValue)>,
    /// The start must lie in this range (check-in).
    pub start_between: Option<(UtcTime, UtcTime)>,
    /// The end must be at or before this instant (no-show).
    pub ended_by: Option<UtcTime>,
    pub now: UtcTime,
}

impl Change {
    pub fn new(id: AppointmentId, scope: Scope, now: UtcTime) -> Change {
        Change {
            id,
            scope,
            from: vec![],
            to: None,
            set: vec![],
            start_between: None,
            ended_by: None,
            now,
        }
    }
}

#[derive(Debug)]
pub enum Outcome {
    Done(Appointment),
    /// A condition failed; the item as it was, if it exists.
    Refused(Option<Appointment>),
}

impl Store {
    pub async fn change(&self, c: &Change) -> Result<Outcome, StoreError> {
        let mut names: HashMap<String, String> = HashMap::new();
        let mut values: HashMap<String, AttributeValue> =
            HashMap::from([(":now".to_owned(), s(c.now.to_string()))]);
        let mut sets = vec!["updatedAt = :now".to_owned()];
        if let Some(to) = c.to {
            names.insert("#status".into(), "status".into());
            values.insert(":to".into(), s(to.as_str()));
            sets.push("#status = :to".into());
        }
        for (i, (attr, value)) in c.set.iter().enumerate() {
            names.insert(format!("#a{i}"), (*attr).to_owned());
            values.insert(format!(":a{i}"), value.clone());
            sets.push(format!("#a{i} = :a{i}"));
        }
        let update = format!("SET {}", sets.join(", "));

        let mut condition = vec!["attribute_exists(PK)".to_owned()];
        if !c.from.is_empty() {
            names.insert("#status".into(), "status".into());
            let placeholders: Vec<String> = c
                .from
                .iter()
                .enumerate()
                .map(|(i, st)| {
                    values.insert(format!(":f{i}"), s(st.as_str()));
                    format!(":f{i}")
                })
                .collect();
            condition.push(format!("#status IN ({})", placeholders.join(", ")));
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
            values.insert(":lo".into(), s(lo.to_string()));
            values.insert(":hi".into(), s(hi.to_string()));
            condition.push("startTime BETWEEN :lo AND :hi".into());
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
