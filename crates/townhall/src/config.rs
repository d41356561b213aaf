//! Configuration: one typed struct, filled from defaults, then a TOML file, then
//! `TOWNHALL_*` environment variables, then flags. Unknown keys anywhere are errors,
//! so a typo never silently falls back to a default.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

/// The documented defaults, printed by `townhall config defaults`. A test keeps this
/// file equal to [`Config::default`].
pub const DEFAULTS_TOML: &str = include_str!("../defaults.toml");

/// Environment variables with the `TOWNHALL_` prefix that are not settings.
const NOT_SETTINGS: &[&str] = &["TOWNHALL_CONFIG"];
const NOT_SETTINGS_PREFIXES: &[&str] = &["TOWNHALL_TEST_"];

/// Every setting.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the data lives.
    pub database: DatabaseConfig,
    /// The HTTP server.
    pub server: ServerConfig,
    /// Logging.
    pub log: LogConfig,
    /// Platform webhooks received by `serve`.
    pub webhooks: WebhooksConfig,
    /// Live listeners run by `serve`.
    pub listen: ListenConfig,
}

/// A credential: read from configuration, never printed. Its `Debug` is redacted so
/// it cannot reach a log by accident.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// A secret holding `value`.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the one place that signs or sends with it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether one was configured.
    pub fn is_set(&self) -> bool {
        !self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_set() { "Secret(redacted)" } else { "Secret(unset)" })
    }
}

/// `[webhooks]`: an empty secret turns its receiver off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// X app consumer secret: signs the CRC answer and every event.
    pub x_consumer_secret: Secret,
    /// Meta app secret: signs every Facebook and Instagram event.
    pub meta_app_secret: Secret,
    /// The verify token typed in Meta's app dashboard.
    pub meta_verify_token: Secret,
}

/// `[listen]`: an empty instance or endpoint turns its listener off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ListenConfig {
    /// Mastodon instance to stream from, e.g. `https://mastodon.social`.
    pub mastodon_instance: String,
    /// Access token of the institution's account there.
    pub mastodon_token: Secret,
    /// Jetstream endpoint, e.g. `wss://jetstream2.us-east.bsky.network/subscribe`.
    pub bluesky_endpoint: String,
    /// Words that make a Bluesky post worth keeping, besides mentions of tracked accounts.
    pub keywords: Vec<String>,
}

/// `[database]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://FILE` or `postgres://...`.
    pub url: String,
    /// Pool size.
    pub max_connections: u32,
    /// Seconds to wait for a connection.
    pub connect_timeout_secs: u64,
}

/// `[server]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Listen address.
    pub bind: String,
    /// Request body limit in bytes.
    pub max_body_bytes: usize,
    /// Whether the session cookie is sent over HTTPS only.
    pub secure_cookies: bool,
    /// The address citizens reach this server at, e.g. `https://townhall.example.org`;
    /// messages Townhall sends by itself then carry the link to the case's public page.
    /// Empty: no link.
    pub public_url: String,
}

/// `[log]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A `tracing` filter.
    pub filter: String,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self { url: "sqlite://townhall.db".into(), max_connections: 8, connect_timeout_secs: 10 }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            max_body_bytes: 1024 * 1024,
            secure_cookies: true,
            public_url: String::new(),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { filter: "info,sqlx=warn".into() }
    }
}

impl ServerConfig {
    /// `public_url` without its trailing slash, `None` when empty; refuses anything
    /// but an absolute `http://` or `https://` URL without query or fragment.
    pub fn checked_public_url(&self) -> anyhow::Result<Option<String>> {
        let url = self.public_url.trim().trim_end_matches('/');
        if url.is_empty() {
            return Ok(None);
        }
        let parsed = reqwest::Url::parse(url).with_context(|| format!("server.public_url {url:?} is not a URL"))?;
        if !matches!(parsed.scheme(), "http" | "https")
            || parsed.host_str().is_none()
            || parsed.query().is_some()
            || parsed.fragment().is_some()
        {
            bail!("server.public_url must be an http:// or https:// address without query or fragment, not {url:?}");
        }
        Ok(Some(url.to_owned()))
    }
}

/// Settings given as command-line flags; they win over everything else.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--database-url`
    pub database_url: Option<String>,
    /// `--bind`
    pub bind: Option<String>,
}

impl Config {
    /// Builds the configuration from the file (if any), the environment and the flags.
    pub fn load(file: Option<&Path>, env: &BTreeMap<String, String>, overrides: &Overrides) -> anyhow::Result<Config> {
        let mut value = toml::Value::try_from(Config::default()).context("serialising defaults")?;
        if let Some(path) = file {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("cannot read config file {}", path.display()))?;
            let from_file: toml::Value =
                toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))?;
            merge(&mut value, from_file);
            // Deserialising now reports unknown keys against the file, with their names.
            Config::deserialize(value.clone()).with_context(|| format!("invalid config file {}", path.display()))?;
        }
        apply_env(&mut value, env)?;
        let mut config = Config::deserialize(value).context("invalid configuration")?;
        if let Some(url) = &overrides.database_url {
            config.database.url = url.clone();
        }
        if let Some(bind) = &overrides.bind {
            config.server.bind = bind.clone();
        }
        Ok(config)
    }

    /// The config file named by `TOWNHALL_CONFIG`, when no `--config` flag is given.
    pub fn file_from_env(env: &BTreeMap<String, String>) -> Option<&str> {
        env.get("TOWNHALL_CONFIG").map(String::as_str)
    }
}

