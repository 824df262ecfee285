//! One typed helper per endpoint: each takes named arguments and answers the endpoint's typed view, or
//! the problem it answered, so that stories read as what happens rather than as `body["..."]`.

use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use shared::api::views::{
    Blocked, BulkCreated, NoShowReport, Page, Schedule, SeriesView, SlotView,
};
use shared::domain::hold::Hold;
use shared::domain::waitlist::Entry;
use shared::domain::{Appointment, AppointmentType};

use crate::*;

pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }

    pub fn id(&self) -> String {
        self.body["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no id in {}", self.body))
            .to_owned()
    }

    pub fn is_problem(&self) -> bool {
        self.headers
            .get("content-type")
            .is_some_and(|v| v == "application/problem+json")
    }
}

/// Asserts a success status, showing the body when it is not.
pub fn ok(r: &Reply, status: u16) {
    assert_eq!(r.status, status, "{}", r.body);
}

/// Asserts a problem+json answer with this status and code.
pub fn problem(r: &Reply, status: u16, code: &str) {
    assert_eq!((r.status, r.code()), (status, code), "{}", r.body);
    assert!(r.is_problem(), "content-type of {}", r.body);
    assert_eq!(r.body["status"], status);
}

/// A person with a token: a patient, a provider, staff or an admin.
#[derive(Clone, Debug)]
pub struct Actor {
    pub id: Uuid,
    pub token: String,
}

impl TestApp {
    /// A one-seat slot of `provider` `hours` ahead, booked and then cancelled by one patient while
    /// another waited for that day: the waiting entry once it holds the offer of the freed seat, and the
    /// slot's id.
    pub async fn a_held_offer(
        &self,
        provider: &Actor,
        hours: i64,
    ) -> (shared::domain::waitlist::Entry, String) {
        let slot = self.slot(provider, hours, 1).await;
        let first = self.patient().await;
        let booked = self.book(&first, &slot).await.done();
        let start = self.stored_slot(&slot).await.start_time;
        let date = start.timestamp().to_zoned(jiff::tz::TimeZone::UTC).date();
        let waiting = self.patient().await;
        let entry = self
            .wait_for_seat(&waiting, provider, &date.to_string())
            .await;
        self.cancel(&first, &booked.id.to_string(), "moved away")
            .await
            .done();
        let offered = self
            .entry_when(&entry.id.to_string(), |e| {
                e.status == shared::domain::waitlist::EntryStatus::Offered
            })
            .await;
        (offered, slot)
    }

