//! People and what they may touch. Every account has one role scoped to one area: a village
//! cadre sees and answers the tasks of the village, a township cadre those of the township, a
//! county officer reviews the county's cases, and the city's monitoring centre reads all.
//!
//! Passwords are kept only as argon2id hashes (PHC strings); sessions as the SHA-256 of their
//! cookie token, with an expiry.

use std::path::Path;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::store::{now_text, now_unix, Store};
use crate::{audit, CasesError, Result};

/// The level an account works at.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Village,
    Township,
    County,
    City,
}

impl Role {
    pub fn code(self) -> &'static str {
        match self {
            Role::Village => "village",
            Role::Township => "township",
            Role::County => "county",
            Role::City => "city",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        [Role::Village, Role::Township, Role::County, Role::City]
            .into_iter()
            .find(|r| r.code() == s)
    }

    /// Digits of the area code this role is scoped to: village 12, township 9, county 6, city 4.
    pub fn area_digits(self) -> usize {
        match self {
            Role::Village => 12,
            Role::Township => 9,
            Role::County => 6,
            Role::City => 4,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Village => "村级",
            Role::Township => "乡镇",
            Role::County => "县级",
            Role::City => "市监测中心",
        }
    }

    /// Whether this role records verification outcomes (the cadres who visit and call).
    pub fn verifies(self) -> bool {
        matches!(self, Role::Village | Role::Township)
    }
}

/// A logged-in person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Account {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub area_code: String,
    /// The staff number written as `verifier` on outcomes.
    pub staff_number: String,
}

impl Account {
    /// Whether the household (`420922101201-0042`) lies in this account's area.
    pub fn covers(&self, household_code: &str) -> bool {
        household_code.starts_with(&self.area_code)
    }
}

/// The file `fangpin cases accounts --file` reads: one `[[account]]` table per person.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountsFile {
    #[serde(default)]
    pub account: Vec<AccountSpec>,
}

/// One person in the accounts file. `password` is the initial password: keep the file out of
/// reach and delete it once imported; only the hash is stored.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSpec {
    pub username: String,
    pub name: String,
    pub role: Role,
    pub area: String,
    pub staff_number: String,
    pub password: String,
}

impl AccountSpec {
    fn check(&self) -> Result<()> {
        let who = &self.username;
        let bad = |what: String| Err(CasesError::Config(format!("account {who:?}: {what}")));
        if who.is_empty()
            || !who
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return bad("a username is letters, digits, '-', '_' or '.'".into());
        }
        let digits = self.role.area_digits();
        if self.area.len() != digits
            || !self.area.bytes().all(|b| b.is_ascii_digit())
            || !self.area.starts_with("4209")
        {
            return bad(format!(
                "a {} account's area is a {digits}-digit Xiaogan code (420...), not {:?}",
                self.role.code(),
                self.area
            ));
        }
        if self.password.chars().count() < 10 {
            return bad("the password must have at least 10 characters".into());
        }
        if fangpin_connectors::id_like::contains(&self.staff_number)
            || fangpin_connectors::id_like::contains(&self.name)
        {
            return bad("names and staff numbers must not be ID numbers".into());
        }
        Ok(())
    }
}

/// The argon2id hash of a password, as a PHC string.
pub fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CasesError::Internal(format!("password hashing: {e}")))
}

/// Reads an accounts file and creates or updates every account in it (a listed account gets
/// the file's password again). Returns how many were written.
pub async fn import(store: &Store, path: &Path) -> Result<usize> {
    let text = std::fs::read_to_string(path).map_err(|e| CasesError::io(path, e))?;
    let file: AccountsFile = toml::from_str(&text)
        .map_err(|e| CasesError::Config(format!("{}: {e}", path.display())))?;
    for spec in &file.account {
        spec.check()
            .map_err(|e| CasesError::Config(format!("{}: {e}", path.display())))?;
    }
    let mut tx = store.begin().await?;
    for spec in &file.account {
        let hash = hash_password(&spec.password)?;
        sqlx::query("DELETE FROM sessions WHERE username = $1")
            .bind(spec.username.clone())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM accounts WHERE username = $1")
            .bind(spec.username.clone())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO accounts (username, display_name, role, area_code, staff_number, password_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(spec.username.clone())
        .bind(spec.name.clone())
        .bind(spec.role.code())
        .bind(spec.area.clone())
        .bind(spec.staff_number.clone())
        .bind(hash)
        .bind(now_text())
        .execute(&mut *tx)
        .await?;
        let detail = serde_json::json!({"role": spec.role.code(), "area": spec.area});
        audit::append(
            &mut tx,
            "accounts-file",
            "account.written",
            &spec.username,
            &detail,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(file.account.len())
}

fn account_of(row: &sqlx::any::AnyRow) -> Result<Account> {
    let role: String = row.try_get("role")?;
    Ok(Account {
        username: row.try_get("username")?,
        display_name: row.try_get("display_name")?,
        role: Role::parse(&role)
            .ok_or_else(|| CasesError::Internal(format!("stored role {role:?}")))?,
        area_code: row.try_get("area_code")?,
        staff_number: row.try_get("staff_number")?,
    })
}

/// The account, if the password is right. A wrong user and a wrong password look the same.
pub async fn authenticate(
    store: &Store,
    username: &str,
    password: &str,
) -> Result<Option<Account>> {
    let row = sqlx::query(
        "SELECT username, display_name, role, area_code, staff_number, password_hash FROM accounts WHERE username = $1",
    )
    .bind(username.to_owned())
    .fetch_optional(store.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let stored: String = row.try_get("password_hash")?;
    let parsed = PasswordHash::new(&stored)
        .map_err(|e| CasesError::Internal(format!("stored hash: {e}")))?;
    if Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_err()
    {
        return Ok(None);
    }
    account_of(&row).map(Some)
}

/// 32 random bytes, hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new session for the account: the cookie token and the CSRF token of its forms.
pub async fn start_session(
    store: &Store,
    account: &Account,
    seconds: u64,
) -> Result<(String, String)> {
    let (token, csrf) = (random_token(), random_token());
    let expires = now_unix() + seconds as i64;
    let mut tx = store.begin().await?;
    sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
        .bind(now_unix())
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO sessions (token_hash, username, csrf_token, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(token_hash(&token))
        .bind(account.username.clone())
        .bind(csrf.clone())
        .bind(expires)
        .execute(&mut *tx)
        .await?;
    audit::append(
        &mut tx,
        &account.username,
        "session.started",
        &account.username,
        &serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok((token, csrf))
}

/// The account and CSRF token of a live session.
pub async fn session(store: &Store, token: &str) -> Result<Option<(Account, String)>> {
    let row = sqlx::query(
        "SELECT a.username, a.display_name, a.role, a.area_code, a.staff_number, s.csrf_token \
         FROM sessions s JOIN accounts a ON a.username = s.username \
         WHERE s.token_hash = $1 AND s.expires_at > $2",
    )
    .bind(token_hash(token))
    .bind(now_unix())
    .fetch_optional(store.pool())
    .await?;
    match row {
        Some(row) => Ok(Some((account_of(&row)?, row.try_get("csrf_token")?))),
        None => Ok(None),
    }
}

pub async fn end_session(store: &Store, token: &str) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(token_hash(token))
        .execute(store.pool())
        .await?;
    Ok(())
}
