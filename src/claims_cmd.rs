//! `fangpin claims`: the insurance side's commands.

use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum ClaimsCommand {
    /// Recompute the hash chain of a claims ledger; names the first broken entry.
    VerifyLedger {
        /// The ledger, e.g. demo-out/queues/claims-ledger.ndjson.
        file: PathBuf,
    },
    /// Check a coverage file (and its index triggers' SQL files) without running anything.
    CheckCoverage {
        file: PathBuf,
        /// Directory of the index triggers' `.sql` files (default: the built-in ones).
        #[arg(long)]
        triggers: Option<PathBuf>,
    },
}

pub async fn run(command: ClaimsCommand) -> Result<()> {
    match command {
        ClaimsCommand::VerifyLedger { file } => {
            let verified = fangpin_claims::ledger::verify(&file)?;
            println!("{}: {} entries, the chain holds (last hash {})", file.display(), verified.entries, verified.last_hash);
        }
        ClaimsCommand::CheckCoverage { file, triggers } => {
            let coverage = fangpin_claims::Coverage::load(&file, triggers.as_deref())?;
            fangpin_claims::Claims::new(coverage.clone())?.check_triggers().await?;
            let indices: Vec<&str> = coverage.index.iter().map(|i| i.code.as_str()).collect();
            println!("{}: valid; index triggers: {}", file.display(), indices.join(", "));
        }
    }
    Ok(())
}
