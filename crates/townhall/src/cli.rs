//! The command line. Names here are a contract (see PRODUCT.md): keep them stable.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use townhall_connectors::Format;
use townhall_core::{InstitutionKind, Level, Platform, Role};

/// Townhall: listen, answer and account for yourself on social media.
#[derive(Debug, Parser)]
#[command(name = "townhall", version, about)]
pub struct Cli {
    /// Database URL: sqlite://FILE (default sqlite://townhall.db) or postgres://USER@HOST/DB.
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// A TOML configuration file (also TOWNHALL_CONFIG); see `townhall config defaults`.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web UI, the JSON API and the background workers.
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long, value_name = "ADDR")]
        bind: Option<String>,
        /// Load a realistic demo data set into an empty database first.
        #[arg(long)]
        demo: bool,
    },
    /// Bring the database schema up to date (also done on every start).
    Migrate,
    /// Print or check configuration.
    Config {
        /// What to do with it.
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Import posts from files: platform exports, captures, CSV, e-mail.
    ///
    /// Records that cannot be read go to a quarantine file and the run goes on.
    /// Exit status 0 when the input was readable (even with rejects), 2 when it was not.
    Import {
        /// auto, mastodon, jetstream, x-v2, x-v1, x-archive, facebook, ndjson, csv or email.
        #[arg(long, default_value = "auto", value_parser = parse_format)]
        format: Format,
        /// Print one JSON object with the counts instead of a sentence.
        #[arg(long)]
        json: bool,
        /// Where rejected records go (default: townhall-quarantine-TIME.ndjson here).
        #[arg(long, value_name = "FILE")]
        quarantine: Option<PathBuf>,
        /// Files to import, in order.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Listen to a platform live, storing what concerns the institutions' accounts.
    Listen {
        /// Which platform.
        #[command(subcommand)]
        platform: ListenCommand,
    },
    /// Analyse texts: one per line on standard input, one result per line on standard
    /// output (language, sentiment, intent, topics, urgency, spam, abuse, personal data).
    Analyze {
        /// One JSON object per line instead of a readable summary.
        #[arg(long)]
        json: bool,
        /// Only these languages (ISO codes, comma-separated), e.g. `es,en`: a narrower
        /// set identifies short texts better. Default: every supported language.
        #[arg(long, value_name = "CODES")]
        languages: Option<String>,
    },
    /// Export records for archives and public-records requests, to standard output.
    Export {
        /// Which records.
        #[arg(long, value_enum)]
        what: ExportWhat,
        /// Output format.
        #[arg(long, value_enum, default_value = "ndjson")]
        format: ExportFormat,
    },
    /// Manage institutions, teams, users, accounts and API tokens.
    Admin {
        /// What to manage.
        #[command(subcommand)]
        command: AdminCommand,
    },
}

impl Command {
    /// The `--bind` flag, when this command has one.
    pub fn bind(&self) -> Option<String> {
        match self {
            Command::Serve { bind, .. } => bind.clone(),
            _ => None,
        }
    }
}

/// `townhall listen ...`
#[derive(Debug, Subcommand)]
pub enum ListenCommand {
    /// Mentions of the institution's account on a Mastodon instance: polled, then streamed.
    Mastodon {
        /// The instance, e.g. `https://mastodon.social` (default: listen.mastodon_instance).
        #[arg(long, value_name = "URL")]
        instance: Option<String>,
        /// The account's access token (default: listen.mastodon_token, or
        /// TOWNHALL_LISTEN_MASTODON_TOKEN, which keeps it out of the process list).
        #[arg(long, value_name = "TOKEN")]
        token: Option<String>,
        /// Longest wait, in seconds, between polls while the stream is unavailable.
        #[arg(long, default_value_t = 30, value_name = "SECONDS")]
        poll_interval: u64,
    },
    /// Bluesky through Jetstream: posts by, to or about tracked accounts and keywords.
    Bluesky {
        /// The Jetstream subscribe address (default: listen.bluesky_endpoint, else Bluesky's).
        #[arg(long, value_name = "URL")]
        endpoint: Option<String>,
        /// A word that makes a post worth keeping; repeat for more (default: listen.keywords).
        #[arg(long = "keyword", value_name = "WORD")]
        keywords: Vec<String>,
    },
}

/// `townhall config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print every setting with its default, as a TOML file to start from.
    Defaults,
}

/// Records `export` can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportWhat {
    /// Every post with its raw payload.
    Posts,
    /// The audit log.
    Audit,
    /// Records received from webhooks and listeners that could not be read, as received.
    Quarantine,
}

/// Formats `export` can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// One JSON object per line.
    Ndjson,
    /// RFC 4180 CSV with a header row.
    Csv,
}

