//! What the stack's queues, bus and schedules hold: reading the jobs queue and the parking queue, waiting
//! for the events a story expects on the bus (never a fixed sleep), Scheduler's schedules.

use super::*;

impl TestApp {
    /// The URL of one of the stack's queues, by its logical id in template.yaml.
    pub fn queue_url(&self, logical_id: &str) -> String {
        self.stack
            .stack
            .reference(logical_id, None)
            .cloned()
            .unwrap_or_else(|| panic!("no queue {logical_id}"))
    }

    /// The messages of one of the stack's queues (by logical id), received without being taken: they
    /// stay on the queue, visible at once.
    pub async fn peek_queue(&self, logical_id: &str) -> Vec<Value> {
        let url = self.queue_url(logical_id);
        let out = aws_sdk_sqs::Client::new(&self.inspector)
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .send()
            .await
            .expect("the queue answers");
        out.messages
            .unwrap_or_default()
            .iter()
            .map(|m| serde_json::from_str(m.body().unwrap_or("null")).unwrap_or(Value::Null))
            .collect()
    }

    /// Messages on one of the stack's queues, visible or in flight (SQS's approximate counts, exact
    /// in the emulator).
    pub async fn queue_depth(&self, logical_id: &str) -> u64 {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let url = self.queue_url(logical_id);
        let attributes = aws_sdk_sqs::Client::new(&self.inspector)
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(A::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .expect("the queue answers")
            .attributes
            .unwrap_or_default();
        attributes
            .values()
            .filter_map(|v| v.parse::<u64>().ok())
            .sum()
    }

    /// Waits until one of the stack's queues holds a message for which `wanted` holds (without taking
    /// it), or fails after 20 s; that message.
    pub async fn message_on(&self, logical_id: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..200 {
            if let Some(m) = self.peek_queue(logical_id).await.into_iter().find(&wanted) {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "no such message on {logical_id}: {:#?}",
            self.peek_queue(logical_id).await
        );
    }

    /// Messages that arrived on one of the stack's queues (by logical id in template.yaml), read and
    /// deleted; waits up to 20 s for at least one.
    pub async fn drain_queue(&self, logical_id: &str) -> Vec<Value> {
        let url = self.queue_url(logical_id);
        let sqs = aws_sdk_sqs::Client::new(&self.inspector);
        for _ in 0..200 {
            let out = sqs
                .receive_message()
                .queue_url(&url)
                .max_number_of_messages(10)
                .send()
                .await
                .expect("the queue answers");
            let messages = out.messages.unwrap_or_default();
            if !messages.is_empty() {
                let mut bodies = vec![];
                for m in messages {
                    bodies.push(
                        serde_json::from_str(m.body().unwrap_or("null")).unwrap_or(Value::Null),
                    );
                    sqs.delete_message()
                        .queue_url(&url)
                        .receipt_handle(m.receipt_handle().unwrap_or_default())
                        .send()
                        .await
                        .expect("deleted");
                }
                return bodies;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        vec![]
    }

    /// The events on the bus so far (through `GET /_local/events`), each once: delivery is at least
    /// once, and a consumer knows a redelivered event by its `eventId`.
    pub async fn events(&self) -> Vec<Value> {
        let r = self.request("GET", "/_local/events", None, None, &[]).await;
        let mut seen = std::collections::HashSet::new();
        r.body["data"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|e| seen.insert(e["detail"]["eventId"].to_string()))
            .collect()
    }

    /// The events on the bus so far about one appointment (`detail.appointmentId`).
    pub async fn events_about(&self, appointment: &str) -> Vec<Value> {
        self.events()
            .await
            .into_iter()
            .filter(|e| e["detail"]["appointmentId"] == appointment)
            .collect()
    }

    /// Waits until `done` holds for the events on the bus, or fails after 20 s.
    pub async fn wait_for_events(&self, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        for _ in 0..200 {
            let events = self.events().await;
            if done(&events) {
                return events;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("events did not arrive: {:#?}", self.events().await);
    }

    /// Waits until the events about `appointment` are exactly `kinds` (detail-types, in any order: the
    /// bus keeps none), then a moment more to see that nothing else follows; fails as soon as one
    /// arrives that is not expected, or after 20 s. Returns every event on the bus.
    pub async fn wait_for_kinds(&self, appointment: &str, kinds: &[&str]) -> Vec<Value> {
        self.wait_for_kinds_of("appointmentId", appointment, kinds)
            .await
    }

    /// [`TestApp::wait_for_kinds`] for the events whose `detail.<field>` is `id` (a waitlist entry's
    /// events by `entryId`).
    pub async fn wait_for_kinds_of(&self, field: &str, id: &str, kinds: &[&str]) -> Vec<Value> {
        let appointment = id;
        let mut expected: Vec<&str> = kinds.to_vec();
        expected.sort_unstable();
        let arrived = |events: &[Value]| -> Vec<String> {
            let mut k: Vec<String> = events
                .iter()
                .filter(|e| e["detail"][field] == appointment)
                .map(|e| e["detail-type"].as_str().unwrap_or_default().to_owned())
                .collect();
            k.sort_unstable();
            k
        };
        let mut settled = false;
        for _ in 0..200 {
            let events = self.events().await;
            let got = arrived(&events);
            let mut rest = expected.clone();
            for k in &got {
                match rest.iter().position(|e| e == k) {
                    Some(i) => {
                        rest.remove(i);
                    }
                    None => {
                        panic!("unexpected {k} for {appointment}: {got:?}, expected {expected:?}")
                    }
                }
            }
            if rest.is_empty() {
                if settled {
                    return events;
                }
                settled = true;
                tokio::time::sleep(Duration::from_millis(300)).await;
                continue;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let got = arrived(&self.events().await);
        panic!("events for {appointment} did not arrive: {got:?}, expected {expected:?}");
    }

    /// The stack's schedule group.
    pub fn schedule_group(&self) -> String {
        self.stack
            .stack
            .reference("ScheduleGroup", None)
            .expect("the template has a schedule group")
            .clone()
    }

    /// The names of the EventBridge Scheduler schedules the service made in the stack's group (not the
    /// template's own, such as the sweeper's rate schedule).
    pub async fn schedules(&self) -> Vec<String> {
        let stack = &self.stack.stack;
        let group = self.schedule_group();
        let own: Vec<&String> = stack
            .template
            .of_kind("AWS::Scheduler::Schedule")
            .filter_map(|(id, _)| stack.reference(id, None))
            .collect();
        aws_sdk_scheduler::Client::new(&self.inspector)
            .list_schedules()
            .group_name(group)
            .send()
            .await
            .expect("the schedules are listed")
            .schedules
            .into_iter()
            .filter_map(|s| s.name)
            .filter(|name| !own.contains(&name))
            .collect()
    }

    /// When the schedule `name` fires (its `at()`), once it exists; `None` when it is not seen within
    /// 2 s (never made, or made and fired already).
    pub async fn schedule_fires_at(&self, name: &str) -> Option<jiff::Timestamp> {
        let scheduler = aws_sdk_scheduler::Client::new(&self.inspector);
        for _ in 0..100 {
            if let Ok(s) = scheduler
                .get_schedule()
                .group_name(self.schedule_group())
                .name(name)
                .send()
                .await
            {
                return s
                    .schedule_expression()
                    .and_then(|e| e.strip_prefix("at(")?.strip_suffix(')'))
                    .and_then(|t| t.parse::<jiff::civil::DateTime>().ok())
                    .and_then(|t| t.to_zoned(jiff::tz::TimeZone::UTC).ok())
                    .map(|z| z.timestamp());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    /// Deletes the schedule `name`, as if it were lost; whether it was there to delete.
    pub async fn lose_schedule(&self, name: &str) -> bool {
        aws_sdk_scheduler::Client::new(&self.inspector)
            .delete_schedule()
            .group_name(self.schedule_group())
            .name(name)
            .send()
            .await
            .is_ok()
    }
}
