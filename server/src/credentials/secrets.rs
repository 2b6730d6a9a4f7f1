//! Session cookies and API tokens: random secrets, of which only a SHA-256 is stored.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// 256 random bits, URL-safe. Tokens carry a prefix so that a leaked one is recognisable.
pub fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    // The operating system's generator does not fail on Linux once booted; if it ever did,
    // continuing with predictable secrets would be worse than stopping.
    getrandom::getrandom(&mut bytes).expect("the operating system's random generator failed");
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A password for generated accounts (the demo's), readable and long enough.
pub fn new_password() -> String {
    let mut bytes = [0u8; 12];
    getrandom::getrandom(&mut bytes).expect("the operating system's random generator failed");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the database keeps instead of the secret. Secrets have 256 bits of entropy, so a fast
/// hash is enough (unlike passwords).
pub fn fingerprint(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_unique_and_only_their_fingerprint_is_kept() {
        let (a, b) = (new_secret("sbt_"), new_secret("sbt_"));
        assert_ne!(a, b);
        assert!(a.starts_with("sbt_") && a.len() > 40);
        assert_eq!(fingerprint(&a), fingerprint(&a));
        assert_ne!(fingerprint(&a), fingerprint(&b));
        assert!(!fingerprint(&a).contains(&a[4..]));
        assert_eq!(new_password().len(), 16);
    }
}
