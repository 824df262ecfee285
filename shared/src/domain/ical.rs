//! iCalendar (RFC 5545) feeds of appointments, without I/O: a `VCALENDAR` with one `VEVENT` per
//! appointment, lines folded at 75 octets and ended by CRLF, text escaped. What calendar apps show is
//! the time, the status and where (the video room or the provider's room), never the reason for the
//! visit, notes or symptoms.

use super::{Appointment, AppointmentStatus, ConsultationType, UtcTime};

/// The product that writes the feed (RFC 5545 section 3.7.3).
pub const PRODID: &str = "-//Clinic appointments//Calendar feed 1.0//EN";

/// An appointment as a feed shows it: the appointment and where it takes place.
#[derive(Clone, Debug)]
pub struct FeedEvent<'a> {
    pub appointment: &'a Appointment,
    /// The room, for an in-person visit (the slot's `roomNumber`), if known.
    pub room: Option<&'a str>,
}

/// The whole feed: `name` is the calendar's display name (`X-WR-CALNAME`), `stamp` the time it is
/// written (every event's `DTSTAMP`).
pub fn calendar(name: &str, events: &[FeedEvent<'_>], stamp: UtcTime) -> String {
    let mut lines = vec![
        "BEGIN:VCALENDAR".to_owned(),
        format!("PRODID:{PRODID}"),
        "VERSION:2.0".to_owned(),
        "CALSCALE:GREGORIAN".to_owned(),
        "METHOD:PUBLISH".to_owned(),
        format!("X-WR-CALNAME:{}", escape(name)),
    ];
    for e in events {
        lines.extend(event(e, stamp));
    }
    lines.push("END:VCALENDAR".to_owned());
    let mut out = String::new();
    for line in lines {
        out.push_str(&fold(&line));
        out.push_str("\r\n");
    }
    out
}

/// `20300107T140000Z`: a UTC date-time (RFC 5545 section 3.3.5, form 2).
pub fn utc(t: UtcTime) -> String {
    t.timestamp().strftime("%Y%m%dT%H%M%SZ").to_string()
}

fn event(e: &FeedEvent<'_>, stamp: UtcTime) -> Vec<String> {
    let a = e.appointment;
    let (status, summary) = match a.status {
        AppointmentStatus::Cancelled | AppointmentStatus::Rescheduled => {
            ("CANCELLED", "Appointment (cancelled)")
        }
        // A request the provider has not confirmed yet (RFC 5545 section 3.8.1.11).
        AppointmentStatus::Pending => ("TENTATIVE", "Appointment (requested)"),
        _ => ("CONFIRMED", "Appointment"),
    };
    let kind = match a.consultation_type {
        ConsultationType::Video => "video",
        ConsultationType::Phone => "phone",
        ConsultationType::InPerson => "in person",
    };
    let mut lines = vec![
        "BEGIN:VEVENT".to_owned(),
        format!("UID:{}@appointments.clinic", a.id),
        // With METHOD, DTSTAMP is when the feed was written (RFC 5545 section 3.8.7.2); the change
        // itself is LAST-MODIFIED.
        format!("DTSTAMP:{}", utc(stamp)),
        format!("DTSTART:{}", utc(a.start_time)),
        format!("DTEND:{}", utc(a.end_time)),
        format!("SEQUENCE:{}", sequence(a)),
        format!("STATUS:{status}"),
        format!("SUMMARY:{}", escape(&format!("{summary}, {kind}"))),
        format!("CREATED:{}", utc(a.created_at)),
        format!("LAST-MODIFIED:{}", utc(a.updated_at)),
    ];
    let place = match a.consultation_type {
        ConsultationType::Video => a.video_room_url.as_deref(),
        _ => e.room,
    };
    if let Some(place) = place {
        lines.push(format!("LOCATION:{}", escape(place)));
    }
    lines.push("END:VEVENT".to_owned());
    lines
}

/// A revision number that grows with every change of the appointment: its version (every write adds
/// one, so two changes within a second differ) plus the seconds between its creation and its last change
/// (what feeds answered before appointments had versions, so no calendar sees a SEQUENCE go down).
pub fn sequence(a: &Appointment) -> i64 {
    let seconds =
        (a.updated_at.timestamp().as_second() - a.created_at.timestamp().as_second()).max(0);
    seconds.saturating_add(i64::try_from(a.version).unwrap_or(i64::MAX))
}

/// TEXT as RFC 5545 section 3.3.11 writes it: backslash, semicolon and comma escaped, newlines as `\n`,
/// other control characters dropped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c if c.is_control() && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// One content line folded so that no physical line is longer than 75 octets, never inside a UTF-8
/// character; continuation lines start with a space (RFC 5545 section 3.1). No CRLF at the end.
pub fn fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + line.len() / 70 * 3);
    let mut width = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn appointment() -> Appointment {
        Appointment::example()
    }

    fn unfold(text: &str) -> String {
        text.replace("\r\n ", "")
    }

    #[test]
    fn a_feed_is_a_calendar_of_events_without_the_reasons_for_the_visits() {
        let mut a = appointment();
        let stamp = "2030-01-02T00:00:00Z".parse().unwrap();
        let first = calendar(
            "Appointments",
            &[FeedEvent {
                appointment: &a,
                room: Some("2B, east wing"),
            }],
            stamp,
        );
        assert!(first.starts_with("BEGIN:VCALENDAR\r\nPRODID:"));
        assert!(first.ends_with("END:VCALENDAR\r\n"));
        assert!(!first.replace("\r\n", "").contains('\n'), "CRLF only");
        for line in first.split("\r\n") {
            assert!(line.len() <= 75, "{line}");
        }
        let text = unfold(&first);
        for want in [
            "VERSION:2.0",
            &format!("UID:{}@appointments.clinic", a.id),
            "DTSTART:20300107T140000Z",
            "DTEND:20300107T143000Z",
            "STATUS:CONFIRMED",
            "SEQUENCE:0",
            "LOCATION:2B\\, east wing",
            "SUMMARY:Appointment\\, in person",
            "DTSTAMP:20300102T000000Z",
            "LAST-MODIFIED:20300101T090000Z",
        ] {
            assert!(text.contains(want), "{want} in {text}");
        }
        for secret in ["chest", "private", "dizziness"] {
            assert!(!text.contains(secret), "{secret}");
        }
        // Pending the provider's answer, it is tentative.
        let mut requested = a.clone();
        requested.status = AppointmentStatus::Pending;
        let tentative = unfold(&calendar(
            "Appointments",
            &[FeedEvent {
                appointment: &requested,
                room: None,
            }],
            stamp,
        ));
        assert!(tentative.contains("STATUS:TENTATIVE"), "{tentative}");
        // Cancelled later: the same UID, a higher SEQUENCE, STATUS:CANCELLED.
        a.status = AppointmentStatus::Cancelled;
        a.updated_at = "2030-01-03T10:00:00Z".parse().unwrap();
        let later = unfold(&calendar(
            "Appointments",
            &[FeedEvent {
                appointment: &a,
                room: None,
            }],
            stamp,
        ));
        assert!(later.contains("STATUS:CANCELLED"));
        assert!(later.contains(&format!("SEQUENCE:{}", 2 * 86_400 + 3_600)));
        assert!(!later.contains("LOCATION"));
    }

    #[test]
    fn a_video_visit_is_located_at_its_room() {
        let mut a = appointment();
        a.consultation_type = ConsultationType::Video;
        a.video_room_url = Some("https://video.example/rooms/abc".into());
        let text = unfold(&calendar(
            "x",
            &[FeedEvent {
                appointment: &a,
                room: Some("2B"),
            }],
            a.updated_at,
        ));
        assert!(text.contains("LOCATION:https://video.example/rooms/abc"));
    }

    proptest! {
        /// Folding keeps every physical line within 75 octets, never splits a character, and unfolding
        /// gives the line back.
        #[test]
        fn folding_is_undone_by_unfolding(line in "\\PC{0,300}") {
            let folded = fold(&line);
            for physical in folded.split("\r\n") {
                prop_assert!(physical.len() <= 75);
            }
            prop_assert_eq!(unfold(&folded), line);
        }

        /// Escaped text has no bare separators or line breaks.
        #[test]
        fn escaped_text_keeps_to_one_value(text in "\\PC{0,80}|[;,\\\\\n\r a-z]{0,40}") {
            let e = escape(&text);
            prop_assert!(!e.contains('\n') && !e.contains('\r'));
            let mut chars = e.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    let next = chars.next();
                    prop_assert!(matches!(next, Some('\\' | ';' | ',' | 'n')), "{:?}", next);
                } else {
                    prop_assert!(c != ';' && c != ',');
                }
            }
        }
    }

    #[test]
    fn two_changes_within_a_second_have_two_sequences() {
        let mut a = appointment();
        let first = sequence(&a);
        a.version += 1;
        assert!(sequence(&a) > first, "same updatedAt, one more write");
        a.version += 1;
        a.updated_at = a.updated_at.plus(jiff::SignedDuration::from_secs(1));
        assert_eq!(sequence(&a), first + 3);
    }
}