    pub async fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .unwrap();
        let response = self
            .http
            .request(req)
            .await
            .expect("the local stack answers");
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| json!(String::from_utf8_lossy(&bytes)))
        };
        Reply {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        }
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.request("POST", path, Some(token), Some(body.to_string()), &[])
            .await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.request("GET", path, Some(token), None, &[]).await
    }

    pub async fn actor(&self, roles: &[&str]) -> Actor {
        self.actor_with_id(Uuid::new_v4(), roles).await
    }

    /// One signed in as `id` (the JWT's `sub`), with `roles`.
    pub async fn actor_with_id(&self, id: Uuid, roles: &[&str]) -> Actor {
        let r = self
            .request(
                "POST",
                "/_local/token",
                None,
                Some(json!({"sub": id, "roles": roles}).to_string()),
                &[],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        Actor {
            id,
            token: r.body["token"].as_str().unwrap().to_owned(),
        }
    }

    /// `n` new patients.
    pub async fn patients(&self, n: usize) -> Vec<Actor> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(self.patient().await);
        }
        out
    }

    pub async fn patient(&self) -> Actor {
        self.actor(&["patient"]).await
    }

    pub async fn provider(&self) -> Actor {
        self.actor(&["provider"]).await
    }

    pub async fn staff(&self) -> Actor {
        self.actor(&["staff"]).await
    }

    pub async fn admin(&self) -> Actor {
        self.actor(&["admin"]).await
    }

    /// `POST /slots` for `provider`, starting `hours` from now, lasting `minutes`.
    /// A slot that must be created (`NewSlot::at(start)`, with `.minutes(..)` and `.seats(..)`); its id.
    pub async fn slot_at(&self, provider: &Actor, slot: api::NewSlot<'_>) -> String {
        self.create_slot(provider, slot)
            .await
            .unwrap_or_else(|p| panic!("the slot is not created: {p:?}"))
            .id
            .to_string()
    }

    /// `POST /appointments/{id}/<action>` with an optional body.
    /// `POST /appointments/{id}/{action}`: the engine of the typed `check_in`, `start`, `complete` and
    /// `no_show`.
    async fn act(&self, who: &Actor, id: &str, action: &str, body: Option<Value>) -> Reply {
        let path = format!("/appointments/{id}/{action}");
        self.request(
            "POST",
            &path,
            Some(&who.token),
            body.map(|b| b.to_string()),
            &[],
        )
        .await
    }

    async fn patch(&self, who: &Actor, id: &str, body: Value) -> Reply {
        self.request(
            "PATCH",
            &format!("/appointments/{id}"),
            Some(&who.token),
            Some(body.to_string()),
            &[],
        )
        .await
    }

    /// `POST /slots/bulk` of 30-minute slots from `start` to `end` local time every day of
    /// `from`..=`to` in `zone`, which must succeed; its answer.
    pub async fn daily_slots(
        &self,
        provider: &Actor,
        zone: &str,
        (from, to): (&str, &str),
        (start, end): (&str, &str),
    ) -> BulkCreated {
        self.bulk(
            provider,
            bulk_body(provider, zone, from, to, every_day(start, end)),
        )
        .await
        .unwrap_or_else(|p| panic!("the slots are not created: {p:?}"))
    }

    /// A 30-minute slot of `provider` `hours` ahead with `seats` seats, which must be created; its id.
    pub async fn slot(&self, provider: &Actor, hours: i64, seats: u32) -> String {
        let start = whole_minutes_from_now(hours * 60).to_string();
        self.slot_at(provider, NewSlot::at(&start).seats(seats))
            .await
    }

    /// The stored waitlist entry once `done` holds for it, or a failure after 20 s.
    pub async fn entry_when(
        &self,
        id: &str,
        done: impl Fn(&shared::domain::waitlist::Entry) -> bool,
    ) -> shared::domain::waitlist::Entry {
        let id: shared::domain::EntryId = id.parse().expect("an entry id");
        let store = self.store();
        let mut last = None;
        for _ in 0..200 {
            let entry = store.waitlist_entry(id).await.expect("the entry is read");
            if let Some(e) = entry.as_ref().filter(|e| done(e)) {
                return e.clone();
            }
            last = entry;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the entry did not get there: {last:#?}");
    }
}

/// Working hours of one morning session, every day of the week.
pub fn every_day(start: &str, end: &str) -> Value {
    let day = json!({"morning": {"start": start, "end": end}});
    json!({"monday": day, "tuesday": day, "wednesday": day, "thursday": day, "friday": day, "saturday": day, "sunday": day})
}

/// A `POST /slots/bulk` body of 30-minute slots.
pub fn bulk_body(provider: &Actor, tz: &str, from: &str, to: &str, hours: Value) -> Value {
    json!({"providerId": provider.id, "timeZone": tz, "startDate": from, "endDate": to, "workingHours": hours, "slotDuration": 30})
}

/// Now plus `minutes`, on a whole minute.
pub fn whole_minutes_from_now(minutes: i64) -> shared::domain::UtcTime {
    let now = jiff::Timestamp::now().as_second();
    let t = (now / 60 + 1 + minutes) * 60;
    shared::domain::UtcTime::from_timestamp(jiff::Timestamp::from_second(t).unwrap())
}

/// `act(app, patient)` for each of `patients`, all at once; the answers in their order.
pub async fn each_at_once<T, F, Fut>(app: &Arc<TestApp>, patients: &[Actor], act: F) -> Vec<T>
where
    F: Fn(Arc<TestApp>, Actor) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    join_all(
        patients
            .iter()
            .cloned()
            .map(|p| act(app.clone(), p))
            .collect(),
    )
    .await
}