/// Overlays `top` on `base`, table by table.
fn merge(base: &mut toml::Value, top: toml::Value) {
    match (base, top) {
        (toml::Value::Table(base), toml::Value::Table(top)) => {
            for (key, value) in top {
                match base.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, top) => *base = top,
    }
}

/// Applies `TOWNHALL_<SECTION>_<KEY>` variables, typed like the setting they replace.
fn apply_env(value: &mut toml::Value, env: &BTreeMap<String, String>) -> anyhow::Result<()> {
    let toml::Value::Table(sections) = value else { bail!("configuration is not a table") };
    for (name, raw) in env {
        let Some(setting) = name.strip_prefix("TOWNHALL_") else { continue };
        if NOT_SETTINGS.contains(&name.as_str()) || NOT_SETTINGS_PREFIXES.iter().any(|p| name.starts_with(p)) {
            continue;
        }
        let slot = sections.iter_mut().find_map(|(section, table)| {
            let toml::Value::Table(table) = table else { return None };
            table.iter_mut().find(|(key, _)| format!("{section}_{key}").eq_ignore_ascii_case(setting)).map(|(_, v)| v)
        });
        let Some(slot) = slot else {
            bail!("unknown setting in environment variable {name}; see `townhall config defaults` for the settings")
        };
        *slot = match slot {
            toml::Value::Integer(_) => toml::Value::Integer(
                raw.trim().parse().with_context(|| format!("environment variable {name} must be a whole number"))?,
            ),
            toml::Value::Boolean(_) => toml::Value::Boolean(
                raw.trim().parse().with_context(|| format!("environment variable {name} must be true or false"))?,
            ),
            toml::Value::Array(_) => toml::Value::Array(
                raw.split(',')
                    .map(str::trim)
                    .filter(|w| !w.is_empty())
                    .map(|w| toml::Value::String(w.into()))
                    .collect(),
            ),
            _ => toml::Value::String(raw.clone()),
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn the_printed_defaults_are_the_code_defaults() {
        let parsed: Config = toml::from_str(DEFAULTS_TOML).expect("defaults.toml parses");
        assert_eq!(parsed, Config::default());
        // And every setting in the code is documented in the file.
        let documented: toml::Value = toml::from_str(DEFAULTS_TOML).unwrap();
        assert_eq!(documented, toml::Value::try_from(Config::default()).unwrap());
    }

    #[test]
    fn file_then_env_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("townhall.toml");
        std::fs::write(
            &file,
            "[database]\nurl = \"sqlite://file.db\"\nmax_connections = 3\n[server]\nbind = \"127.0.0.1:9000\"\n",
        )
        .unwrap();
        let config = Config::load(Some(&file), &env(&[]), &Overrides::default()).unwrap();
        assert_eq!((config.database.url.as_str(), config.database.max_connections), ("sqlite://file.db", 3));
        assert_eq!(config.database.connect_timeout_secs, 10, "unset keys keep their defaults");

        let vars = env(&[
            ("TOWNHALL_DATABASE_URL", "sqlite://env.db"),
            ("TOWNHALL_DATABASE_MAX_CONNECTIONS", "5"),
            ("PATH", "/bin"),
        ]);
        let config = Config::load(Some(&file), &vars, &Overrides::default()).unwrap();
        assert_eq!((config.database.url.as_str(), config.database.max_connections), ("sqlite://env.db", 5));
        assert_eq!(config.server.bind, "127.0.0.1:9000");

        let flags = Overrides { database_url: Some("sqlite://flag.db".into()), bind: Some("127.0.0.1:0".into()) };
        let config = Config::load(Some(&file), &vars, &flags).unwrap();
        assert_eq!((config.database.url.as_str(), config.server.bind.as_str()), ("sqlite://flag.db", "127.0.0.1:0"));
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("townhall.toml");
        std::fs::write(&file, "[database]\nulr = \"sqlite://typo.db\"\n").unwrap();
        let error = format!("{:#}", Config::load(Some(&file), &env(&[]), &Overrides::default()).unwrap_err());
        assert!(error.contains("unknown field `ulr`"), "{error}");

        std::fs::write(&file, "[databse]\nurl = \"x\"\n").unwrap();
        let error = format!("{:#}", Config::load(Some(&file), &env(&[]), &Overrides::default()).unwrap_err());
        assert!(error.contains("unknown field `databse`"), "{error}");

        let error = Config::load(None, &env(&[("TOWNHALL_DATABASE_ULR", "x")]), &Overrides::default()).unwrap_err();
        assert!(error.to_string().contains("TOWNHALL_DATABASE_ULR"), "{error}");
        let error = Config::load(None, &env(&[("TOWNHALL_DATABASE_MAX_CONNECTIONS", "many")]), &Overrides::default())
            .unwrap_err();
        assert!(error.to_string().contains("whole number"), "{error}");
        // Not settings: the config file pointer and test settings.
        Config::load(
            None,
            &env(&[("TOWNHALL_TEST_POSTGRES_URL", "postgres://x"), ("TOWNHALL_CONFIG", "")]),
            &Overrides::default(),
        )
        .unwrap();
    }
}
