//! Check-in, start, complete, no-show and `PATCH /appointments/{id}`: each one conditional UpdateItem
//! (start reads first, for the wait time). When DynamoDB refuses, the item as it was names the rule.

use jiff::civil::Date;
use serde::Deserialize;

use super::{caller, json, json_body, path_id, ApiError, Checks, Code, Ctx, Reply, Request};
use crate::domain::lifecycle::{permitted, refusal, transition, Action, Set, Transition};
use crate::domain::{AppointmentId, AppointmentStatus, Caller, ConsultationType, Day, Vitals};
use crate::store::lifecycle::Outcome;

/// The change an action makes, with every rule of its row in `domain::lifecycle::RULES` as a condition.
fn change_for(
    ctx: &Ctx,
    who: &Caller,
    action: Action,
    id: AppointmentId,
) -> Result<Transition, ApiError> {
    transition(action, who, id, ctx.now(), ctx.config.check_in).ok_or_else(|| {
        ApiError::forbidden(format!(
            "this role may not have appointments {}",
            action.rule().verb
        ))
    })
}

/// Applies `change`; on refusal, explains it from the item as it was.
async fn apply(ctx: &Ctx, who: &Caller, change: &Transition) -> Reply {
    match ctx.store.change(change).await? {
        Outcome::Done(a) => {
            tracing::info!(appointment_id = %a.id, status = a.status.as_str(), "appointment changed");
            Ok(json(200, &a.as_seen_by(who)))
        }
        Outcome::Refused(old) => Err(refusal(
            change.action,
            who,
            old.as_ref(),
            change.now,
            ctx.config.check_in,
        )
        .map(ApiError::from)
        .unwrap_or_else(|| {
            ApiError::new(
                Code::ConcurrentUpdate,
                "the appointment changed meanwhile; retry",
            )
        })),
    }
}

async fn simple(ctx: &Ctx, req: Request, action: Action) -> Reply {
    let who = caller(ctx, &req)?;
    let id: AppointmentId = path_id(&req, "id")?;
    let change = change_for(ctx, &who, action, id)?;
    apply(ctx, &who, &change).await
}

/// `POST /appointments/{id}/check-in`: from 30 minutes before the start to 15 after (configurable).
pub async fn check_in(ctx: &Ctx, req: Request) -> Reply {
    simple(ctx, req, Action::CheckIn).await
}

/// `POST /appointments/{id}/confirm`: the provider (staff, an admin) accepts a pending request: it is
/// `scheduled`, its reminders planned. One conditional UpdateItem.
pub async fn confirm(ctx: &Ctx, req: Request) -> Reply {
    simple(ctx, req, Action::Confirm).await
}

/// `POST /appointments/{id}/no-show`: a scheduled or confirmed appointment whose end has passed.
pub async fn no_show(ctx: &Ctx, req: Request) -> Reply {
    simple(ctx, req, Action::NoShow).await
}

/// `POST /appointments/{id}/start`: a confirmed appointment; records the wait since check-in and, for a
/// video consultation, its room. Two requests: the wait time needs the check-in time.
pub async fn start(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    let id: AppointmentId = path_id(&req, "id")?;
    let mut change = change_for(ctx, &who, Action::Start, id)?;
    let read = ctx.store.appointment(id).await?;
    let current = permitted(Action::Start, &who, read, change.now, ctx.config.check_in)?;
    change.from = vec![current.status];
    if let Some(checked_in) = current.check_in_time {
        change.set(Set::WaitTime(checked_in.until(change.now).as_mins().max(0)));
    }
    if current.consultation_type == ConsultationType::Video {
        let room = uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_URL,
            format!("appointment/{id}").as_bytes(),
        )
        .to_string();
        let url = format!("{}/{room}", ctx.config.video_base_url.trim_end_matches('/'));
        change.set(Set::VideoRoom { id: room, url });
    }
    apply(ctx, &who, &change).await
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Completion {
    notes: Option<String>,
    private_notes: Option<String>,
    vitals: Option<Vitals>,
    follow_up_required: Option<bool>,
    follow_up_date: Option<Day>,
    follow_up_notes: Option<String>,
}

impl Completion {
    fn check(&self, today: Date, checks: &mut Checks) {
        checks.text(&self.notes, "notes", 5000);
        checks.text(&self.private_notes, "privateNotes", 5000);
        checks.text(&self.follow_up_notes, "followUpNotes", 2000);
        for (field, message) in self
            .vitals
            .as_ref()
            .map(Vitals::problems)
            .unwrap_or_default()
        {
            checks.check(false, field, message);
        }
        checks.check(
            self.follow_up_date.is_none_or(|d| d.date() > today),
            "followUpDate",
            "must be after today",
        );
        checks.check(
            self.follow_up_required == Some(true)
                || (self.follow_up_date.is_none() && self.follow_up_notes.is_none()),
            "followUpRequired",
            "must be true when a follow-up date or notes are given",
        );
    }

