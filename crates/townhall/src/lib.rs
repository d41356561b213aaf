//! The `townhall` application: one process for the web UI, the JSON API and the
//! workers, plus the operator's commands. It owns configuration, the CLI, the
//! services and HTTP; SQL lives in `townhall-store` and rules in `townhall-core`.
//! `main.rs` only calls [`main`]; the library form lets integration tests start the
//! real router.

// The OpenAPI document is written with `serde_json::json!`, which recurses per token.
#![recursion_limit = "512"]

pub mod admin;
pub mod attribute;
pub mod cli;
pub mod config;
pub mod deliver;
pub mod demo;
pub mod export;
pub mod http;
pub mod import;
pub mod inbox;
pub mod listen;
pub mod outbox;
pub mod settings;
pub mod understand;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use townhall_store::{Db, DbOptions};

use crate::cli::{Cli, Command, ConfigCommand, ListenCommand};
use crate::config::{Config, Overrides, Secret};

/// Runs the command line and returns the process exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let file = cli.config.clone().or_else(|| Config::file_from_env(&env).map(PathBuf::from));
    let overrides = Overrides { database_url: cli.database_url.clone(), bind: cli.command.bind() };
    let config = match Config::load(file.as_deref(), &env, &overrides) {
        Ok(config) => config,
        Err(error) => return fail(&error),
    };
    init_tracing(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => return fail(&error.into()),
    };
    match runtime.block_on(run(cli.command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let code = fail(&error);
            if error.downcast_ref::<import::Unusable>().is_some() { ExitCode::from(2) } else { code }
        }
    }
}

/// Prints one line naming the error and its causes, for a person at a terminal.
fn fail(error: &anyhow::Error) -> ExitCode {
    let message = format!("{error:#}");
    let one_line: Vec<&str> = message.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    eprintln!("error: {}", one_line.join(" "));
    ExitCode::FAILURE
}

fn init_tracing(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&config.log.filter))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

async fn open_db(config: &Config) -> anyhow::Result<Db> {
    let options = DbOptions {
        url: config.database.url.clone(),
        max_connections: config.database.max_connections,
        connect_timeout: Duration::from_secs(config.database.connect_timeout_secs),
    };
    Ok(Db::open(&options).await?)
}

fn bluesky_endpoint(config: &Config) -> String {
    match config.listen.bluesky_endpoint.as_str() {
        "" => listen::bluesky::DEFAULT_ENDPOINT.to_owned(),
        configured => configured.to_owned(),
    }
}

