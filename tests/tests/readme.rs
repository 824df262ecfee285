//! The README's walk-through ("Try it") as a newcomer runs it: every `sh` block of that section, in
//! order and in one shell, against the local stack `make dev` serves, with `set -euo pipefail` (so the
//! first failed step stops it, with the server's problem). What the blocks print is checked against
//! what the text around them promises, so the README cannot drift from the service.

use clinic_tests::TestApp;

/// The `sh` blocks of the README's "Try it" section.
fn walkthrough() -> Vec<String> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let start = readme.find("\n## Try it").expect("a Try it section");
    let section = &readme[start + 1..];
    let end = section[3..].find("\n## ").map_or(section.len(), |e| e + 3);
    let mut blocks = vec![];
    let mut rest = &section[..end];
    while let Some(open) = rest.find("```sh\n") {
        let body = &rest[open + 6..];
        let close = body.find("\n```").expect("a closed block");
        blocks.push(body[..close].to_owned());
        rest = &body[close + 4..];
    }
    blocks
}

/// What each block must print (in order within the block), from the text around it.
const PROMISES: &[&[&str]] = &[
    // A slot with two seats, open that week; booked, read, cancelled; both changes on the bus.
    &[
        r#""status":"available","seatsLeft":2"#,
        r#""status":"scheduled""#,
        r#"{"status":"cancelled","lateCancellation":false}"#,
        // Sorted: the bus delivers in no promised order.
        "\"appointment.cancelled\"\n\"appointment.created\"",
    ],
    // A visit: checked in, started with a video room, noted, completed; history without private notes.
    &[
        r#"{"status":"confirmed","checkInTime":"#,
        r#"{"status":"in_progress","waitTime":0,"videoRoomUrl":"#,
        r#"{"status":"in_progress","notes":"Patient joined from home."}"#,
        r#"{"status":"completed","actualEndTime":"#,
        r#""status":"completed","privateNotes":null"#,
        r#"{"totalAppointments":1,"noShows":0,"noShowRate":0"#,
        r#"{"status":"scheduled","startTime":"2030-01-07T11:00:00Z","rescheduledFrom":"#,
        "appointment.rescheduled",
    ],
    // A clinic week: a type, a generated week, a block, a release, a day; a typed slot's refusal.
    &[
        r#""name":"Hypertension follow-up","consultationFee":45"#,
        r#"{"created":"#,
        r#""existing":0}"#,
        r#"{"blocked":"#,
        r#""status":"available"}"#,
        r#"{"timeZone":"America/New_York","summary":"#,
        r#"{"code":"appointment_type_not_allowed","detail":"this slot takes only appointments of these types (give appointmentTypeId): "#,
        r#""consultationFee":45"#,
        r#""consultationType":"video"}"#,
    ],
    // A reminder from Scheduler; a payment from billing, shown on the appointment.
    &[
        r#"{"offset":"30m","startTime":"#,
        r#"{"isPaid":true,"paymentId":"pay_123","paidAt":"#,
    ],
    // A waitlist offer holds the freed seat; accepting books it.
    &[
        r#"{"status":"cancelled"}"#,
        r#"{"status":"offered","offeredSlotId":"#,
        "\n0\n",
        r#""status":"scheduled"}"#,
        "waitlist.accepted\nwaitlist.joined\nwaitlist.offered",
    ],
    // A calendar feed, read without a token, then revoked: 404.
    &[
        r#"{"id":"#,
        "BEGIN:VCALENDAR",
        r#"{"revokedAt":true}"#,
        "\n404",
    ],
    // A weekly series across the change to summer time, then cancelled as one.
    &[
        r#"{"created":8}"#,
        r#"{"starts":["2030-03-05T14:00:00Z","2030-03-12T13:00:00Z","2030-03-19T13:00:00Z","2030-03-26T13:00:00Z"],"skipped":[]}"#,
        r#"["cancelled","cancelled","cancelled","cancelled"]"#,
    ],
    // FHIR: the capability statement, a Slot search, an Appointment.
    &[
        r#"{"fhirVersion":"4.0.1","resources":["#,
        r#"{"total":"#,
        r#""participants":2}"#,
    ],
    // Booking rules: past the horizon, then one a day.
    &[
        r#""maxAdvanceDays":365,"maxAppointmentsPerDay":1"#,
        "\n0\n",
        r#"{"code":"too_far_ahead""#,
        r#"{"status":"scheduled","lateCancellationFee":25"#,
        r#"{"code":"daily_limit_reached""#,
    ],
    // Search across providers: the Spanish-speaking provider licensed in California, booked; then
    // gone from the answer; $find proposes the others, earliest first.
    &[
        r#"{"provider":"Dr. Ana Ruiz","languages":["en","es-MX"],"start":"2030-06-04T10:00:00-07:00","seatsLeft":1}"#,
        r#"{"status":"scheduled","consultationType":"video"}"#,
        "\n0\n",
        r#"[{"status":"proposed","practitioner":"Dr. Carmen Vega"},{"status":"proposed","practitioner":"Dr. Ben Okafor"}]"#,
    ],
    // A hold keeps the seat from a rival; booked with the hold, it becomes the appointment.
    &[
        r#"{"status":"held","seat":true}"#,
        r#"{"code":"slot_full""#,
        r#"{"status":"scheduled","seat":true}"#,
        r#"{"status":"converted"}"#,
    ],
    // A clinic with two rooms and three providers: one room at a time; bulk leaves out the taken day.
    &[
        r#"[{"id":"#,
        r#""name":"Exam 2B","kind":"room"}]"#,
        r#"{"code":"resource_conflict","detail":"room Exam 2B ("#,
        r#""Exam 3""#,
        r#"{"created":4,"refused":[{"date":"2030-08-05","first":"Exam 2B"}]}"#,
        r#"[{"date":"2030-08-05","held":["09:00"]},{"date":"2030-08-06","held":["09:00","09:30"]},{"date":"2030-08-07","held":["09:00","09:30"]}]"#,
    ],
];

#[tokio::test]
async fn the_walkthrough_runs_and_prints_what_it_promises() {
    let blocks = walkthrough();
    assert_eq!(blocks.len(), PROMISES.len(), "a promise list per block");
    let app = TestApp::spawn().await;
    let mut script = String::from("set -euo pipefail\n");
    for (n, block) in blocks.iter().enumerate() {
        script.push_str(&format!("echo '::block {n}'\n{block}\n"));
    }
    let url = app.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("bash")
            .args(["-c", &script])
            .env("API", url)
            .output()
    })
    .await
    .unwrap()
    .expect("bash runs");
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "the walkthrough stopped: {}\n--- printed ---\n{printed}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (n, promises) in PROMISES.iter().enumerate() {
        let from = printed
            .find(&format!("::block {n}\n"))
            .unwrap_or_else(|| panic!("block {n} did not run"));
        let to = printed
            .find(&format!("::block {}\n", n + 1))
            .unwrap_or(printed.len());
        let mut shown = &printed[from..to];
        for promise in *promises {
            let at = shown.find(promise).unwrap_or_else(|| {
                panic!("block {n} does not print {promise:?} (in order):\n{shown}")
            });
            shown = &shown[at + promise.len()..];
        }
    }
}
