//! The `posts-api` binary: parse the configuration, start logging, run the
//! chosen command.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use posts_api::adapters::clock::SystemClock;
use posts_api::config::{Cli, Command};
use posts_api::domain::{EmailAddress, Password};
use posts_api::{app, http, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = cli.config;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Openapi => {
            println!("{}", http::openapi_json());
            ExitCode::SUCCESS
        }
        Command::Migrate => {
            telemetry::init(&config.rust_log, config.log_format);
            match app::migrate(&config, Arc::new(SystemClock)).await {
                Ok(applied) if applied.is_empty() => {
                    println!("the database schema is up to date");
                    ExitCode::SUCCESS
                }
                Ok(applied) => {
                    println!(
                        "applied {} migration(s): {}",
                        applied.len(),
                        applied.join(", ")
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::CreateAdmin { email, password } => {
            telemetry::init(&config.rust_log, config.log_format);
            let (email, password) = match (EmailAddress::parse(&email), Password::parse(&password))
            {
                (Ok(e), Ok(p)) => (e, p),
                (Err(e), _) | (_, Err(e)) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let result = async {
                let service = app::build_service(&config, Arc::new(SystemClock)).await?;
                Ok::<_, app::StartError>(service.ensure_admin(email, password).await?)
            };
            match result.await {
                Ok(user) => {
                    println!("admin {} (id {}) is ready", user.email, user.id);
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Serve => {
            telemetry::init(&config.rust_log, config.log_format);
            // Before the ready line, so an early SIGTERM is not lost.
            let signal = app::shutdown_signal();
            let running = match app::start(&config, Arc::new(SystemClock)).await {
                Ok(running) => running,
                Err(e) => {
                    tracing::error!("cannot start: {e}");
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let addr = running.addr();
            tracing::info!(store = ?config.store, "listening on http://{addr} (Swagger UI at http://{addr}/docs)");
            match running.run_until(signal).await {
                Ok(()) => {
                    tracing::info!("stopped");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    tracing::error!("server failed: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
