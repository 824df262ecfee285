//! One typed helper per endpoint: each takes named arguments and answers the endpoint's typed view, or
//! the problem it answered, so that stories read as what happens rather than as `body["..."]`.

use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use shared::api::views::{Blocked, BulkCreated, NoShowReport, Page, Schedule, SlotView};
use shared::domain::waitlist::Entry;
use shared::domain::{Appointment, AppointmentType};

use crate::{Actor, Reply, TestApp};

/// A problem an endpoint answered (always problem+json: checked when it is made).
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub status: u16,
    pub code: String,
    /// The fields `errors` names, for 400 `validation_failed`.
    pub fields: Vec<String>,
    pub detail: String,
}

/// What an endpoint answered: its typed body, or its problem.
pub type Answer<T> = Result<T, Problem>;

impl Reply {
    /// The answer as `T` when it succeeded, else its problem.
    pub fn answer<T: DeserializeOwned>(self) -> Answer<T> {
        if self.status < 300 {
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
            detail: self.body["detail"].as_str().unwrap_or_default().to_owned(),
        })
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
}

impl<'a> NewSlot<'a> {
    pub fn at(start: &'a str) -> NewSlot<'a> {
        NewSlot {
            start,
            minutes: 30,
            seats: 1,
        }
    }

    pub fn minutes(self, minutes: i64) -> Self {
        NewSlot { minutes, ..self }
    }

    pub fn seats(self, seats: u32) -> Self {
        NewSlot { seats, ..self }
    }
}

/// A booking: the slot, and optionally its consultation and type.
#[derive(Clone, Debug, Default)]
pub struct Booking<'a> {
    pub slot: &'a str,
    pub consultation: Option<&'a str>,
    pub appointment_type: Option<&'a str>,
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
    pub async fn create_slot_at(&self, provider: &Actor, slot: NewSlot<'_>) -> Answer<SlotView> {
        let start: shared::domain::UtcTime = slot.start.parse().expect("an RFC 3339 start");
        let end = start.plus(jiff::SignedDuration::from_mins(slot.minutes));
        self.send(provider, "POST", "/slots", Some(json!({"providerId": provider.id, "startTime": start, "endTime": end, "maxBookings": slot.seats})))
            .await
            .answer()
    }

    /// `GET /slots/available`.
    pub async fn available(&self, who: &Actor, query: &str) -> Answer<Page<SlotView>> {
        self.send(who, "GET", &format!("/slots/available?{query}"), None)
            .await
            .answer()
    }

    /// `POST /appointments` for `patient`.
    pub async fn book_as(&self, patient: &Actor, booking: Booking<'_>) -> Answer<Appointment> {
        let mut body = json!({"slotId": booking.slot});
        if let Some(c) = booking.consultation {
            body["consultationType"] = json!(c);
        }
        if let Some(t) = booking.appointment_type {
            body["appointmentTypeId"] = json!(t);
        }
        self.send(patient, "POST", "/appointments", Some(body))
            .await
            .answer()
    }

    /// `GET /appointments/{id}`.
    pub async fn appointment(&self, who: &Actor, id: &str) -> Answer<Appointment> {
        self.send(who, "GET", &format!("/appointments/{id}"), None)
            .await
            .answer()
    }

    /// `POST /appointments/{id}/cancel`.
    pub async fn cancel_with(&self, who: &Actor, id: &str, reason: &str) -> Answer<Appointment> {
        self.cancel(who, id, reason).await.answer()
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
        .answer()
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
            .answer()
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

    /// `GET /providers/{providerId}/schedule?date=...` (and `timeZone` if given).
    pub async fn schedule(
        &self,
        who: &Actor,
        provider: &Actor,
        date: &str,
        zone: Option<&str>,
    ) -> Answer<Schedule> {
        let mut path = format!("/providers/{}/schedule?date={date}", provider.id);
        if let Some(z) = zone {
            path.push_str(&format!("&timeZone={z}"));
        }
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
            .create_slot_at(provider, NewSlot::at(start))
            .await
            .expect("the slot is created");
        let booked = self
            .book_as(
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

    /// `POST /waitlist` as `who`.
    pub async fn join_waitlist(&self, who: &Actor, body: Value) -> Answer<Entry> {
        self.send(who, "POST", "/waitlist", Some(body))
            .await
            .answer()
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
        .answer()
    }

    /// `POST /waitlist/{id}/decline`.
    pub async fn decline_offer(&self, who: &Actor, id: &str) -> Answer<Entry> {
        self.send(who, "POST", &format!("/waitlist/{id}/decline"), None)
            .await
            .answer()
    }
}
