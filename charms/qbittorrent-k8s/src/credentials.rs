//! WebUI credentials: the username rules, password generation, and the PBKDF2 hash that
//! qBittorrent stores in `qBittorrent.conf` as `@ByteArray(<salt b64>:<hash b64>)`
//! (PBKDF2-HMAC-SHA512, 100 000 iterations, 16-byte salt, 64-byte key — what qBittorrent 4.2+
//! writes and verifies).

use std::fmt;
use std::num::NonZeroU32;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use juju_charm::tools::secret::SecretContent;
use ring::rand::SecureRandom;

use crate::constants::{PASSWORD_KEY, USERNAME_KEY};

/// PBKDF2 iterations qBittorrent uses.
const ITERATIONS: NonZeroU32 = match NonZeroU32::new(100_000) {
    Some(n) => n,
    None => panic!("100000 is not zero"),
};
const SALT_LEN: usize = 16;
const KEY_LEN: usize = 64;
/// Random bytes in a generated password (32 characters once encoded).
const PASSWORD_BYTES: usize = 24;
/// Username used when the operator has not chosen one (the reference charm's default).
pub const DEFAULT_USERNAME: &str = "charmarr";

/// A credentials problem, naming what was wrong.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CredentialsError {
    /// The username is empty, too long or has a character outside `[A-Za-z0-9._@-]`.
    #[error("username must be 1-64 characters of letters, digits, '.', '_', '@' or '-'")]
    BadUsername,
    /// The password is empty, too long or holds a control character.
    #[error("password must be 1-256 characters without control characters")]
    BadPassword,
    /// The system random number generator failed.
    #[error("generating random bytes failed")]
    Random,
}

