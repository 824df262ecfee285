//! Booking a recurring series (DESIGN.md section 5): read the first slot, the patient's guard and the
//! type (one BatchGetItem), the provider's zone (one GetItem), then for each later occurrence the
//! provider's slot that starts at the same local wall-clock time (one Query each); then one transaction
//! takes a seat of each, puts each appointment, records all their times in the patient's guard under
//! its version, checks the type, and puts the series item. All or nothing; with `partial`, what can be
//! booked is, and the rest is listed. A type longer than the first slot takes, each occurrence, the
//! run of consecutive slots that covers it (as a booking does): the first's with one Query more, the
//! others' within their Query, which then reads up to the visit's end.

use jiff::SignedDuration;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::booking::{put_new, still_active, BookingError};
use super::guard::Guard;
use super::idempotency::{self, put_unless_live, IdempotencyKey, SeriesRecord};
use super::items::{item, Stored};
use super::keys::Range;
use super::keys::{self, Key};
use super::{from_item, Store, StoreError, Writes};
use crate::domain::admission::{bookable, fits, run, span, Inadmissible};
use crate::domain::series::{at, dates, Frequency};
use crate::domain::{
    Appointment, AppointmentId, ConsultationType, Interval, PatientId, ProviderId, Slot, SlotId,
    UtcTime,
};
use crate::retry::{retrying, Attempt, Retry, Spent};

/// A series as stored and shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Series {
    pub id: Uuid,
    pub patient_id: PatientId,
    pub provider_id: ProviderId,
    pub frequency: Frequency,
    pub appointment_ids: Vec<AppointmentId>,
    /// Dates of the series with no bookable slot (only with `partial`).
    #[serde(default)]
    pub skipped: Vec<Skipped>,
    pub created_at: UtcTime,
}

/// An occurrence that could not be booked, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Skipped {
    pub date: jiff::civil::Date,
    /// `no_slot`, `slot_full`, `slot_unavailable`, `type_not_allowed`, `slot_too_short` (no run of
    /// consecutive slots covers the type from it), `patient_conflict`, or a rule of the
    /// provider's settings: `too_late_to_book`, `too_far_ahead`, `daily_limit_reached`.
    pub reason: String,
}

impl Stored for Series {
    fn key(&self) -> Key {
        keys::series(self.id)
    }
}

