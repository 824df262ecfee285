//! The HTTP API's CORS as API Gateway applies it
//! (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-cors.html): with a
//! `CorsConfiguration`, API Gateway answers every preflight (`OPTIONS` with `Origin` and
//! `Access-Control-Request-Method`) itself, before the authorizer and whether or not an `OPTIONS` route
//! exists, and adds the configured headers to the answers to requests from an allowed origin; it
//! ignores CORS headers a function returns. Without one, `OPTIONS` is a route like any other (none here:
//! 404), and no answer carries CORS headers.

use http::HeaderMap;

/// A `CorsConfiguration`, its lists as deployed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cors {
    pub allow_origins: Vec<String>,
    pub allow_headers: Vec<String>,
    pub allow_methods: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age: Option<u64>,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn listed(list: &[String], item: &str) -> bool {
    list.iter()
        .any(|l| l == "*" || l.eq_ignore_ascii_case(item))
}

impl Cors {
    /// `Access-Control-Allow-Origin` for `origin`: `*` when every origin is allowed, else the origin
    /// itself when it is named (an origin is compared whole: scheme, host and port).
    fn allowed_origin(&self, origin: &str) -> Option<String> {
        if self.allow_origins.iter().any(|o| o == "*") {
            return Some("*".into());
        }
        self.allow_origins
            .iter()
            .any(|o| o.eq_ignore_ascii_case(origin))
            .then(|| origin.to_owned())
    }

    /// Whether the request is a preflight, which API Gateway answers itself.
    pub fn is_preflight(method: &http::Method, headers: &HeaderMap) -> bool {
        method == http::Method::OPTIONS
            && header(headers, "origin").is_some()
            && header(headers, "access-control-request-method").is_some()
    }

    /// The headers of the answer (204) to a preflight: the CORS headers only when its origin, method and
    /// headers are all allowed; none otherwise, so the browser refuses the call.
    pub fn preflight(&self, headers: &HeaderMap) -> Vec<(&'static str, String)> {
        let (Some(origin), Some(method)) = (
            header(headers, "origin"),
            header(headers, "access-control-request-method"),
        ) else {
            return vec![];
        };
        let Some(allowed) = self.allowed_origin(origin) else {
            return vec![];
        };
        let asked: Vec<&str> = header(headers, "access-control-request-headers")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .collect();
        if !listed(&self.allow_methods, method)
            || !asked.iter().all(|h| listed(&self.allow_headers, h))
        {
            return vec![];
        }
        let mut out = vec![
            ("access-control-allow-origin", allowed),
            ("access-control-allow-methods", self.allow_methods.join(",")),
            ("vary", "origin".into()),
        ];
        if !self.allow_headers.is_empty() {
            out.push(("access-control-allow-headers", self.allow_headers.join(",")));
        }
        if let Some(age) = self.max_age {
            out.push(("access-control-max-age", age.to_string()));
        }
        out
    }

    /// The headers added to the answer to a request from an allowed origin.
    pub fn response(&self, headers: &HeaderMap) -> Vec<(&'static str, String)> {
        let Some(allowed) = header(headers, "origin").and_then(|o| self.allowed_origin(o)) else {
            return vec![];
        };
        let mut out = vec![
            ("access-control-allow-origin", allowed),
            ("vary", "origin".into()),
        ];
        if !self.expose_headers.is_empty() {
            out.push((
                "access-control-expose-headers",
                self.expose_headers.join(","),
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cors() -> Cors {
        Cors {
            allow_origins: vec!["https://app.example.org".into()],
            allow_headers: vec!["authorization".into(), "content-type".into()],
            allow_methods: vec!["GET".into(), "POST".into()],
            expose_headers: vec!["location".into()],
            max_age: Some(600),
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (http::HeaderName::from_static(k), v.parse().unwrap()))
            .collect()
    }

    #[test]
    fn a_preflight_is_allowed_only_for_a_named_origin_method_and_headers() {
        let ok = headers(&[
            ("origin", "https://app.example.org"),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "Authorization, content-type",
            ),
        ]);
        let answer = cors().preflight(&ok);
        assert!(answer.contains(&(
            "access-control-allow-origin",
            "https://app.example.org".into()
        )));
        assert!(answer.contains(&("access-control-max-age", "600".into())));
        for refused in [
            headers(&[
                ("origin", "https://evil.example"),
                ("access-control-request-method", "GET"),
            ]),
            headers(&[
                ("origin", "https://app.example.org"),
                ("access-control-request-method", "DELETE"),
            ]),
            headers(&[
                ("origin", "https://app.example.org"),
                ("access-control-request-method", "GET"),
                ("access-control-request-headers", "x-secret"),
            ]),
        ] {
            assert!(cors().preflight(&refused).is_empty(), "{refused:?}");
        }
    }

    #[test]
    fn answers_carry_cors_headers_only_for_an_allowed_origin() {
        let from = |o| headers(&[("origin", o)]);
        assert!(cors()
            .response(&from("https://app.example.org"))
            .contains(&("access-control-expose-headers", "location".into())));
        assert!(cors()
            .response(&from("https://app.example.org.evil"))
            .is_empty());
        assert!(cors().response(&HeaderMap::new()).is_empty());
        let any = Cors {
            allow_origins: vec!["*".into()],
            ..cors()
        };
        assert_eq!(any.response(&from("https://x.test"))[0].1, "*");
    }
}
