//! `paydesk token`: list a tenant's API tokens (never their values) and revoke one by its id — at
//! once, on every host, as the API and the people page do.

use anyhow::Context as _;
use clap::Subcommand;

use crate::db::{Database, Person};
use crate::tenant::TenantId;

/// What `paydesk token` does.
#[derive(Debug, Subcommand, Clone)]
pub enum TokenCommand {
    /// The tenant's API tokens: id, owner, label, when made, expires, revoked, last used.
    List {
        /// The tenant.
        #[arg(long)]
        tenant: String,
    },
    /// Revoke a token by its id (`paydesk token list` shows ids).
    Revoke {
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// The token's id.
        #[arg(long)]
        id: i64,
    },
}

fn when(t: Option<i64>) -> String {
    t.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| "-".into())
}

/// Run it.
pub fn run(db: &dyn Database, command: &TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::List { tenant } => {
            let tenant = TenantId::parse(tenant).map_err(anyhow::Error::msg)?;
            db.tenant(&tenant)
                .with_context(|| format!("--tenant {tenant}"))?;
            println!("id  owner  label  created  expires  revoked  last used");
            for t in db.tokens(&tenant)? {
                let owner = match t.owner {
                    Person::Agent(_) => format!("agent {}", t.owner_email),
                    Person::User(_) => format!("portal user {}", t.owner_email),
                };
                println!(
                    "{}  {owner}  {}  {}  {}  {}  {}",
                    t.id,
                    t.label,
                    when(Some(t.created_at)),
                    when(t.expires_at),
                    when(t.revoked_at),
                    when(t.last_used_at)
                );
            }
            Ok(())
        }
        TokenCommand::Revoke { tenant, id } => {
            let tenant = TenantId::parse(tenant).map_err(anyhow::Error::msg)?;
            db.revoke_token(&tenant, *id)
                .with_context(|| format!("revoking token {id} of tenant {tenant}"))?;
            println!("token {id} of tenant {tenant} revoked");
            Ok(())
        }
    }
}
