//! Which of the institutions' accounts a post was collected for: the account it
//! mentions (by handle, or by platform id such as a Bluesky DID), or the account that
//! wrote it. Import, listeners and webhooks attribute the same way, so a post opens a
//! case in the inbox of the institution it was addressed to.

use std::collections::HashMap;

use townhall_core::{Account, AccountId, NewPost, Platform, PlatformEvent};
use townhall_store::Db;

/// The institutions' accounts by normalised handle and platform id.
#[derive(Debug, Default)]
pub struct Accounts {
    by_handle: HashMap<(Platform, String), AccountId>,
}

impl Accounts {
    /// Every account of every institution (they are few).
    pub async fn load(db: &Db) -> townhall_store::Result<Accounts> {
        Ok(Accounts::new(&db.accounts(None).await?))
    }

    /// The accounts given, by handle and platform id.
    pub fn new(accounts: &[Account]) -> Accounts {
        let mut by_handle = HashMap::new();
        for account in accounts {
            by_handle.insert((account.platform, normalize(&account.handle)), account.id);
            if let Some(id) = &account.external_id {
                by_handle.insert((account.platform, normalize(id)), account.id);
            }
        }
        Accounts { by_handle }
    }

    /// Attributes every new post among `events` that has no account yet. `home` is
    /// the host of the Mastodon instance the events came from: its local accounts are
    /// mentioned without a domain (`muni` for `muni@home`).
    pub fn attribute(&self, events: &mut [PlatformEvent], home: Option<&str>) {
        for event in events {
            if let PlatformEvent::Post(post) = event {
                self.resolve(post, home);
            }
        }
    }

    /// Whether an author (handle and platform id) is one of the institutions' own
    /// accounts; a Mastodon account's local handle (`muni`) counts for `muni@host`.
    pub fn is_own(&self, platform: Platform, handle: &str, external_id: &str) -> bool {
        let (handle, id) = (normalize(handle), normalize(external_id));
        let local = format!("{handle}@");
        self.by_handle.keys().any(|(p, known)| {
            *p == platform && (*known == handle || *known == id || (!handle.contains('@') && known.starts_with(&local)))
        })
    }

    fn resolve(&self, post: &mut NewPost, home: Option<&str>) {
        if post.account_id.is_some() || self.by_handle.is_empty() {
            return;
        }
        let author = post.author.as_ref().map(|a| a.handle.as_str());
        let find = |handle: &str| {
            let handle = normalize(handle);
            self.by_handle.get(&(post.platform, handle.clone())).copied().or_else(|| {
                let home = home.filter(|_| !handle.contains('@'))?;
                self.by_handle.get(&(post.platform, format!("{handle}@{home}"))).copied()
            })
        };
        post.account_id = post.entities.mentions.iter().map(String::as_str).chain(author).find_map(find);
    }
}

fn normalize(handle: &str) -> String {
    handle.trim().trim_start_matches('@').to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mentioning(platform: Platform, mentions: &[&str]) -> NewPost {
        NewPost {
            platform,
            external_id: "1".into(),
            account_id: None,
            author: None,
            text: String::new(),
            lang_hint: None,
            created_at: chrono::Utc::now(),
            edited_at: None,
            reply_to: None,
            conversation: None,
            metrics: Default::default(),
            entities: townhall_core::PostEntities {
                mentions: mentions.iter().map(|m| (*m).to_owned()).collect(),
                ..Default::default()
            },
            raw: Vec::new(),
        }
    }

    #[test]
    fn mentions_find_accounts_by_handle_id_and_home_instance() {
        let accounts = Accounts {
            by_handle: HashMap::from([
                ((Platform::Mastodon, "muni@social.example".to_owned()), AccountId(1)),
                ((Platform::Bluesky, "did:plc:muni".to_owned()), AccountId(2)),
            ]),
        };
        let mut events = vec![
            PlatformEvent::Post(mentioning(Platform::Mastodon, &["muni"])),
            PlatformEvent::Post(mentioning(Platform::Mastodon, &["@Muni@Social.example"])),
            PlatformEvent::Post(mentioning(Platform::Bluesky, &["did:plc:muni"])),
            PlatformEvent::Post(mentioning(Platform::Mastodon, &["muni@elsewhere.example"])),
        ];
        accounts.attribute(&mut events, Some("social.example"));
        let found: Vec<Option<AccountId>> = events
            .iter()
            .map(|e| match e {
                PlatformEvent::Post(p) => p.account_id,
                _ => None,
            })
            .collect();
        assert_eq!(found, [Some(AccountId(1)), Some(AccountId(1)), Some(AccountId(2)), None]);
        assert_eq!(normalize(" @MuniValpo@Mastodon.Social"), "munivalpo@mastodon.social");
        assert!(accounts.is_own(Platform::Mastodon, "muni", "https://social.example/users/muni"));
        assert!(accounts.is_own(Platform::Bluesky, "did:plc:muni", "did:plc:muni"));
        assert!(!accounts.is_own(Platform::Mastodon, "vecina", "https://social.example/users/vecina"));
        assert!(!accounts.is_own(Platform::X, "muni", "1"));
    }
}
