//! Agent credentials: each agent's secret, accepted as a bearer token on every endpoint that
//! reads material or changes anything, and the short-lived grants a manager signs with a
//! failover server's secret so that a repaired recorder may pull exactly one failover period
//! from it during material copying (the peers never learn each other's secrets).
//!
//! A grant is `sg1.<payload>.<mac>`: the payload is the [`Grant`] as JSON, the MAC is
//! HMAC-SHA-256 over `sg1.<payload>` keyed with the source's secret, both base64url without
//! padding. It is a bearer token like the secret, so it travels the same way
//! (`Authorization: Bearer …`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// A secret shorter than this is refused: it could be guessed.
pub const MIN_SECRET_CHARS: usize = 16;
/// Longer than this is not a secret but a mistake (a pasted file).
pub const MAX_SECRET_BYTES: usize = 1024;

const GRANT_PREFIX: &str = "sg1.";

type HmacSha256 = Hmac<Sha256>;

/// 256 random bits, base64url: what an agent writes to `DATA_DIR/secret` on its first start.
pub fn new_secret() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Why a secret is not one (the sentence names what is wrong, never the secret).
pub fn check_secret(secret: &str) -> Result<(), &'static str> {
    if secret.chars().count() < MIN_SECRET_CHARS {
        return Err("must be at least 16 characters");
    }
    if secret.len() > MAX_SECRET_BYTES {
        return Err("must be at most 1024 bytes");
    }
    if secret.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("must not contain spaces or control characters");
    }
    Ok(())
}

/// The token of an `Authorization: Bearer <token>` header value.
pub fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// Whether a presented token is the secret, in time independent of where they differ.
pub fn is_secret(presented: &str, secret: &str) -> bool {
    let (a, b) = (presented.as_bytes(), secret.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// Whether a bearer token is a grant (rather than a secret).
pub fn is_grant(token: &str) -> bool {
    token.starts_with(GRANT_PREFIX)
}

/// What a manager allows one peer to read from `source` during a material copy: the channels,
/// the period and only the records `source` recorded itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// The server whose secret signed the grant and whose records may be read: the origin of
    /// every record served.
    pub source: String,
    /// The recorder whose failover period this is (for the log; the source's channels carry its
    /// channel ids).
    pub recorder: String,
    /// Channel ids that may be read; empty: every channel.
    pub channels: Vec<String>,
    /// The period, microseconds since the epoch, `[from, to)`.
    pub from: i64,
    pub to: i64,
    /// Unix seconds after which the grant is refused.
    pub expires: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    #[error("the grant is malformed")]
    Malformed,
    #[error("the grant is not signed with this server's secret")]
    BadSignature,
    #[error("the grant has expired")]
    Expired,
    #[error("the grant is for {0}, not for this server")]
    OtherSource(String),
}

impl Grant {
    /// The grant as a bearer token, signed with the source's secret.
    pub fn sign(&self, secret: &str) -> String {
        let payload = serde_json::to_vec(self).unwrap_or_default();
        let signed = format!("{GRANT_PREFIX}{}", URL_SAFE_NO_PAD.encode(payload));
        let mac = URL_SAFE_NO_PAD.encode(mac(secret, &signed).finalize().into_bytes());
        format!("{signed}.{mac}")
    }

    /// The grant a token carries, if one of `secrets` (the current one, and the previous one
    /// while a rotation's grace lasts) signed it for `source`, and it has not expired at `now`
    /// (Unix seconds).
    pub fn verify(
        token: &str,
        secrets: &[&str],
        source: &str,
        now: i64,
    ) -> Result<Grant, GrantError> {
        let (signed, mac_text) = token.rsplit_once('.').ok_or(GrantError::Malformed)?;
        let payload = signed.strip_prefix(GRANT_PREFIX).ok_or(GrantError::Malformed)?;
        let presented = URL_SAFE_NO_PAD.decode(mac_text).map_err(|_| GrantError::Malformed)?;
        if !secrets.iter().any(|secret| mac(secret, signed).verify_slice(&presented).is_ok()) {
            return Err(GrantError::BadSignature);
        }
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| GrantError::Malformed)?;
        let grant: Grant = serde_json::from_slice(&payload).map_err(|_| GrantError::Malformed)?;
        if grant.source != source {
            return Err(GrantError::OtherSource(grant.source));
        }
        if grant.expires <= now {
            return Err(GrantError::Expired);
        }
        Ok(grant)
    }

    /// Whether the grant covers reading `channel` over `[from, to)` of `origin`'s records.
    pub fn allows(&self, channel: &str, from: i64, to: i64, origin: &str) -> bool {
        origin == self.source
            && (self.channels.is_empty() || self.channels.iter().any(|c| c == channel))
            && self.from <= from
            && to <= self.to
    }
}

