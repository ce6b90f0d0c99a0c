//! Names of counties, townships and villages. The feeds carry codes only; the names come from
//! the civil-affairs area register as a file of `code,name` lines (UTF-8, `#` starts a comment).

use std::path::Path;

use crate::store::Store;
use crate::{audit, CasesError, Result};

/// The county names of the contracts' GB/T 2260 codes, loaded with every import.
pub const COUNTIES: [(&str, &str); 7] = [
    ("420902", "孝南区"),
    ("420921", "孝昌县"),
    ("420922", "大悟县"),
    ("420923", "云梦县"),
    ("420981", "应城市"),
    ("420982", "安陆市"),
    ("420984", "汉川市"),
];

/// Parses `code,name` lines, naming the line of the first mistake.
pub fn parse(text: &str, path: &Path) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad =
            |why: &str| CasesError::Config(format!("{} line {}: {why}", path.display(), n + 1));
        let (code, name) = line
            .split_once(',')
            .ok_or_else(|| bad("expected code,name"))?;
        let (code, name) = (code.trim(), name.trim());
        if ![4, 6, 9, 12].contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("the code must have 4, 6, 9 or 12 digits"));
        }
        if name.is_empty() {
            return Err(bad("the name is empty"));
        }
        out.push((code.to_owned(), name.to_owned()));
    }
    Ok(out)
}

/// Writes the counties' names and the file's (later lines win).
pub async fn import(store: &Store, path: Option<&Path>) -> Result<usize> {
    let mut names: Vec<(String, String)> = COUNTIES
        .iter()
        .map(|(c, n)| ((*c).to_owned(), (*n).to_owned()))
        .collect();
    if let Some(path) = path {
        let text = std::fs::read_to_string(path).map_err(|e| CasesError::io(path, e))?;
        names.extend(parse(&text, path)?);
    }
    let mut tx = store.begin().await?;
    for (code, name) in &names {
        sqlx::query("INSERT INTO areas (code, name) VALUES ($1, $2) ON CONFLICT (code) DO UPDATE SET name = excluded.name")
            .bind(code.clone())
            .bind(name.clone())
            .execute(&mut *tx)
            .await?;
    }
    audit::append(
        &mut tx,
        "areas-file",
        "areas.written",
        "areas",
        &serde_json::json!({"count": names.len()}),
    )
    .await?;
    tx.commit().await?;
    Ok(names.len())
}