/// Each of `patients` books `slot`, all at once; the answers in their order.
pub async fn book_at_once(
    app: &Arc<TestApp>,
    patients: &[Actor],
    slot: &str,
) -> Vec<Answer<Appointment>> {
    each_at_once(app, patients, |app, p| {
        let slot = slot.to_owned();
        async move { app.book(&p, &slot).await }
    })
    .await
}

/// Each of `patients` holds a seat of `slot` for themself, all at once; the answers in their order.
pub async fn hold_at_once(app: &Arc<TestApp>, patients: &[Actor], slot: &str) -> Vec<Answer<Hold>> {
    each_at_once(app, patients, |app, p| {
        let slot = slot.to_owned();
        async move { app.hold(&p, &slot, json!({})).await }
    })
    .await
}

/// What `settled` reads of an answer, raw or typed.
pub trait Outcome: std::fmt::Debug {
    /// The status of a problem; `None` for a success.
    fn refused(&self) -> Option<(u16, &str)>;
    /// A success's exact status, when it is known (a typed answer keeps only its value).
    fn success_status(&self) -> Option<u16>;
    fn retry_after(&self) -> bool;
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.body)
    }
}

impl Outcome for Reply {
    fn refused(&self) -> Option<(u16, &str)> {
        (self.status >= 300).then(|| (self.status, self.code()))
    }
    fn success_status(&self) -> Option<u16> {
        (self.status < 300).then_some(self.status)
    }
    fn retry_after(&self) -> bool {
        self.headers.contains_key("retry-after")
    }
}

impl<T: std::fmt::Debug> Outcome for Answer<T> {
    fn refused(&self) -> Option<(u16, &str)> {
        self.as_ref().err().map(|p| (p.status, p.code.as_str()))
    }
    fn success_status(&self) -> Option<u16> {
        None
    }
    fn retry_after(&self) -> bool {
        self.as_ref().is_err_and(|p| p.retry_after)
    }
}

/// Asserts that an answer is one of `allowed` (status, code; code "" for a success), or, when the
/// emulator injects faults, the one 5xx the service may give: 503 `contended` with `Retry-After`.
/// Returns whether it was that 503.
#[track_caller]
pub fn settled(r: &impl Outcome, allowed: &[(u16, &str)], aws: Aws) -> bool {
    match r.refused() {
        Some((503, code)) if aws == Aws::Faulty => {
            assert_eq!(code, "contended", "{r:?}");
            assert!(r.retry_after(), "{r:?}");
            true
        }
        Some(refusal) => {
            assert!(
                allowed.contains(&refusal),
                "{r:?} is not one of {allowed:?}"
            );
            false
        }
        None => {
            let ok = match r.success_status() {
                Some(status) => allowed.contains(&(status, "")),
                None => allowed.iter().any(|(s, c)| c.is_empty() && *s < 300),
            };
            assert!(ok, "{r:?} is not one of {allowed:?}");
            false
        }
    }
}

/// A problem an endpoint answered (always problem+json: checked when it is made).
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub status: u16,
    pub code: String,
    /// The fields `errors` names, for 400 `validation_failed`.
    pub fields: Vec<String>,
    /// Their messages, in the same order.
    pub messages: Vec<String>,
    pub detail: String,
    /// Whether it came with `Retry-After` (a 503 `contended` must).
    pub retry_after: bool,
}

/// What an endpoint answered: its typed body, or its problem.
pub type Answer<T> = Result<T, Problem>;

impl Reply {
    /// The answer as `T` when it succeeded (with 200, which is checked), else its problem.
    pub fn answer<T: DeserializeOwned>(self) -> Answer<T> {
        self.answer_with(&[200])
    }

    /// The answer of an endpoint that makes something: `T` when it succeeded (with 201, which is
    /// checked), else its problem.
    pub fn made<T: DeserializeOwned>(self) -> Answer<T> {
        self.answer_with(&[201])
    }

