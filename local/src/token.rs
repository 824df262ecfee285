//! Development tokens: HS256 JWTs minted by `POST /_local/token` and verified by the local server the
//! way API Gateway's JWT authorizer verifies real ones (signature, issuer, audience, expiry), whose
//! claims then reach the handler as strings, arrays as `[a b]`.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

pub const ISSUER: &str = "https://local.clinic.invalid";
pub const AUDIENCE: &str = "clinic-local";

#[derive(Clone)]
pub struct Keys {
    secret: Vec<u8>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("bad signature")]
    Signature,
    #[error("wrong issuer or audience")]
    Audience,
    #[error("expired")]
    Expired,
}

impl Keys {
    /// A fresh secret per process: tokens from an earlier run are not accepted.
    pub fn random() -> Keys {
        let secret = [
            uuid::Uuid::new_v4().as_bytes().as_slice(),
            uuid::Uuid::new_v4().as_bytes(),
        ]
        .concat();
        Keys { secret }
    }

    fn sign(&self, data: &str) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("any key length");
        mac.update(data.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    pub fn mint(
        &self,
        sub: &str,
        roles: &[String],
        roles_claim: &str,
        now: i64,
        ttl_secs: i64,
    ) -> String {
        let header = URL_SAFE_NO_PAD.encode(json!({"alg": "HS256", "typ": "JWT"}).to_string());
        let mut claims = json!({"sub": sub, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + ttl_secs, "token_use": "access"});
        claims[roles_claim] = json!(roles);
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signing_input = format!("{header}.{payload}");
        let signature = URL_SAFE_NO_PAD.encode(self.sign(&signing_input));
        format!("{signing_input}.{signature}")
    }

    /// The claims of a valid token, flattened to strings as API Gateway passes them to the function.
    pub fn verify(&self, token: &str, now: i64) -> Result<HashMap<String, String>, TokenError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let signature = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| TokenError::Malformed)?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("any key length");
        mac.update(format!("{h}.{p}").as_bytes());
        mac.verify_slice(&signature)
            .map_err(|_| TokenError::Signature)?;
        let claims: serde_json::Map<String, Value> = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(p)
                .map_err(|_| TokenError::Malformed)?,
        )
        .map_err(|_| TokenError::Malformed)?;
        if claims.get("iss") != Some(&json!(ISSUER)) || claims.get("aud") != Some(&json!(AUDIENCE))
        {
            return Err(TokenError::Audience);
        }
        if claims
            .get("exp")
            .and_then(Value::as_i64)
            .is_none_or(|exp| exp <= now)
        {
            return Err(TokenError::Expired);
        }
        Ok(claims.into_iter().map(|(k, v)| (k, flatten(&v))).collect())
    }
}

fn flatten(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(flatten).collect::<Vec<_>>().join(" ")
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minted_token_verifies_into_api_gateway_shaped_claims() {
        let keys = Keys::random();
        let t = keys.mint(
            "abc",
            &["provider".into(), "staff".into()],
            "cognito:groups",
            1000,
            60,
        );
        let claims = keys.verify(&t, 1001).unwrap();
        assert_eq!(claims["sub"], "abc");
        assert_eq!(claims["cognito:groups"], "[provider staff]");
        assert_eq!(claims["exp"], "1060");
    }

    #[test]
    fn forged_expired_and_foreign_tokens_are_refused() {
        let keys = Keys::random();
        let t = keys.mint("abc", &[], "cognito:groups", 1000, 60);
        assert_eq!(keys.verify(&t, 1060), Err(TokenError::Expired));
        assert_eq!(Keys::random().verify(&t, 1001), Err(TokenError::Signature));
        let (head, _) = t.rsplit_once('.').unwrap();
        let forged = format!("{}.{}", head.replace('.', ".e30."), "x");
        assert!(keys.verify(&forged, 1001).is_err());
        assert_eq!(keys.verify("nope", 1001), Err(TokenError::Malformed));
    }
}