    fn sets(self, change: &mut Transition) {
        let values = [
            self.notes.map(Set::Notes),
            self.private_notes.map(Set::PrivateNotes),
            self.vitals.map(Set::Vitals),
            self.follow_up_required.map(Set::FollowUpRequired),
            self.follow_up_date.map(|d| Set::FollowUpDate(d.date())),
            self.follow_up_notes.map(Set::FollowUpNotes),
        ];
        for v in values.into_iter().flatten() {
            change.set(v);
        }
    }
}

/// `POST /appointments/{id}/complete`: an appointment in progress, by its provider or an admin.
pub async fn complete(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    let id: AppointmentId = path_id(&req, "id")?;
    let body: Completion = if req.body().is_empty() {
        Completion::default()
    } else {
        json_body(&req)?
    };
    let mut checks = Checks::default();
    body.check(ctx.now().utc_date(), &mut checks);
    checks.finish()?;
    let mut change = change_for(ctx, &who, Action::Complete, id)?;
    body.sets(&mut change);
    apply(ctx, &who, &change).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Patch {
    status: Option<AppointmentStatus>,
    notes: Option<String>,
    private_notes: Option<String>,
    consultation_type: Option<ConsultationType>,
    cancellation_reason: Option<String>,
}

/// `PATCH /appointments/{id}`: notes, private notes, consultation type, and status by the transition
/// table. A status change follows the same rules as its own endpoint (check-in window, no-show after
/// the end); cancelling this way frees the seat as `POST .../cancel` does.
pub async fn update(ctx: &Ctx, req: Request) -> Reply {
    let who = caller(ctx, &req)?;
    let id: AppointmentId = path_id(&req, "id")?;
    let body: Patch = json_body(&req)?;
    let mut checks = Checks::default();
    checks.text(&body.notes, "notes", 5000);
    checks.text(&body.private_notes, "privateNotes", 5000);
    checks.text(&body.cancellation_reason, "cancellationReason", 500);
    let edits =
        body.notes.is_some() || body.private_notes.is_some() || body.consultation_type.is_some();
    checks.check(
        edits || body.status.is_some(),
        "body",
        "nothing to update: give status, notes, privateNotes or consultationType",
    );
    checks.check(
        body.cancellation_reason.is_none() || body.status == Some(AppointmentStatus::Cancelled),
        "cancellationReason",
        "only with status cancelled",
    );
    checks.check(
        !(edits && body.status == Some(AppointmentStatus::Cancelled)),
        "status",
        "a cancellation cannot be combined with other changes",
    );
    checks.finish()?;

    if (body.notes.is_some() || body.private_notes.is_some())
        && Action::Complete.scope(&who).is_none()
    {
        return Err(ApiError::forbidden(
            "only the provider or an admin may write notes",
        ));
    }
    let action = match body.status {
        None => Action::Edit,
        Some(to) => match Action::leading_to(to) {
            Some(Action::Start) if edits => {
                return Err(ApiError::field(
                    "status",
                    "starting cannot be combined with other changes",
                ));
            }
            Some(Action::Start) => return start(ctx, req).await,
            Some(Action::Cancel) => {
                let reason = body.cancellation_reason.as_deref().unwrap_or("cancelled");
                return super::appointments::cancel_as(ctx, &who, id, reason).await;
            }
            Some(Action::Reschedule) => {
                return Err(ApiError::new(
                    Code::InvalidTransition,
                    "no appointment can become rescheduled; use POST /appointments/{id}/reschedule",
                ));
            }
            Some(action) => action,
            None => {
                return Err(ApiError::new(
                    Code::InvalidTransition,
                    format!("no appointment can become {}", to.as_str()),
                ));
            }
        },
    };
    let mut change = change_for(ctx, &who, action, id)?;
    if body.notes.is_some() || body.private_notes.is_some() {
        // Notes are the clinician's (the provider or an admin): narrow the scope to theirs.
        change.scope = Action::Complete
            .scope(&who)
            .ok_or_else(|| ApiError::forbidden("only the provider or an admin may write notes"))?;
    }
    if let Some(asked) = body.consultation_type {
        offered(ctx, &who, id, asked).await?;
    }
    let edits = [
        body.notes.map(Set::Notes),
        body.private_notes.map(Set::PrivateNotes),
        body.consultation_type.map(Set::ConsultationType),
    ];
    for v in edits.into_iter().flatten() {
        change.set(v);
    }
    apply(ctx, &who, &change).await
}

/// A typed appointment changes only to a consultation type its type offers, as booking requires: two
/// more reads (the appointment, its type). One the caller may not see is left to the update to refuse.
async fn offered(
    ctx: &Ctx,
    who: &Caller,
    id: AppointmentId,
    asked: ConsultationType,
) -> Result<(), ApiError> {
    let Some(a) = ctx.store.appointment(id).await? else {
        return Ok(());
    };
    let Some(type_id) = a
        .appointment_type_id
        .filter(|_| who.may_read(a.patient_id, a.provider_id))
    else {
        return Ok(());
    };
    match ctx.store.appointment_type(type_id).await? {
        Some(kind) if !kind.consultation_types.contains(&asked) => {
            Err(crate::domain::admission::Inadmissible::ConsultationNotOffered.into())
        }
        _ => Ok(()),
    }
}