/// What a series asks for, parsed and authorized.
#[derive(Clone, Debug)]
pub struct NewSeries {
    /// The caller and their `Idempotency-Key`, if they sent one: a retry returns the first series.
    pub caller: Uuid,
    pub idempotency_key: Option<IdempotencyKey>,
    pub first_slot: SlotId,
    pub patient_id: PatientId,
    pub frequency: Frequency,
    pub count: Option<usize>,
    pub until: Option<jiff::civil::Date>,
    pub appointment_type_id: Option<Uuid>,
    pub consultation_type: Option<ConsultationType>,
    pub reason_for_visit: Option<String>,
    pub partial: bool,
    pub max_active: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SeriesError {
    #[error("no bookable slot on {}", .0.iter().map(|s| format!("{} ({})", s.date, s.reason)).collect::<Vec<_>>().join(", "))]
    Unavailable(Vec<Skipped>),
    /// Too many or too few occurrences for `count` or `until`.
    #[error(transparent)]
    Dates(#[from] crate::domain::series::SeriesDates),
    #[error(transparent)]
    Booking(#[from] BookingError),
    /// More writes than one transaction takes: `occurrences` of runs of up to `slots` slots.
    #[error("{occurrences} occurrences of {slots} slots each are more than one transaction books at once (at most {most} such occurrences): book the series in parts, or in longer slots")]
    TooLarge {
        occurrences: usize,
        slots: usize,
        most: usize,
    },
}

/// The most writes of one DynamoDB transaction.
const MAX_ACTIONS: usize = 100;

/// Whether occurrences of `runs` slots each are booked by one transaction: a seat of each slot, an
/// appointment and a day's count an occurrence, and four more writes (the guard, the type, the
/// series, the key).
fn one_transaction(runs: &[usize]) -> Result<(), SeriesError> {
    let actions: usize = runs.iter().map(|r| r + 2).sum::<usize>() + 4;
    if actions <= MAX_ACTIONS {
        return Ok(());
    }
    let each = runs.iter().copied().max().unwrap_or(1);
    Err(SeriesError::TooLarge {
        occurrences: runs.len(),
        slots: each,
        most: (MAX_ACTIONS - 4) / (each + 2),
    })
}

/// The reason an occurrence's slot is skipped for, as [`Skipped::reason`] names it.
fn occurrence_refused(e: &Inadmissible) -> &'static str {
    match e {
        Inadmissible::SlotFull => "slot_full",
        Inadmissible::SlotUnavailable(_) => "slot_unavailable",
        Inadmissible::SlotTooShort { .. } => "slot_too_short",
        Inadmissible::InRun(_, inner) => occurrence_refused(inner),
        _ => "type_not_allowed",
    }
}

impl Retry for SeriesError {
    fn is_transient(&self) -> bool {
        matches!(self, SeriesError::Booking(e) if e.is_transient())
    }

    fn spent(spent: Spent, _last: Option<Self>) -> Self {
        StoreError::from(spent).into()
    }
}

impl From<StoreError> for SeriesError {
    fn from(e: StoreError) -> Self {
        SeriesError::Booking(e.into())
    }
}

impl From<aws_sdk_dynamodb::error::BuildError> for SeriesError {
    fn from(e: aws_sdk_dynamodb::error::BuildError) -> Self {
        SeriesError::Booking(StoreError::from(e).into())
    }
}

impl NewSeries {
    /// What makes two series requests the same, hashed.
    fn fingerprint(&self) -> String {
        idempotency::fingerprint(&serde_json::json!([
            self.first_slot,
            self.patient_id,
            self.frequency,
            self.count,
            self.until,
            self.appointment_type_id,
            self.consultation_type,
            self.reason_for_visit,
            self.partial,
        ]))
    }

    /// Where its key's record lives: the booking keys' table, in a namespace of its own.
    fn key_record(&self) -> Option<Key> {
        self.idempotency_key
            .as_ref()
            .map(|k| k.series_record(self.caller))
    }
}

/// A booked series, and whether it is a replay of an earlier request with the same key.
pub type Booked = (Series, Vec<Appointment>, bool);

impl Store {
    pub async fn series(&self, id: Uuid) -> Result<Option<Series>, StoreError> {
        self.read(&keys::series(id)).await
    }

    pub async fn book_series(&self, req: &NewSeries, now: UtcTime) -> Result<Booked, SeriesError> {
        retrying("book series", || self.book_series_once(req, now)).await
    }

    async fn book_series_once(
        &self,
        req: &NewSeries,
        now: UtcTime,
    ) -> Result<Attempt<Booked>, SeriesError> {
        let slot_key = keys::slot(req.first_slot);
        let guard_key = keys::patient_schedule(req.patient_id);
        let type_key = req.appointment_type_id.map(keys::appointment_type);
        let record_key = req.key_record();
        let mut wanted = vec![slot_key.clone(), guard_key.clone()];
        wanted.extend(type_key.clone());
        wanted.extend(record_key.clone());
        let mut found = self.get_many(&wanted).await?;
        let earlier: Option<SeriesRecord> = record_key
            .as_ref()
            .and_then(|k| found.remove(k))
            .map(from_item)
            .transpose()?;
        if let Some(record) = earlier.filter(|r| !r.expired(now)) {
            if record.request != req.fingerprint() {
                return Err(BookingError::IdempotencyMismatch.into());
            }
            let series = self.series(record.series_id).await?.ok_or_else(|| {
                StoreError::Corrupt("an idempotency record without its series".into())
            })?;
            let appointments = self.appointments_by_id(&series.appointment_ids).await?;
            return Ok(Attempt::Done((series, appointments, true)));
        }
        let first: Slot = from_item(found.remove(&slot_key).ok_or(BookingError::SlotNotFound)?)?;
        bookable(&first, now, false).map_err(BookingError::from)?;
        let kind = super::booking::type_of(&mut found, type_key.as_ref())?;
        let guard_item = found.remove(&guard_key);
        let guard = Guard::read(guard_key, guard_item)?;
        let rules = self.provider_rules(first.provider_id).await?;
        let zone = rules.zone();
        let local = first.start_time.timestamp().to_zoned(zone.clone());
        let days = dates(local.date(), req.frequency, req.count, req.until)?;
        let length = SignedDuration::from_secs(
            first.end_time.timestamp().as_second() - first.start_time.timestamp().as_second(),
        );

        // Each occurrence's slot: the first one, then the provider's slot at the same local time; a
        // type longer than the slot takes the run that starts with it, read by the same Query (up to
        // the visit's end).
        let visit = kind
            .as_ref()
            .filter(|k| fits(&first, k.duration_minutes).is_err())
            .map_or(SignedDuration::from_secs(1), |k| {
                SignedDuration::from_mins(i64::from(k.duration_minutes))
            });
        let mut chosen: Vec<(Vec<Slot>, ConsultationType)> = vec![];
        let mut skipped: Vec<Skipped> = vec![];
        let mut taken: Vec<Interval> = vec![];
        for (i, day) in days.iter().enumerate() {
            let (candidates, following): (Vec<Slot>, Vec<Slot>) = if i == 0 {
                (
                    vec![first.clone()],
                    self.following(&first, kind.as_ref().map(|k| k.duration_minutes))
                        .await?,
                )
            } else {
                match at(*day, local.time(), &zone) {
                    None => (vec![], vec![]),
                    Some(start) => {
                        let to = start.plus(visit);
                        let query = Range::provider_slots(first.provider_id, start, to).query(self);
                        let mut found: Vec<Slot> = self.all_pages(query).await?;
                        found.sort_by_key(|s| s.start_time);
                        found.into_iter().partition(|s| s.start_time == start)
                    }
                }
            };
            let mut reason = "no_slot";
            let pick = candidates.iter().find_map(|s| {
                if s.end_time.timestamp().as_second() - s.start_time.timestamp().as_second()
                    != length.as_secs()
                {
                    return None;
                }
                if let Err(e) = bookable(s, now, false) {
                    reason = occurrence_refused(&e);
                    return None;
                }
                let (consultation, run) = match run(
                    s,
                    &following,
                    kind.as_ref(),
                    req.consultation_type,
                    now,
                    false,
                ) {
                    Ok(found) => found,
                    Err(e) => {
                        reason = occurrence_refused(&e);
                        return None;
                    }
                };
                if let Err(broken) = rules.admits(s.start_time, now) {
                    reason = broken.code();
                    return None;
                }
                let iv = span(&run)?;
                if !guard.clashes(&iv, None, now).is_empty()
                    || taken.iter().any(|t| t.overlaps(&iv))
                {
                    reason = "patient_conflict";
                    return None;
                }
                Some((
                    run.into_iter().cloned().collect::<Vec<Slot>>(),
                    consultation,
                    iv,
                ))
            });
            match pick {
                Some((run, c, iv)) => {
                    taken.push(iv);
                    chosen.push((run, c));
                }
                None => skipped.push(Skipped {
                    date: *day,
                    reason: reason.into(),
                }),
            }
        }
        // A provider with a daily limit: the chosen days' counts, in one batch read, so that a refusal
        // names every full day (the transaction checks them again against racing bookings).
        let chosen_days: Vec<jiff::civil::Date> = chosen
            .iter()
            .map(|(run, _)| rules.day_of(run[0].start_time))
            .collect();
        let counted_full = self
            .full_days(first.provider_id, &rules, &chosen_days)
            .await?;
        if !counted_full.is_empty() {
            let (kept, at_limit): (Vec<_>, Vec<_>) = chosen
                .into_iter()
                .partition(|(run, _)| !counted_full.contains(&rules.day_of(run[0].start_time)));
            skipped.extend(at_limit.iter().map(|(run, _)| Skipped {
                date: rules.day_of(run[0].start_time),
                reason: "daily_limit_reached".into(),
            }));
            skipped.sort_by_key(|s| s.date);
            chosen = kept;
        }
        if chosen.is_empty() || (!skipped.is_empty() && !req.partial) {
            return Err(SeriesError::Unavailable(skipped));
        }
        if guard.active(now) + chosen.len() > req.max_active {
            return Err(BookingError::TooManyAppointments(req.max_active).into());
        }
        // One transaction books the series: a seat of each slot, an appointment and a day's count
        // an occurrence, and four more writes, within DynamoDB's 100 actions
        // (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html).
        // Only runs of a long type can pass it (26 one-slot occurrences write 82).
        let runs: Vec<usize> = chosen.iter().map(|(run, _)| run.len()).collect();
        one_transaction(&runs)?;

        let series_id = Uuid::new_v4();
        let appointments: Vec<Appointment> = chosen
            .iter()
            .map(|(run, consultation)| {
                let mut a = Appointment::in_slot(
                    &run[0],
                    req.patient_id,
                    *consultation,
                    kind.as_ref(),
                    &rules,
                    now,
                );
                a.over(&run.iter().collect::<Vec<_>>());
                a.reason_for_visit = req.reason_for_visit.clone();
                a.recurring_appointment_id = Some(series_id);
                a.booked_by = Some(req.caller);
                a
            })
            .collect();
        let series = Series {
            id: series_id,
            patient_id: req.patient_id,
            provider_id: first.provider_id,
            frequency: req.frequency,
            appointment_ids: appointments.iter().map(|a| a.id).collect(),
            skipped,
            created_at: now,
        };

        #[derive(Clone, Copy, Debug, PartialEq)]
        enum W {
            Seat(usize),
            Day(usize),
            Appointment,
            Guard,
            TypeActive,
            Series,
            Key,
        }
        let mut writes = Writes::new();
        for (i, a) in appointments.iter().enumerate() {
            for slot in a.seats() {
                writes.add(W::Seat(i), self.take_seat(slot, now, false)?);
            }
            writes.add(W::Appointment, put_new(&self.table, item(a)?)?);
            writes.add(
                W::Day(i),
                self.count_day(a, rules.max_appointments_per_day)?,
            );
        }
        let entries: Vec<(String, Interval)> = appointments
            .iter()
            .map(|a| (a.id.to_string(), a.interval()))
            .collect();
        writes.add(W::Guard, guard.take_all(&self.table, &entries, now, None)?);
        if let Some(key) = &type_key {
            writes.add(W::TypeActive, still_active(&self.table, key)?);
        }
        writes.add(W::Series, put_new(&self.table, item(&series)?)?);
        if let Some(key) = &record_key {
            let record = SeriesRecord {
                series_id,
                request: req.fingerprint(),
                expires_at: idempotency::expiry(now),
            };
            let mut stored = super::to_item(&record, key, &[])?;
            stored.insert(keys::EXPIRES_AT.to_owned(), super::n(record.expires_at));
            writes.add(W::Key, put_unless_live(&self.table, stored, now)?);
        }
        let Some(refused) = self.commit(writes).await? else {
            return Ok(Attempt::Done((series, appointments, false)));
        };
        if refused.has(W::Key) {
            return Ok(Attempt::Again); // the same key won meanwhile: the next read replays it
        }
        if refused.has(W::TypeActive) {
            return Err(
                BookingError::from(crate::domain::admission::Inadmissible::TypeInactive).into(),
            );
        }
        if refused.has(W::Guard)
            || (0..appointments.len()).any(|i| refused.has(W::Seat(i)) || refused.has(W::Day(i)))
        {
            // A seat went, the patient's time moved or a day filled meanwhile: read again (the
            // days' counts too) and choose.
            return Ok(Attempt::Again);
        }
        Err(StoreError::internal(format!("series cancelled: {refused:?}")).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_series_is_refused_only_when_one_transaction_cannot_book_it() {
        // 26 one-slot occurrences (the most a series has): 82 writes.
        assert!(one_transaction(&[1; 26]).is_ok());
        // Runs of three: 19 occurrences write 99, 20 would write 104.
        assert!(one_transaction(&[3; 19]).is_ok());
        match one_transaction(&[3; 20]) {
            Err(SeriesError::TooLarge {
                occurrences: 20,
                slots: 3,
                most: 19,
            }) => {}
            other => panic!("{other:?}"),
        }
    }
}