/// Starts the listeners `[listen]` configures, as tasks of `serve`; a listener's
/// failure is logged and never stops the server.
fn spawn_listeners(db: &Db, config: &Config, shutdown: &listen::Shutdown) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    if !config.listen.mastodon_instance.is_empty() {
        let options = listen::mastodon::Options {
            instance: config.listen.mastodon_instance.clone(),
            token: config.listen.mastodon_token.clone(),
            poll_interval: Duration::from_secs(30),
        };
        match listen::mastodon::validate(&options) {
            Ok(()) => {
                let (db, shutdown) = (db.clone(), shutdown.clone());
                tasks.push(tokio::spawn(async move {
                    if let Err(error) = listen::mastodon::run(db, options, shutdown).await {
                        tracing::error!(error = %format!("{error:#}"), "the Mastodon listener stopped");
                    }
                }));
            }
            Err(error) => tracing::error!(error = %format!("{error:#}"), "the Mastodon listener is not started"),
        }
    }
    if !config.listen.bluesky_endpoint.is_empty() {
        let options =
            listen::bluesky::Options { endpoint: bluesky_endpoint(config), keywords: config.listen.keywords.clone() };
        let (db, shutdown) = (db.clone(), shutdown.clone());
        tasks.push(tokio::spawn(async move {
            if let Err(error) = listen::bluesky::run(db, options, shutdown).await {
                tracing::error!(error = %format!("{error:#}"), "the Bluesky listener stopped");
            }
        }));
    }
    tasks
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Config { command: ConfigCommand::Defaults } => {
            print!("{}", config::DEFAULTS_TOML);
            Ok(())
        }
        Command::Migrate => {
            let options = DbOptions::new(&config.database.url);
            let db = Db::connect(&options).await?;
            let applied = db.migrate().await?;
            println!(
                "database {} is up to date ({applied} migrations applied)",
                townhall_store::redact_url(&config.database.url)
            );
            db.close().await;
            Ok(())
        }
        Command::Serve { demo, .. } => {
            // A wrong public address stops serve before the demo is loaded.
            config.server.checked_public_url()?;
            let db = open_db(&config).await?;
            if demo {
                if db.is_empty().await? {
                    let summary = demo::load(&db, demo::DemoSize::default()).await?;
                    println!("{summary}");
                } else {
                    println!("the database already holds data; demo data not loaded");
                }
            }
            let (stop, shutdown) = listen::Shutdown::new();
            let mut listeners = spawn_listeners(&db, &config, &shutdown);
            listeners.push(tokio::spawn(understand::run(db.clone(), shutdown.clone())));
            listeners.push(tokio::spawn(outbox::run(db.clone(), deliver::client(), shutdown.clone())));
            let result = http::serve(db.clone(), &config).await;
            let _ = stop.send(true);
            for listener in listeners {
                let _ = listener.await;
            }
            db.close().await;
            result
        }
        Command::Import { format, json, quarantine, paths } => {
            let db = open_db(&config).await?;
            let request = import::ImportRequest {
                format,
                paths,
                quarantine: quarantine.unwrap_or_else(|| import::default_quarantine_path(chrono::Utc::now())),
            };
            // It analyses without filing: an imported archive is searchable, but its
            // old posts open no cases.
            let mut worker = understand::Worker::new(&format!("import:{}", std::process::id()));
            let result = import::run_and_analyse(&db, &request, &mut worker).await;
            db.close().await;
            let summary = result?;
            if json {
                println!("{}", serde_json::to_string(&summary)?);
            } else {
                println!("{summary}");
            }
            Ok(())
        }
        Command::Listen { platform } => {
            let db = open_db(&config).await?;
            let shutdown = listen::Shutdown::on_signal();
            let result = match platform {
                ListenCommand::Mastodon { instance, token, poll_interval } => {
                    let options = listen::mastodon::Options {
                        instance: instance.unwrap_or_else(|| config.listen.mastodon_instance.clone()),
                        token: token.map(Secret::new).unwrap_or_else(|| config.listen.mastodon_token.clone()),
                        poll_interval: Duration::from_secs(poll_interval.max(1)),
                    };
                    listen::mastodon::validate(&options)?;
                    listen::mastodon::run(db.clone(), options, shutdown).await
                }
                ListenCommand::Bluesky { endpoint, keywords } => {
                    let options = listen::bluesky::Options {
                        endpoint: endpoint.unwrap_or_else(|| bluesky_endpoint(&config)),
                        keywords: if keywords.is_empty() { config.listen.keywords.clone() } else { keywords },
                    };
                    listen::bluesky::run(db.clone(), options, shutdown).await
                }
            };
            db.close().await;
            result
        }
        Command::Analyze { json, languages } => {
            let stdin = std::io::stdin().lock();
            let stdout = std::io::stdout().lock();
            understand::analyze_lines(stdin, stdout, json, languages.as_deref())?;
            Ok(())
        }
        Command::Export { what, format } => {
            let db = open_db(&config).await?;
            let stdout = std::io::stdout().lock();
            let result = export::run(&db, what, format, stdout).await;
            db.close().await;
            eprintln!("exported {} records", result?);
            Ok(())
        }
        Command::Admin { command } => {
            let db = open_db(&config).await?;
            let result = admin::run(&db, command).await;
            db.close().await;
            result
        }
    }
}
