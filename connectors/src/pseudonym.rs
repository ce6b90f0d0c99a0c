//! Resident ID numbers: the check character, and keyed-HMAC pseudonyms.
//!
//! An ID number is personal data and must not leave the ingestion step in clear text. The
//! decoders validate it with [`id_card_valid`] and immediately replace it by a [`PersonKey`]: the
//! HMAC-SHA256 of the number under a secret key. Without the key a pseudonym cannot be reversed
//! by hashing all ~10^10 plausible ID numbers, which a plain hash could.

use std::fmt;
use std::io::Read;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::error::ConnectorError;
use crate::event::PersonKey;

/// Environment variable holding the pseudonym key, as hex digits.
pub const KEY_ENV: &str = "FANGPIN_PSEUDONYM_KEY";

/// Shortest accepted key, in bytes (128 bits).
pub const MIN_KEY_BYTES: usize = 16;

/// ISO 7064 MOD 11-2 weights of the first 17 digits.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character for each remainder of the weighted sum modulo 11.
const CHECK_CHARS: [u8; 11] = *b"10X98765432";

/// The check character an 18-character ID number must end with, given its first 17 digits.
///
/// `None` unless `first17` is exactly 17 ASCII digits.
pub fn id_card_check_char(first17: &[u8]) -> Option<u8> {
    if first17.len() != 17 || !first17.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = first17.iter().zip(WEIGHTS).map(|(d, w)| u32::from(d - b'0') * w).sum();
    Some(CHECK_CHARS[(sum % 11) as usize])
}

/// What is wrong with an ID number, or `None` when it is valid.
///
/// The message never contains the number itself, so it is safe for logs and dead letters.
pub fn id_card_problem(s: &str) -> Option<&'static str> {
    let b = s.as_bytes();
    if b.len() != 18 {
        return Some("id_card must be 18 characters long");
    }
    let Some(expected) = id_card_check_char(&b[..17]) else {
        return Some("id_card must start with 17 digits");
    };
    match b[17] {
        c if c == expected => None,
        // Only the uppercase X of GB 11643 is accepted, so that one person has exactly one
        // spelling and hence one pseudonym; a lowercase x is a department-side formatting bug
        // they should fix, and saying so helps them find it.
        b'x' if expected == b'X' => Some("id_card check character must be an uppercase X"),
        _ => Some("id_card check character is wrong"),
    }
}

/// Whether `s` is an 18-character resident ID number with a correct ISO 7064 MOD 11-2 check
/// character. The check character `X` must be uppercase: a lowercase `x` is rejected.
pub fn id_card_valid(s: &str) -> bool {
    id_card_problem(s).is_none()
}

/// Turns ID numbers into [`PersonKey`]s with a keyed HMAC-SHA256; the key is never printed.
#[derive(Clone)]
pub struct Pseudonymiser {
    /// HMAC state already keyed: cloning it per ID saves hashing the key blocks every time.
    mac: Hmac<Sha256>,
}

impl fmt::Debug for Pseudonymiser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pseudonymiser").field("key", &"<redacted>").finish()
    }
}

impl Pseudonymiser {
    /// A pseudonymiser with this secret key, which must be at least 16 bytes long.
    pub fn new(key: &[u8]) -> Result<Pseudonymiser, ConnectorError> {
        if key.len() < MIN_KEY_BYTES {
            return Err(ConnectorError::Config(format!(
                "the pseudonym key is {} bytes long, it must be at least {MIN_KEY_BYTES} bytes \
                 (generate one with `openssl rand -hex 32`)",
                key.len()
            )));
        }
        let mac = Hmac::<Sha256>::new_from_slice(key)
            .map_err(|e| ConnectorError::Config(format!("unusable pseudonym key: {e}")))?;
        Ok(Pseudonymiser { mac })
    }

    /// A pseudonymiser whose key is written as hex digits (at least 32 of them, i.e. 16 bytes).
    ///
    /// Surrounding whitespace, such as the newline of a key file, is ignored.
    pub fn from_hex(hex_key: &str) -> Result<Pseudonymiser, ConnectorError> {
        let hex_key = hex_key.trim();
        if hex_key.is_empty() {
            return Err(ConnectorError::Config(format!(
                "{KEY_ENV} is set but empty: unset it to use a per-run key, or set it to at least \
                 32 hex digits (e.g. from `openssl rand -hex 32`)"
            )));
        }
        let key = hex::decode(hex_key).map_err(|_| {
            ConnectorError::Config(format!(
                "the pseudonym key must be written as hex digits (an even number of 0-9, a-f), \
                 e.g. from `openssl rand -hex 32`; check {KEY_ENV}"
            ))
        })?;
        Pseudonymiser::new(&key)
    }