/// A validated WebUI username: safe to write into an INI line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// Validates a username from an action parameter or a secret.
    pub fn parse(s: &str) -> Result<Self, CredentialsError> {
        let ok = (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-'));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(CredentialsError::BadUsername)
        }
    }

    /// The username.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A WebUI password. Its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Validates a password read back from the credentials secret.
    pub fn parse(s: &str) -> Result<Self, CredentialsError> {
        let ok = (1..=256).contains(&s.chars().count()) && !s.chars().any(char::is_control);
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(CredentialsError::BadPassword)
        }
    }

    /// A new random password: 24 bytes from the system RNG, URL-safe base64 (32 characters).
    pub fn generate(rng: &dyn SecureRandom) -> Result<Self, CredentialsError> {
        let mut bytes = [0u8; PASSWORD_BYTES];
        rng.fill(&mut bytes).map_err(|_| CredentialsError::Random)?;
        Ok(Self(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// The secret value, for the credentials secret and the `get-credentials` action only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// qBittorrent's `WebUI\Password_PBKDF2` value for `password` with a fresh random salt.
pub fn hash_password(
    password: &Password,
    rng: &dyn SecureRandom,
) -> Result<String, CredentialsError> {
    let mut salt = [0u8; SALT_LEN];
    rng.fill(&mut salt).map_err(|_| CredentialsError::Random)?;
    Ok(hash_with_salt(password, &salt))
}

fn hash_with_salt(password: &Password, salt: &[u8]) -> String {
    let mut key = [0u8; KEY_LEN];
    ring::pbkdf2::derive(
        ring::pbkdf2::PBKDF2_HMAC_SHA512,
        ITERATIONS,
        salt,
        password.expose().as_bytes(),
        &mut key,
    );
    format!(
        "@ByteArray({}:{})",
        STANDARD.encode(salt),
        STANDARD.encode(key)
    )
}

/// `stored` if it has the shape of a hash this module writes (`@ByteArray(<b64>:<b64>)`,
/// bounded, base64 characters only), so it is safe to put in an INI line; else `None`.
pub fn well_formed_hash(stored: &str) -> Option<&str> {
    let body = stored.strip_prefix("@ByteArray(")?.strip_suffix(')')?;
    let (salt, key) = body.split_once(':')?;
    let b64 = |s: &str| {
        !s.is_empty()
            && s.len() <= 128
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
    };
    (b64(salt) && b64(key)).then_some(stored)
}

/// Whether `stored` (a `WebUI\Password_PBKDF2` value, quoted or not) is a hash of `password`.
/// Anything unparseable is "no", so the caller writes a fresh hash.
pub fn verify(password: &Password, stored: &str) -> bool {
    let inner = stored.trim().trim_matches('"');
    let Some(body) = inner
        .strip_prefix("@ByteArray(")
        .and_then(|s| s.strip_suffix(')'))
    else {
        return false;
    };
    let Some((salt_b64, key_b64)) = body.split_once(':') else {
        return false;
    };
    let (Ok(salt), Ok(key)) = (STANDARD.decode(salt_b64), STANDARD.decode(key_b64)) else {
        return false;
    };
    ring::pbkdf2::verify(
        ring::pbkdf2::PBKDF2_HMAC_SHA512,
        ITERATIONS,
        &salt,
        password.expose().as_bytes(),
        &key,
    )
    .is_ok()
}

/// The username and password the credentials secret holds, when both are valid (the
/// secret is ours, but anyone with access to the model could have edited it).
pub fn from_secret(content: &SecretContent) -> Option<(Username, Password)> {
    let username = content
        .get(USERNAME_KEY)
        .and_then(|u| Username::parse(u.expose()).ok())?;
    let password = content
        .get(PASSWORD_KEY)
        .and_then(|p| Password::parse(p.expose()).ok())?;
    Some((username, password))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;

    #[test]
    fn known_vector_matches_python_hashlib() {
        // python3 -c "import hashlib,base64;print(base64.b64encode(hashlib.pbkdf2_hmac('sha512',
        //   b'adminadmin', bytes(range(16)), 100000)).decode())"
        let p = Password::parse("adminadmin").unwrap();
        let salt: Vec<u8> = (0u8..16).collect();
        let got = hash_with_salt(&p, &salt);
        assert_eq!(
            got,
            format!("@ByteArray(AAECAwQFBgcICQoLDA0ODw==:{PY_VECTOR})")
        );
    }

    const PY_VECTOR: &str = include_str!("../tests/pbkdf2-vector.txt").trim_ascii();

    #[test]
    fn hash_verifies_and_rejects_other_passwords() {
        let rng = SystemRandom::new();
        let p = Password::generate(&rng).unwrap();
        assert_eq!(p.expose().len(), 32);
        let h = hash_password(&p, &rng).unwrap();
        assert!(verify(&p, &h));
        assert!(verify(&p, &format!("\"{h}\"")));
        assert!(!verify(&Password::parse("other").unwrap(), &h));
        for junk in [
            "",
            "@ByteArray()",
            "@ByteArray(a:b)",
            "plain",
            "@ByteArray(!!:??)",
        ] {
            assert!(!verify(&p, junk), "{junk}");
        }
    }

    #[test]
    fn usernames_are_ini_safe() {
        assert!(Username::parse("charmarr").is_ok());
        assert!(Username::parse("a.b-c_d@e").is_ok());
        for bad in ["", "a b", "a\nb", "a=b", "[x]", "ü", &"x".repeat(65)] {
            assert_eq!(
                Username::parse(bad),
                Err(CredentialsError::BadUsername),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn password_debug_is_redacted() {
        let p = Password::parse("hunter2").unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
        assert_eq!(Password::parse("a\nb"), Err(CredentialsError::BadPassword));
    }
}

#[cfg(test)]
mod stored_hash_tests {
    use super::*;
    use ring::rand::SystemRandom;

    #[test]
    fn our_hashes_are_well_formed_and_junk_is_not() {
        let rng = SystemRandom::new();
        let h = hash_password(&Password::parse("x").unwrap(), &rng).unwrap();
        assert_eq!(well_formed_hash(&h), Some(h.as_str()));
        for junk in [
            "",
            "@ByteArray()",
            "@ByteArray(a)",
            "@ByteArray(:b)",
            "@ByteArray(a:b)\nWebUI\\Port=1",
            "\"@ByteArray(a:b)\"",
            "@ByteArray(a b:c)",
            &format!("@ByteArray({}:b)", "a".repeat(129)),
        ] {
            assert_eq!(well_formed_hash(junk), None, "{junk:?}");
        }
    }
}
