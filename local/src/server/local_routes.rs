//! The routes that exist only locally (`/_local/*`): tokens for development, the bus's events (and
//! putting one, as billing would), replaying parked stream records, the metrics the functions wrote
//! (summed, and as their EMF lines), the audit records, the OpenAPI document and its rendering.

use super::*;

impl Server {
    /// The answer of a `/_local/*` route, or `None` for a route of the template.
    pub(super) async fn local_route(
        &self,
        method: &str,
        path: &str,
        body: &Bytes,
    ) -> Option<Reply> {
        Some(match (method, path) {
            ("POST", "/_local/token") => self.mint(body),
            ("POST", "/_local/events") => self.put_event(body).await,
            ("POST", "/_local/replay-parked") => self.replay_parked().await,
            ("GET", "/_local/openapi.json") => {
                respond(200, "application/json", shared::api::openapi::json())
            }
            ("GET", "/_local/docs") => respond(
                200,
                "text/html; charset=utf-8",
                crate::docs::PAGE.to_owned(),
            ),
            ("GET", "/_local/docs/redoc.standalone.js") => match crate::docs::renderer() {
                Some(js) => respond(200, "text/javascript; charset=utf-8", js),
                None => gateway_problem(
                    503,
                    "renderer_missing",
                    "the API reference renderer is not installed: run `make tools` (make dev does)"
                        .into(),
                ),
            },
            ("GET", "/_local/metrics") => {
                let lines = self.stack.metrics.all();
                respond(
                    200,
                    "application/json",
                    json!({ "lines": lines.len(), "data": crate::metrics::summarize(&lines) })
                        .to_string(),
                )
            }
            ("GET", "/_local/audit") => {
                let records: Vec<Value> = self
                    .stack
                    .audit
                    .all()
                    .iter()
                    .filter_map(|l| serde_json::from_str(l).ok())
                    .collect();
                respond(
                    200,
                    "application/json",
                    json!({ "data": records }).to_string(),
                )
            }
            ("GET", "/_local/metrics/lines") => respond(
                200,
                "application/json",
                json!({ "data": self.stack.metrics.all() }).to_string(),
            ),
            ("GET", "/_local/events") => {
                let events = self.stack.events.lock().expect("events lock").clone();
                respond(
                    200,
                    "application/json",
                    json!({ "data": events }).to_string(),
                )
            }
            _ => return None,
        })
    }

    /// `POST /_local/events` {source, detailType, detail} -> 200 {eventId}: puts one event on the bus, as
    /// a downstream service (billing) would.
    async fn put_event(&self, body: &[u8]) -> Reply {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        struct Put {
            source: String,
            detail_type: String,
            detail: serde_json::Map<String, Value>,
        }
        let put: Put = match serde_json::from_slice(body) {
            Ok(p) => p,
            Err(e) => {
                return problem(ApiError::field(
                    "body",
                    format!("expected {{\"source\", \"detailType\", \"detail\": {{...}}}}: {e}"),
                ))
            }
        };
        let Some(bus) = self.stack.reference("EventBus", None) else {
            return problem(ApiError::not_found("event bus"));
        };
        let sdk = self
            .stack
            .sdk
            .to_builder()
            .app_name(aws_config::AppName::new(crate::EXEMPT_APP).expect("a valid app name"))
            .build();
        let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .event_bus_name(bus)
            .source(put.source)
            .detail_type(put.detail_type)
            .detail(Value::Object(put.detail).to_string())
            .build();
        match aws_sdk_eventbridge::Client::new(&sdk)
            .put_events()
            .entries(entry)
            .send()
            .await
        {
            Ok(out) => {
                let id = out
                    .entries()
                    .first()
                    .and_then(|e| e.event_id())
                    .unwrap_or_default()
                    .to_owned();
                respond(
                    200,
                    "application/json",
                    json!({ "eventId": id }).to_string(),
                )
            }
            Err(e) => problem(ApiError::field(
                "body",
                format!(
                    "the bus refused it: {}",
                    aws_sdk_eventbridge::error::DisplayErrorContext(e)
                ),
            )),
        }
    }

    /// `POST /_local/replay-parked` -> 200 {replayed, stillFailing, unreadable, stopped?}: what
    /// `sam remote invoke PublishFunction --event '{"replay": "parked"}'` does on AWS, through the same
    /// function code, within its `Timeout`.
    async fn replay_parked(&self) -> Reply {
        let Some((publisher, timeout)) = &self.publisher else {
            return problem(ApiError::not_found("a function on the table's stream"));
        };
        let deadline = tokio::time::Instant::now() + *timeout;
        match publisher
            .invoke(json!({"replay": "parked"}), deadline)
            .await
        {
            Ok(done) => respond(200, "application/json", done.to_string()),
            Err(e) => {
                tracing::error!(error = %e, "the replay failed");
                problem(ApiError::new(
                    shared::api::Code::Internal,
                    "the replay failed; see the log",
                ))
            }
        }
    }

    /// `POST /_local/token` {sub, roles[]} -> {token}: a development token valid for 12 hours.
    fn mint(&self, body: &[u8]) -> Reply {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Ask {
            sub: String,
            #[serde(default)]
            roles: Vec<String>,
        }
        let ask: Ask = match serde_json::from_slice(body) {
            Ok(a) => a,
            Err(e) => {
                return problem(ApiError::field(
                    "body",
                    format!("expected {{\"sub\": UUID, \"roles\": [...]}}: {e}"),
                ))
            }
        };
        if uuid::Uuid::parse_str(&ask.sub).is_err() {
            return problem(ApiError::field("sub", "must be a UUID"));
        }
        if let Some(bad) = ask
            .roles
            .iter()
            .find(|r| !["patient", "provider", "staff", "admin"].contains(&r.as_str()))
        {
            return problem(ApiError::field(
                "roles",
                format!("unknown role {bad:?}; use patient, provider, staff or admin"),
            ));
        }
        let token = self.keys.mint(
            &ask.sub,
            &ask.roles,
            &self.roles_claim,
            now_secs(),
            12 * 3600,
        );
        respond(
            200,
            "application/json",
            json!({ "token": token }).to_string(),
        )
    }
}