    /// The pseudonymiser configured by the environment variable `FANGPIN_PSEUDONYM_KEY`, or
    /// `None` when it is not set.
    ///
    /// The variable holds the key as hex digits, not as plain text: a key must be random bytes,
    /// and hex is how tools like `openssl rand -hex 32` print them. A set but unusable value is
    /// an error rather than `None`, so that a typo never silently changes every pseudonym.
    pub fn from_env() -> Result<Option<Pseudonymiser>, ConnectorError> {
        match std::env::var_os(KEY_ENV) {
            None => Ok(None),
            Some(v) => {
                let v = v.to_str().ok_or_else(|| {
                    ConnectorError::Config(format!("{KEY_ENV} is not valid UTF-8; set it to hex digits"))
                })?;
                Pseudonymiser::from_hex(v).map(Some)
            }
        }
    }

    /// A keyed hash standing for an identifier that must not be kept as it is: `h:` and 32 hex
    /// digits, in another domain than the person keys.
    pub fn opaque(&self, value: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(b"fangpin identifier\0");
        mac.update(value.as_bytes());
        format!("h:{}", hex::encode(&mac.finalize().into_bytes()[..16]))
    }

    /// A short public fingerprint of the key (16 hex digits of an HMAC of a fixed label): equal
    /// keys have equal fingerprints, and it reveals nothing of the key or of any pseudonym.
    /// Checkpoints carry it, so that state written under one key is never mixed with records
    /// pseudonymised under another.
    pub fn fingerprint(&self) -> String {
        let mut mac = self.mac.clone();
        mac.update(b"fangpin pseudonym key fingerprint");
        hex::encode(&mac.finalize().into_bytes()[..8])
    }

    /// A pseudonymiser with a random 32-byte key that is never stored.
    ///
    /// Its pseudonyms are stable only within this run (this process): state kept across runs or
    /// joined with another run's output would not match. Use it for demos and tests, not for
    /// production, which must configure `FANGPIN_PSEUDONYM_KEY`.
    pub fn ephemeral() -> Pseudonymiser {
        let mut key = [0u8; 32];
        let from_os = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut key));
        if from_os.is_err() {
            // No /dev/urandom (not Unix, or a sandbox): hash what differs between runs. Weaker,
            // but an ephemeral key only has to keep pseudonyms apart from other runs'.
            let mut h = Sha256::new();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            h.update(now.to_le_bytes());
            h.update(std::process::id().to_le_bytes());
            h.update(format!("{:?}{:p}", std::thread::current().id(), &key).as_bytes());
            key = h.finalize().into();
        }
        // HMAC accepts keys of any length, so this cannot fail.
        let mac = Hmac::<Sha256>::new_from_slice(&key).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        Pseudonymiser { mac }
    }

    /// The pseudonym of an ID number; validate it with [`id_card_valid`] first.
    ///
    /// The number is normalised to ASCII uppercase (so `x` and `X` give the same pseudonym). The
    /// result is 32 lowercase hex characters taken from the first 16 bytes of the HMAC, except
    /// that every 8th character is forced to a letter `a`-`f`: a pseudonym then never contains a
    /// run of 8 or more digits, so it can never look like (or be masked as) an ID number.
    pub fn person_key(&self, id_card: &str) -> PersonKey {
        let mut mac = self.mac.clone();
        let b = id_card.as_bytes();
        match b.split_last() {
            Some((&last, rest)) if last.is_ascii_lowercase() => {
                mac.update(rest);
                mac.update(&[last.to_ascii_uppercase()]);
            }
            _ => mac.update(b),
        }
        let digest = mac.finalize().into_bytes();
        PersonKey(hex_without_digit_runs(&digest[..16]))
    }
}

