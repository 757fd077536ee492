//! The value a lock stores on every node, and the owner label inside it.
//!
//! # The format
//! ```text
//! value = token [ ":" owner ]
//! token = 32 hex digits, lowercase when written (a 128-bit number from the
//!         kernel, new for every acquisition)
//! owner = 1 to 256 bytes of UTF-8 without NUL; may itself contain ':'
//! ```
//! For example `9f86d081884c7d659a2feaa0c55ad015` or
//! `9f86d081884c7d659a2feaa0c55ad015:worker-7`. The key that holds it is
//! given by [`KeyFormat`](crate::KeyFormat) (`redlead:{resource}` by default).
//!
//! # Why it is a contract
//! Every language reaches Redis through this file: Rust directly, C, Go and
//! C# through the C ABI, Python through its native module. Two processes
//! exclude each other only if they agree on the key and on this value, and
//! anyone reading a key (`redlead status`, [`Redlock::holder`]) finds the
//! owner by this format. tests/cross-language checks that a lock taken from
//! any language excludes the other four and that the value has the same
//! shape from all five. Changing the format is a change of the wire format:
//! processes of two versions would misread each other's values.
//!
//! The value's only safety job is to be unique: a release or extension
//! compares it before touching the key, so nobody else's lock is deleted.
//! The token makes it unique; the owner label is for people and is never
//! compared on its own.
//!
//! [`Redlock::holder`]: crate::Redlock::holder

use crate::error::{Error, Result};
use crate::random;
use crate::validate::non_empty_and_at_most;

/// Hex digits of a lock token (128 bits).
pub(crate) const TOKEN_HEX_LEN: usize = 32;

/// Longest owner label (an election's candidate id), in bytes.
pub const MAX_OWNER_LEN: usize = 256;

/// What stands between the token and the owner.
const SEPARATOR: char = ':';

/// A fresh value for one acquisition: a new token, and the owner label when
/// there is one. Fails only when the OS random source does.
pub(crate) fn new(owner: Option<&str>) -> Result<String> {
    Ok(format(&new_token()?, owner))
}

/// A fresh token: 128 bits from the kernel (fork-safe, see `random`) as 32
/// lowercase hex digits.
pub(crate) fn new_token() -> Result<String> {
    Ok(format!("{:032x}", random::u128()?))
}

/// `token` or `token:owner`.
fn format(token: &str, owner: Option<&str>) -> String {
    match owner {
        Some(owner) => format!("{token}{SEPARATOR}{owner}"),
        None => token.to_string(),
    }
}

/// The token and the owner label of a value; None when the value does not
/// start with 32 hex digits followed by the end or by ':'. Hex digits of
/// either case are read, so a token written in uppercase by another client
/// still parses.
fn parse(value: &str) -> Option<(&str, Option<&str>)> {
    let (token, rest) = value.split_at_checked(TOKEN_HEX_LEN)?;
    if !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    if rest.is_empty() {
        return Some((token, None));
    }
    Some((token, Some(rest.strip_prefix(SEPARATOR)?)))
}

/// The owner part of a lock value `<32 hex token>:<owner>` (None for a value
/// without an owner, or one not in this format).
pub fn owner_of(value: &str) -> Option<&str> {
    parse(value)?.1
}

/// An owner label or candidate id (one rule, as a candidate id is the owner
/// label of its lock): non-empty, at most [`MAX_OWNER_LEN`] bytes, no NUL.
pub fn check_owner(owner: &str) -> Result<()> {
    let what = "owner/candidate id";
    non_empty_and_at_most(what, owner, MAX_OWNER_LEN)?;
    if owner.contains('\0') {
        return Err(Error::invalid(format!("{what} must not contain NUL")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_128_bit_lowercase_hex_and_distinct() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_eq!(a.len(), TOKEN_HEX_LEN);
        assert!(a.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')));
        assert_ne!(a, b);
    }

    #[test]
    fn values_parse_back_to_their_token_and_owner() {
        let token = new_token().unwrap();
        for owner in [None, Some("worker-7"), Some("node-a:1"), Some("ü")] {
            let value = new(owner).unwrap();
            assert_eq!(parse(&value).map(|(_, o)| o), Some(owner), "{value}");
            assert_eq!(parse(&format(&token, owner)), Some((token.as_str(), owner)));
        }
        let longest = "x".repeat(MAX_OWNER_LEN);
        let value = format(&token, Some(&longest));
        assert_eq!(owner_of(&value), Some(longest.as_str()));
    }

    #[test]
    fn owner_is_read_back_from_the_value() {
        let token = new_token().unwrap();
        let v = format!("{token}:node-a:1");
        assert_eq!(owner_of(&v), Some("node-a:1"));
        assert_eq!(owner_of(&token), None);
        assert_eq!(owner_of("short"), None);
    }

    #[test]
    fn values_not_in_the_format_have_no_owner() {
        let hex = "0123456789abcdef0123456789ABCDEF";
        assert_eq!(parse(hex), Some((hex, None)), "either case is read");
        assert_eq!(owner_of(&format!("{hex}:")), Some(""));
        for bad in [
            "",
            "0123456789abcdef0123456789abcde",          // 31 digits
            "0123456789abcdef0123456789abcdeg:worker",  // not hex
            "0123456789abcdef0123456789abcdef0:worker", // 33 digits
            "0123456789abcdef0123456789abcdef-worker",  // no ':'
            "worker:0123456789abcdef0123456789abcdef",  // reversed
            "ééééééééééééééééééééééééééééééééé:worker", // not ASCII
        ] {
            assert_eq!(parse(bad), None, "{bad}");
            assert_eq!(owner_of(bad), None, "{bad}");
        }
    }

    #[test]
    fn owners_are_non_empty_at_most_256_bytes_without_nul() {
        assert!(check_owner("worker-7").is_ok());
        assert!(check_owner("a:b").is_ok());
        assert!(check_owner(&"x".repeat(MAX_OWNER_LEN)).is_ok());
        let four_byte = "🦀".repeat(MAX_OWNER_LEN / 4);
        assert!(check_owner(&four_byte).is_ok(), "the limit is in bytes");
        for (bad, words) in [
            ("", "must not be empty"),
            ("a\0b", "must not contain NUL"),
            (&"x".repeat(MAX_OWNER_LEN + 1), "257 bytes; at most 256"),
            (&format!("{four_byte}x"), "257 bytes; at most 256"),
        ] {
            let e = check_owner(bad).unwrap_err();
            assert!(e.is_invalid_argument());
            assert!(e.to_string().contains("owner/candidate id"), "{e}");
            assert!(e.to_string().contains(words), "{e}");
        }
    }
}