fn mac(secret: &str, message: &str) -> HmacSha256 {
    // HMAC takes a key of any length, so this cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of every length"));
    mac.update(message.as_bytes());
    mac
}

/// `PUT /api/v1/credential`: the agent's new secret (rotation). The old one stays accepted for
/// a grace period, so calls under way and managers that have not yet learnt it keep working.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewSecret {
    pub secret: String,
}

impl std::fmt::Debug for NewSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewSecret(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "a-secret-of-twenty-four!";

    fn grant() -> Grant {
        Grant {
            source: "fo-1".into(),
            recorder: "rec-1".into(),
            channels: vec!["video-1".into()],
            from: 1_000_000,
            to: 9_000_000,
            expires: 2_000,
        }
    }

    #[test]
    fn a_signed_grant_verifies_with_its_secret_only() {
        let token = grant().sign(SECRET);
        assert!(is_grant(&token));
        assert_eq!(Grant::verify(&token, &[SECRET], "fo-1", 1_999), Ok(grant()));
        assert_eq!(
            Grant::verify(&token, &["another-secret-entirely"], "fo-1", 1_999),
            Err(GrantError::BadSignature)
        );
        // During a rotation both secrets are tried.
        assert!(Grant::verify(&token, &["the-new-secret-of-fo-1", SECRET], "fo-1", 0).is_ok());
        assert_eq!(Grant::verify(&token, &[SECRET], "fo-1", 2_000), Err(GrantError::Expired));
        assert_eq!(
            Grant::verify(&token, &[SECRET], "fo-2", 0),
            Err(GrantError::OtherSource("fo-1".into()))
        );
    }

    #[test]
    fn a_changed_grant_is_refused() {
        let token = grant().sign(SECRET);
        let (signed, mac) = token.rsplit_once('.').expect("two parts");
        let wider = Grant { to: i64::MAX, ..grant() };
        let forged = format!(
            "{GRANT_PREFIX}{}.{mac}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&wider).expect("serialises"))
        );
        assert_ne!(forged.split('.').nth(1), signed.split('.').nth(1));
        assert_eq!(Grant::verify(&forged, &[SECRET], "fo-1", 0), Err(GrantError::BadSignature));
        assert_eq!(Grant::verify("sg1.x", &[SECRET], "fo-1", 0), Err(GrantError::Malformed));
        assert_eq!(Grant::verify("nonsense", &[SECRET], "fo-1", 0), Err(GrantError::Malformed));
    }

    #[test]
    fn a_grant_covers_its_channels_period_and_origin() {
        let grant = grant();
        assert!(grant.allows("video-1", 1_000_000, 9_000_000, "fo-1"));
        assert!(!grant.allows("video-2", 1_000_000, 9_000_000, "fo-1"));
        assert!(!grant.allows("video-1", 999_999, 9_000_000, "fo-1"));
        assert!(!grant.allows("video-1", 1_000_000, 9_000_001, "fo-1"));
        assert!(!grant.allows("video-1", 1_000_000, 9_000_000, "rec-1"));
        let every_channel = Grant { channels: vec![], ..grant };
        assert!(every_channel.allows("audio-1", 2_000_000, 3_000_000, "fo-1"));
    }

    #[test]
    fn secrets_and_bearer_headers() {
        let secret = new_secret().expect("random");
        assert_eq!(check_secret(&secret), Ok(()));
        assert_ne!(secret, new_secret().expect("random"));
        assert!(check_secret("short").is_err());
        assert!(check_secret("sixteen chars with spaces").is_err());
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
        assert!(is_secret(SECRET, SECRET));
        assert!(!is_secret(SECRET, "a-secret-of-twenty-four?"));
        assert!(!is_secret("a", SECRET));
    }
}