/// `bytes` as lowercase hex, except that every 8th character (the low nibble of every 4th
/// byte) is forced to a letter `a`-`f`: the text never holds a run of 8 or more digits, so an
/// identifier or hash written this way can never look like (or be masked as) an ID number.
/// It costs ~1.4 of every 32 bits, far more than enough are left against collisions.
pub fn hex_without_digit_runs(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for (i, byte) in bytes.iter().enumerate() {
        out.push(HEX[usize::from(byte >> 4)] as char);
        let low = usize::from(byte & 0x0f);
        let c = if i % 4 == 3 { b"abcdef"[low % 6] } else { HEX[low] };
        out.push(c as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The check character computed independently of the module, straight from the standard.
    fn check_char(first17: &str) -> char {
        let w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
        let sum: u32 = first17.chars().zip(w).map(|(c, w)| c.to_digit(10).unwrap() * w).sum();
        ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'][(sum % 11) as usize]
    }

    fn longest_digit_run(s: &str) -> usize {
        s.split(|c: char| !c.is_ascii_digit()).map(str::len).max().unwrap_or(0)
    }

    #[test]
    fn known_good_numbers_pass_and_flipped_check_chars_fail() {
        // The example number printed in GB 11643 itself.
        assert!(id_card_valid("11010519491231002X"));
        for first17 in ["42092219850315123", "42098119900101001", "42098420011231987", "11010519491231002"] {
            let good = format!("{first17}{}", check_char(first17));
            assert!(id_card_valid(&good), "{good}");
            for c in "0123456789X".chars().filter(|&c| c != check_char(first17)) {
                assert!(!id_card_valid(&format!("{first17}{c}")), "{first17}{c}");
            }
        }
    }

    #[test]
    fn shape_errors_are_rejected_with_a_reason_that_hides_the_number() {
        assert_eq!(id_card_problem("11010519491231002"), Some("id_card must be 18 characters long"));
        assert_eq!(id_card_problem("11010519491231002X1"), Some("id_card must be 18 characters long"));
        assert_eq!(id_card_problem("1101051949123100AX"), Some("id_card must start with 17 digits"));
        assert_eq!(id_card_problem("11010519491231002x"), Some("id_card check character must be an uppercase X"));
        assert_eq!(id_card_problem("110105194912310021"), Some("id_card check character is wrong"));
        // Multi-byte characters must not confuse the length check or panic.
        assert!(!id_card_valid("１１０１０５１９４９１２３１００２X"));
        assert!(!id_card_valid(""));
    }

    #[test]
    fn pseudonyms_are_stable_per_key_and_differ_across_keys() {
        let a = Pseudonymiser::new(b"0123456789abcdef-key-a").unwrap();
        let a2 = Pseudonymiser::new(b"0123456789abcdef-key-a").unwrap();
        let b = Pseudonymiser::new(b"0123456789abcdef-key-b").unwrap();
        let id = "11010519491231002X";
        assert_eq!(a.person_key(id), a2.person_key(id));
        assert_eq!(a.person_key(id), a.person_key("11010519491231002x"));
        assert_ne!(a.person_key(id), b.person_key(id));
        assert_ne!(a.person_key(id), a.person_key("420922198503151231"));
        let k = a.person_key(id);
        assert_eq!(k.0.len(), 32);
        assert!(k.0.bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert!(!k.0.contains(id) && !k.0.contains(&id[..15]));
    }

    #[test]
    fn pseudonyms_never_contain_long_digit_runs() {
        let p = Pseudonymiser::new(&[7u8; 32]).unwrap();
        // Enough numbers that plain hex would produce 15+ digit runs (about 0.7% of keys).
        for n in 0..5000u64 {
            let first17 = format!("4209221985{n:07}");
            let id = format!("{first17}{}", check_char(&first17));
            let k = p.person_key(&id);
            assert!(longest_digit_run(&k.0) < 8, "{}", k.0);
        }
    }

    #[test]
    fn keys_are_checked_and_never_printed() {
        assert!(matches!(Pseudonymiser::new(b"short"), Err(ConnectorError::Config(_))));
        assert!(matches!(Pseudonymiser::from_hex("00ff"), Err(ConnectorError::Config(_))));
        assert!(matches!(Pseudonymiser::from_hex("not hex at all, but long enough"), Err(ConnectorError::Config(_))));
        assert!(matches!(Pseudonymiser::from_hex("  "), Err(ConnectorError::Config(_))));
        let hex_key = "00112233445566778899aabbccddeeff";
        let p = Pseudonymiser::from_hex(&format!("{hex_key}\n")).unwrap();
        let raw = Pseudonymiser::new(&hex::decode(hex_key).unwrap()).unwrap();
        assert_eq!(p.person_key("11010519491231002X"), raw.person_key("11010519491231002X"));
        let shown = format!("{p:?}");
        assert!(!shown.contains("0011") && shown.contains("redacted"), "{shown}");
    }

    #[test]
    fn ephemeral_keys_differ_between_instances() {
        let (a, b) = (Pseudonymiser::ephemeral(), Pseudonymiser::ephemeral());
        assert_ne!(a.person_key("11010519491231002X"), b.person_key("11010519491231002X"));
    }
}