    /// The answer as `T` when it succeeded with one of `success`, else its problem.
    pub fn answer_with<T: DeserializeOwned>(self, success: &[u16]) -> Answer<T> {
        if self.status < 300 {
            assert!(
                success.contains(&self.status),
                "{} answered where {success:?} was expected: {}",
                self.status,
                self.body
            );
            return Ok(
                serde_json::from_value(self.body.clone()).unwrap_or_else(|e| {
                    panic!("{} does not read as the endpoint's view: {e}", self.body)
                }),
            );
        }
        assert!(
            self.is_problem(),
            "an error that is not problem+json: {}",
            self.body
        );
        Err(Problem {
            status: self.status,
            code: self.code().to_owned(),
            fields: self.body["errors"]
                .as_array()
                .map(|e| {
                    e.iter()
                        .filter_map(|f| f["field"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            messages: self.body["errors"]
                .as_array()
                .map(|e| {
                    e.iter()
                        .filter_map(|f| f["message"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            detail: self.body["detail"].as_str().unwrap_or_default().to_owned(),
            retry_after: self.headers.contains_key("retry-after"),
        })
    }
}

/// The value of an answer that must have succeeded: `app.book(&p, &slot).await.done()`.
pub trait Done<T> {
    fn done(self) -> T;
}

impl<T> Done<T> for Answer<T> {
    #[track_caller]
    fn done(self) -> T {
        self.unwrap_or_else(|p| panic!("expected success, got {p:?}"))
    }
}

/// Asserts that `answer` is the problem `status` / `code`.
#[track_caller]
pub fn refused<T: std::fmt::Debug>(answer: &Answer<T>, status: u16, code: &str) {
    match answer {
        Err(p) => assert_eq!((p.status, p.code.as_str()), (status, code), "{p:?}"),
        Ok(v) => panic!("expected {status} {code}, got {v:?}"),
    }
}

/// A slot to create: `start` is RFC 3339; 30 minutes and one seat unless said.
#[derive(Clone, Debug)]
pub struct NewSlot<'a> {
    pub start: &'a str,
    pub minutes: i64,
    pub seats: u32,
    /// `allowedAppointmentTypes` (any type when empty).
    pub types: Vec<String>,
}

impl<'a> NewSlot<'a> {
    pub fn at(start: &'a str) -> NewSlot<'a> {
        NewSlot {
            start,
            minutes: 30,
            seats: 1,
            types: vec![],
        }
    }

    pub fn minutes(self, minutes: i64) -> Self {
        NewSlot { minutes, ..self }
    }

    pub fn seats(self, seats: u32) -> Self {
        NewSlot { seats, ..self }
    }

    pub fn types(self, types: &[&str]) -> Self {
        let types = types.iter().map(|t| (*t).to_owned()).collect();
        NewSlot { types, ..self }
    }
}

/// A booking: the slot, and optionally its consultation and type.
#[derive(Clone, Debug, Default)]
pub struct Booking<'a> {
    pub slot: &'a str,
    pub consultation: Option<&'a str>,
    pub appointment_type: Option<&'a str>,
    /// Its `Idempotency-Key`, if any.
    pub key: Option<&'a str>,
    /// Whom it is for (`patientId`), when the caller names someone.
    pub patient: Option<Uuid>,
    /// `isOverbook` (staff and admins only).
    pub overbook: bool,
}

impl<'a> From<&'a str> for Booking<'a> {
    fn from(slot: &'a str) -> Self {
        Booking {
            slot,
            ..Default::default()
        }
    }
}

impl<'a> From<&'a String> for Booking<'a> {
    fn from(slot: &'a String) -> Self {
        Booking::from(slot.as_str())
    }
}

impl TestApp {
    /// `method path` as `who`, with a JSON body if given.
    pub async fn send(&self, who: &Actor, method: &str, path: &str, body: Option<Value>) -> Reply {
        self.request(
            method,
            path,
            Some(&who.token),
            body.map(|b| b.to_string()),
            &[("content-type", "application/json")],
        )
        .await
    }

    /// `POST /slots` for `provider`.
    pub async fn create_slot(&self, provider: &Actor, slot: NewSlot<'_>) -> Answer<SlotView> {
        let start: shared::domain::UtcTime = slot.start.parse().expect("an RFC 3339 start");
        let end = start.plus(jiff::SignedDuration::from_mins(slot.minutes));
        let mut body = json!({"providerId": provider.id, "startTime": start, "endTime": end, "maxBookings": slot.seats});
        if !slot.types.is_empty() {
            body["allowedAppointmentTypes"] = json!(slot.types);
        }
        self.send(provider, "POST", "/slots", Some(body))
            .await
            .made()
    }

    /// `GET /slots/available`.
    pub async fn available(&self, who: &Actor, query: &str) -> Answer<Page<SlotView>> {
        self.send(who, "GET", &format!("/slots/available?{query}"), None)
            .await
            .answer()
    }

    /// `POST /appointments` as `who`: `book(&patient, &slot)`, or with a type, a consultation, a
    /// `patientId` or an `Idempotency-Key`, `book(&who, Booking { slot, key: Some(..), ..Default::default() })`.
    pub async fn book<'a>(
        &self,
        who: &Actor,
        booking: impl Into<Booking<'a>>,
    ) -> Answer<Appointment> {
        let booking = booking.into();
        let mut body = json!({"slotId": booking.slot});
        if let Some(c) = booking.consultation {
            body["consultationType"] = json!(c);
        }
        if let Some(t) = booking.appointment_type {
            body["appointmentTypeId"] = json!(t);
        }
        if let Some(p) = booking.patient {
            body["patientId"] = json!(p);
        }
        if booking.overbook {
            body["isOverbook"] = json!(true);
        }
        let key: Vec<(&str, &str)> = booking
            .key
            .map(|k| ("idempotency-key", k))
            .into_iter()
            .collect();
        self.request(
            "POST",
            "/appointments",
            Some(&who.token),
            Some(body.to_string()),
            &key,
        )
        .await
        .made()
    }

    /// `GET /appointments/{id}`.
    pub async fn appointment(&self, who: &Actor, id: &str) -> Answer<Appointment> {
        self.send(who, "GET", &format!("/appointments/{id}"), None)
            .await
            .answer()
    }

    /// `POST /appointments/{id}/cancel`.
    pub async fn cancel(&self, who: &Actor, id: &str, reason: &str) -> Answer<Appointment> {
        self.send(
            who,
            "POST",
            &format!("/appointments/{id}/cancel"),
            Some(json!({"reason": reason})),
        )
        .await
        .answer()
    }

    /// `POST /appointments/{id}/reschedule`.
    pub async fn reschedule(
        &self,
        who: &Actor,
        id: &str,
        to_slot: &str,
        reason: Option<&str>,
    ) -> Answer<Appointment> {
        let mut body = json!({"newSlotId": to_slot});
        if let Some(r) = reason {
            body["reason"] = json!(r);
        }
        self.send(
            who,
            "POST",
            &format!("/appointments/{id}/reschedule"),
            Some(body),
        )
        .await
        .made()
    }

    /// `POST /appointments/{id}/check-in`.
    pub async fn check_in(&self, who: &Actor, id: &str) -> Answer<Appointment> {
        self.act(who, id, "check-in", None).await.answer()
    }

    /// `POST /appointments/{id}/start`.
    pub async fn start(&self, who: &Actor, id: &str) -> Answer<Appointment> {
        self.act(who, id, "start", None).await.answer()
    }

    /// `POST /appointments/{id}/complete` with a completion body (`{}` for none).
    pub async fn complete(&self, who: &Actor, id: &str, completion: Value) -> Answer<Appointment> {
        self.act(who, id, "complete", Some(completion))
            .await
            .answer()
    }

    /// `POST /appointments/{id}/no-show`.
    pub async fn no_show(&self, who: &Actor, id: &str) -> Answer<Appointment> {
        self.act(who, id, "no-show", None).await.answer()
    }

    /// `PATCH /appointments/{id}`.
    pub async fn update(&self, who: &Actor, id: &str, change: Value) -> Answer<Appointment> {
        self.patch(who, id, change).await.answer()
    }

    /// `GET /appointments?{query}`, `/appointments/upcoming?{query}` or `/appointments/history?{query}`.
    pub async fn appointments(
        &self,
        who: &Actor,
        list: &str,
        query: &str,
    ) -> Answer<Page<Appointment>> {
        let path = match list {
            "" => format!("/appointments?{query}"),
            name => format!("/appointments/{name}?{query}"),
        };
        self.send(who, "GET", &path, None).await.answer()
    }

    /// `GET /appointments/reports/no-shows`.
    pub async fn no_show_report(
        &self,
        who: &Actor,
        provider: &Actor,
        from: &str,
        to: &str,
    ) -> Answer<NoShowReport> {
        let path = format!(
            "/appointments/reports/no-shows?providerId={}&startDate={from}&endDate={to}",
            provider.id
        );
        self.send(who, "GET", &path, None).await.answer()
    }

    /// `POST /appointment-types`.
    pub async fn create_type(&self, who: &Actor, kind: Value) -> Answer<AppointmentType> {
        self.send(who, "POST", "/appointment-types", Some(kind))
            .await
            .made()
    }

    /// `GET /appointment-types/{id}`.
    pub async fn appointment_type(&self, who: &Actor, id: &str) -> Answer<AppointmentType> {
        self.send(who, "GET", &format!("/appointment-types/{id}"), None)
            .await
            .answer()
    }

    /// `GET /appointment-types?{query}`.
    pub async fn types(&self, who: &Actor, query: &str) -> Answer<Page<AppointmentType>> {
        self.send(who, "GET", &format!("/appointment-types?{query}"), None)
            .await
            .answer()
    }

    /// `PATCH /appointment-types/{id}`.
    pub async fn update_type(
        &self,
        who: &Actor,
        id: &str,
        change: Value,
    ) -> Answer<AppointmentType> {
        self.send(
            who,
            "PATCH",
            &format!("/appointment-types/{id}"),
            Some(change),
        )
        .await
        .answer()
    }

    /// `POST /slots/bulk`.
    pub async fn bulk(&self, who: &Actor, request: Value) -> Answer<BulkCreated> {
        self.send(who, "POST", "/slots/bulk", Some(request))
            .await
            .made()
    }

    /// `POST /slots/block`.
    pub async fn block(&self, who: &Actor, request: Value) -> Answer<Blocked> {
        self.send(who, "POST", "/slots/block", Some(request))
            .await
            .answer()
    }

    /// `POST /slots/{id}/release`.
    pub async fn release(&self, who: &Actor, slot: &str) -> Answer<SlotView> {
        self.send(who, "POST", &format!("/slots/{slot}/release"), None)
            .await
            .answer()
    }

    /// `GET /providers/{providerId}/schedule?{query}` (`date=2027-11-07`, with `days` or `timeZone`).
    pub async fn schedule(&self, who: &Actor, provider: &Actor, query: &str) -> Answer<Schedule> {
        let path = format!("/providers/{}/schedule?{query}", provider.id);
        self.send(who, "GET", &path, None).await.answer()
    }

    /// A patient's appointment at `start` with `provider`, in a new one-seat slot; its id.
    pub async fn booked_at(
        &self,
        provider: &Actor,
        patient: &Actor,
        start: &str,
        consultation: &str,
    ) -> String {
        let slot = self
            .create_slot(provider, NewSlot::at(start))
            .await
            .expect("the slot is created");
        let booked = self
            .book(
                patient,
                Booking {
                    slot: &slot.id.to_string(),
                    consultation: Some(consultation),
                    ..Default::default()
                },
            )
            .await
            .expect("the booking is made");
        booked.id.to_string()
    }

    /// `POST /appointments/recurring` as `who`.
    pub async fn book_series(&self, who: &Actor, request: Value) -> Answer<SeriesView> {
        self.send(who, "POST", "/appointments/recurring", Some(request))
            .await
            .made()
    }

    /// `GET /recurring/{id}`.
    pub async fn series(&self, who: &Actor, id: &str) -> Answer<SeriesView> {
        self.send(who, "GET", &format!("/recurring/{id}"), None)
            .await
            .answer()
    }

    /// `POST /recurring/{id}/cancel`.
    pub async fn cancel_series(&self, who: &Actor, id: &str, reason: &str) -> Answer<SeriesView> {
        self.send(
            who,
            "POST",
            &format!("/recurring/{id}/cancel"),
            Some(json!({"reason": reason})),
        )
        .await
        .answer()
    }

    /// `POST /appointments/{id}/confirm` as `who`.
    pub async fn confirm(&self, who: &Actor, id: &str) -> Answer<Appointment> {
        self.send(who, "POST", &format!("/appointments/{id}/confirm"), None)
            .await
            .answer()
    }

    /// `POST /appointments/{id}/decline` as `who`.
    pub async fn decline(&self, who: &Actor, id: &str, reason: &str) -> Answer<Appointment> {
        self.send(
            who,
            "POST",
            &format!("/appointments/{id}/decline"),
            Some(json!({"reason": reason})),
        )
        .await
        .answer()
    }

    /// `POST /holds` as `who` (the slot for themself, or with `patientId` in `extra`).
    pub async fn hold(&self, who: &Actor, slot: &str, extra: Value) -> Answer<Hold> {
        let mut body = json!({"slotId": slot});
        if let (Some(b), Value::Object(more)) = (body.as_object_mut(), extra) {
            b.extend(more);
        }
        self.send(who, "POST", "/holds", Some(body)).await.made()
    }

    /// `GET /holds/{id}`.
    pub async fn get_hold(&self, who: &Actor, id: &str) -> Answer<Hold> {
        self.send(who, "GET", &format!("/holds/{id}"), None)
            .await
            .answer()
    }

    /// `DELETE /holds/{id}`.
    pub async fn release_hold(&self, who: &Actor, id: &str) -> Answer<Hold> {
        self.send(who, "DELETE", &format!("/holds/{id}"), None)
            .await
            .answer()
    }

    /// `POST /appointments {holdId}` as `who`: 201 for the booking, 200 for a hold booked before.
    pub async fn book_held(&self, who: &Actor, hold: &str) -> Answer<Appointment> {
        self.send(who, "POST", "/appointments", Some(json!({"holdId": hold})))
            .await
            .answer_with(&[200, 201])
    }

    /// `POST /waitlist` as `who`.
    pub async fn join_waitlist(&self, who: &Actor, body: Value) -> Answer<Entry> {
        self.send(who, "POST", "/waitlist", Some(body)).await.made()
    }

    /// `POST /waitlist` for `patient` themself: `provider` on `date`, any time that day.
    pub async fn wait_for_seat(&self, patient: &Actor, provider: &Actor, date: &str) -> Entry {
        self.join_waitlist(
            patient,
            json!({"providerId": provider.id, "preferredDate": date}),
        )
        .await
        .expect("the patient joins the waitlist")
    }

    /// `GET /waitlist?...`.
    pub async fn waitlist(&self, who: &Actor, query: &str) -> Answer<Page<Entry>> {
        self.send(who, "GET", &format!("/waitlist?{query}"), None)
            .await
            .answer()
    }

    /// `GET /waitlist/{id}`.
    pub async fn waitlist_entry(&self, who: &Actor, id: &str) -> Answer<Entry> {
        self.send(who, "GET", &format!("/waitlist/{id}"), None)
            .await
            .answer()
    }

    /// `DELETE /waitlist/{id}`.
    pub async fn leave_waitlist(&self, who: &Actor, id: &str) -> Answer<Entry> {
        self.send(who, "DELETE", &format!("/waitlist/{id}"), None)
            .await
            .answer()
    }

    /// `POST /waitlist/{id}/accept`.
    pub async fn accept_offer(&self, who: &Actor, id: &str) -> Answer<Appointment> {
        self.send(
            who,
            "POST",
            &format!("/waitlist/{id}/accept"),
            Some(json!({})),
        )
        .await
        .answer_with(&[200, 201])
    }

    /// `POST /waitlist/{id}/decline`.
    pub async fn decline_offer(&self, who: &Actor, id: &str) -> Answer<Entry> {
        self.send(who, "POST", &format!("/waitlist/{id}/decline"), None)
            .await
            .answer()
    }

    /// `GET /audit?patientId=..&from=..&to=..`: `patient`'s access history.
    pub async fn audit_trail(
        &self,
        who: &Actor,
        patient: &Actor,
        (from, to): (&str, &str),
    ) -> Answer<shared::api::audit::Trail> {
        let path = format!("/audit?patientId={}&from={from}&to={to}", patient.id);
        self.send(who, "GET", &path, None).await.answer()
    }

    /// `PUT /providers/{id}/settings` of `provider`, as `who`.
    pub async fn put_settings(&self, who: &Actor, provider: &Actor, body: Value) -> Reply {
        let path = format!("/providers/{}/settings", provider.id);
        self.send(who, "PUT", &path, Some(body)).await
    }

    /// `GET /providers/{id}/settings` of `provider`, as `who`.
    pub async fn settings(&self, who: &Actor, provider: &Actor) -> Reply {
        let path = format!("/providers/{}/settings", provider.id);
        self.send(who, "GET", &path, None).await
    }

    /// `GET path` of a FHIR route as `who`: whatever its status, answered as `application/fhir+json`
    /// and valid R4 by fhir.resources and the project's own rules (tests/python/fhir_check.py).
    pub async fn fhir(&self, who: &Actor, path: &str) -> Reply {
        let r = self.send(who, "GET", path, None).await;
        assert_eq!(
            r.headers["content-type"], "application/fhir+json",
            "{path}: {}",
            r.body
        );
        let checked = crate::python_check("fhir_check.py", &r.body.to_string());
        assert_eq!(checked.trim(), "ok", "{path}");
        r
    }

    /// `POST path` of a FHIR operation as `who` with a Parameters body: as [`TestApp::fhir`], answered as
    /// `application/fhir+json` and valid R4, whatever its status.
    pub async fn fhir_post(&self, who: &Actor, path: &str, parameters: Value) -> Reply {
        let r = self
            .request(
                "POST",
                path,
                Some(&who.token),
                Some(parameters.to_string()),
                &[("content-type", "application/fhir+json")],
            )
            .await;
        assert_eq!(
            r.headers["content-type"], "application/fhir+json",
            "{path}: {}",
            r.body
        );
        let checked = crate::python_check("fhir_check.py", &r.body.to_string());
        assert_eq!(checked.trim(), "ok", "{path}: {}", r.body);
        r
    }

    /// `PUT /providers/{id}` (the directory profile) of `provider`, as `who`, with `If-Match` if given.
    /// Raw: the ETag is in the headers.
    pub async fn put_profile(
        &self,
        who: &Actor,
        provider: &Actor,
        body: Value,
        if_match: Option<&str>,
    ) -> Reply {
        let path = format!("/providers/{}", provider.id);
        let headers: Vec<(&str, &str)> = if_match.map(|t| ("if-match", t)).into_iter().collect();
        self.request(
            "PUT",
            &path,
            Some(&who.token),
            Some(body.to_string()),
            &headers,
        )
        .await
    }

    /// `GET /providers/{id}` (the directory profile) of `provider`, as `who`.
    pub async fn profile_of(&self, who: &Actor, provider: &Actor) -> Reply {
        let path = format!("/providers/{}", provider.id);
        self.send(who, "GET", &path, None).await
    }
}