/// `townhall admin ...`
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Institutions.
    Institution {
        /// What to do.
        #[command(subcommand)]
        command: InstitutionCommand,
    },
    /// Teams.
    Team {
        /// What to do.
        #[command(subcommand)]
        command: TeamCommand,
    },
    /// Staff users.
    User {
        /// What to do.
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Platform accounts of institutions.
    Account {
        /// What to do.
        #[command(subcommand)]
        command: AccountCommand,
    },
    /// API tokens.
    Token {
        /// What to do.
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// An institution's own topics and terms, added to the default taxonomy.
    Topic {
        /// What to do.
        #[command(subcommand)]
        command: TopicCommand,
    },
}

/// `townhall admin topic ...`
#[derive(Debug, Subcommand)]
pub enum TopicCommand {
    /// Add terms to a topic (a new one, or one of the default taxonomy's such as
    /// `transport`); posts using them are tagged with it from then on.
    Add {
        /// Institution slug.
        #[arg(long)]
        institution: String,
        /// Topic key, e.g. `libraries`.
        #[arg(long)]
        topic: String,
        /// A word or phrase, matched whole-word without case or accents; repeat for more.
        #[arg(long = "term", required = true)]
        terms: Vec<String>,
    },
    /// List an institution's own topic terms.
    List {
        /// Institution slug.
        #[arg(long)]
        institution: String,
    },
}

/// `townhall admin institution ...`
#[derive(Debug, Subcommand)]
pub enum InstitutionCommand {
    /// Create an institution.
    Create(NewInstitutionArgs),
    /// List institutions.
    List,
}

/// Arguments of `admin institution create`.
#[derive(Debug, Args)]
pub struct NewInstitutionArgs {
    /// Short URL name: lower-case letters, digits, dashes.
    #[arg(long)]
    pub slug: String,
    /// Display name.
    #[arg(long)]
    pub name: String,
    /// government or public_company.
    #[arg(long, value_parser = parse_named::<InstitutionKind>)]
    pub kind: InstitutionKind,
    /// local, regional, national or supranational.
    #[arg(long, value_parser = parse_named::<Level>)]
    pub level: Level,
    /// ISO 3166-1 alpha-2 country code, e.g. CL.
    #[arg(long)]
    pub country: String,
    /// Slug of the parent institution.
    #[arg(long)]
    pub parent: Option<String>,
    /// The area it serves, in words.
    #[arg(long)]
    pub jurisdiction: Option<String>,
}

/// `townhall admin team ...`
#[derive(Debug, Subcommand)]
pub enum TeamCommand {
    /// Create a team.
    Create {
        /// Institution slug.
        #[arg(long)]
        institution: String,
        /// Team name.
        #[arg(long)]
        name: String,
    },
}

/// `townhall admin user ...`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; with --password-stdin the first line of standard input is the password.
    Create {
        /// Institution slug.
        #[arg(long)]
        institution: String,
        /// Login e-mail.
        #[arg(long)]
        email: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// admin, lead, agent, analyst or auditor.
        #[arg(long, value_parser = parse_named::<Role>)]
        role: Role,
        /// Team name within the institution.
        #[arg(long)]
        team: Option<String>,
        /// Read a password (at least 12 characters) from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List an institution's users.
    List {
        /// Institution slug.
        #[arg(long)]
        institution: String,
    },
}

/// `townhall admin account ...`
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Register a platform account of an institution.
    Create {
        /// Institution slug.
        #[arg(long)]
        institution: String,
        /// mastodon, bluesky, x, facebook, instagram, ...
        #[arg(long, value_parser = parse_named::<Platform>)]
        platform: Platform,
        /// Handle as the platform shows it.
        #[arg(long)]
        handle: String,
        /// Display name.
        #[arg(long)]
        display_name: String,
        /// The platform's id for the account.
        #[arg(long)]
        external_id: Option<String>,
        /// For an official's personal account: the office, e.g. "Mayor".
        #[arg(long)]
        official: Option<String>,
    },
}

/// `townhall admin token ...`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token for a user and print it once.
    Create {
        /// The user's e-mail.
        #[arg(long)]
        email: String,
        /// What the token is for.
        #[arg(long)]
        name: String,
    },
    /// Revoke a token by id.
    Revoke {
        /// Token id, as printed when it was created.
        #[arg(long)]
        id: i64,
    },
}

fn parse_named<T: std::str::FromStr<Err = townhall_core::UnknownName>>(text: &str) -> Result<T, String> {
    text.parse().map_err(|e: townhall_core::UnknownName| e.to_string())
}

fn parse_format(text: &str) -> Result<Format, String> {
    text.parse()
}
