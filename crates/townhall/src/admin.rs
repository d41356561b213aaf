//! `townhall admin`: the operator's commands. Each change is audited as done by
//! `system:cli`.

use std::io::BufRead;

use anyhow::{Context, bail};
use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
use rand::RngCore;
use sha2::{Digest, Sha256};
use townhall_core::{Actor, CountryCode, Institution, NewInstitution};
use townhall_store::{Db, NewAccount, NewUser};

use crate::cli::{
    AccountCommand, AdminCommand, InstitutionCommand, TeamCommand, TokenCommand, TopicCommand, UserCommand,
};

/// Shortest password accepted.
const MIN_PASSWORD_CHARS: usize = 12;

pub async fn run(db: &Db, command: AdminCommand) -> anyhow::Result<()> {
    let actor = Actor::cli();
    match command {
        AdminCommand::Institution { command: InstitutionCommand::Create(args) } => {
            let parent = match &args.parent {
                Some(slug) => Some(institution(db, slug).await?.id),
                None => None,
            };
            let new = NewInstitution {
                slug: args.slug,
                name: args.name,
                kind: args.kind,
                level: args.level,
                country: CountryCode::parse(&args.country)?,
                parent,
                jurisdiction: args.jurisdiction,
            };
            let created = db.create_institution(&new, &actor).await?;
            println!("created institution {} (id {})", created.slug, created.id);
        }
        AdminCommand::Institution { command: InstitutionCommand::List } => {
            for i in db.institutions().await? {
                println!("{}\t{}\t{}\t{}\t{}\t{}", i.id, i.slug, i.kind, i.level, i.country, i.name);
            }
        }
        AdminCommand::Team { command: TeamCommand::Create { institution: slug, name } } => {
            let owner = institution(db, &slug).await?;
            let team = db.create_team(owner.id, &name, &actor).await?;
            println!("created team {:?} in {} (id {})", team.name, owner.slug, team.id);
        }
        AdminCommand::User {
            command: UserCommand::Create { institution: slug, email, name, role, team, password_stdin },
        } => {
            let owner = institution(db, &slug).await?;
            let team_id = match team {
                Some(team) => Some(
                    db.teams(owner.id)
                        .await?
                        .into_iter()
                        .find(|t| t.name == team)
                        .with_context(|| format!("no team {team:?} in {slug}"))?
                        .id,
                ),
                None => None,
            };
            let password_hash = if password_stdin { Some(hash_password(&read_password()?)?) } else { None };
            let new = NewUser { institution_id: owner.id, email, name, role, team_id, password_hash };
            let user = db.create_user(&new, &actor).await?;
            println!("created {} {} in {} (id {})", user.role, user.email, owner.slug, user.id);
        }
        AdminCommand::User { command: UserCommand::List { institution: slug } } => {
            let owner = institution(db, &slug).await?;
            for u in db.users(owner.id).await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    u.id,
                    u.email,
                    u.role,
                    if u.active { "active" } else { "inactive" },
                    u.name
                );
            }
        }
        AdminCommand::Account {
            command: AccountCommand::Create { institution: slug, platform, handle, display_name, external_id, official },
        } => {
            let owner = institution(db, &slug).await?;
            let new = NewAccount { institution_id: owner.id, platform, handle, display_name, external_id, official };
            let account = db.create_account(&new, &actor).await?;
            println!(
                "registered {} account {} for {} (id {})",
                account.platform, account.handle, owner.slug, account.id
            );
        }
        AdminCommand::Token { command: TokenCommand::Create { email, name } } => {
            let (user, _) = db.user_credentials(&email).await?.with_context(|| format!("no user {email:?}"))?;
            let (token, digest) = new_token();
            let id = db.create_api_token(&user, &name, &digest, &actor).await?;
            eprintln!("token {id} for {}; it is shown once, store it now:", user.email);
            println!("{token}");
        }
        AdminCommand::Topic { command: TopicCommand::Add { institution: slug, topic, terms } } => {
            let owner = institution(db, &slug).await?;
            for term in &terms {
                db.add_topic_term(owner.id, &topic, term, &actor).await?;
            }
            println!("topic {topic:?} of {} has {} more terms", owner.slug, terms.len());
        }
        AdminCommand::Topic { command: TopicCommand::List { institution: slug } } => {
            let owner = institution(db, &slug).await?;
            for (topic, term) in db.topic_terms(owner.id).await? {
                println!("{topic}\t{term}");
            }
        }
        AdminCommand::Token { command: TokenCommand::Revoke { id } } => {
            db.revoke_api_token(id, None, &actor).await?;
            println!("revoked token {id}");
        }
    }
    Ok(())
}

async fn institution(db: &Db, slug: &str) -> anyhow::Result<Institution> {
    db.institution_by_slug(slug).await?.with_context(|| format!("no institution with slug {slug:?}"))
}

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("cannot read the password from standard input")?;
    check_password(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// Refuses a password shorter than the minimum.
pub fn check_password(password: String) -> anyhow::Result<String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        bail!("the password must have at least {MIN_PASSWORD_CHARS} characters");
    }
    Ok(password)
}

/// An argon2id PHC string with a fresh salt.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    let hash = argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))?;
    Ok(hash.to_string())
}

/// A new API token (`th_` and 64 hex digits, 256 random bits) and the SHA-256 kept of it.
pub fn new_token() -> (String, [u8; 32]) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = format!("th_{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>());
    (token.clone(), token_digest(&token))
}

/// The SHA-256 under which a token is stored and looked up.
pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use argon2::{PasswordHash, PasswordVerifier};

    use super::*;

    #[test]
    fn tokens_are_random_and_stored_as_digests() {
        let (a, digest) = new_token();
        let (b, _) = new_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 67);
        assert_eq!(token_digest(&a), digest);
    }

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        let parsed = PasswordHash::new(&hash).unwrap();
        assert!(argon2::Argon2::default().verify_password(b"correct horse battery", &parsed).is_ok());
        assert!(argon2::Argon2::default().verify_password(b"wrong", &parsed).is_err());
    }
}
