//! The `posts-api` binary: parse the configuration, start logging, run the
//! chosen command. The hidden `hash-worker` command is the password
//! hashing process that `serve` starts (`adapters::hash_worker`); it runs
//! without the async runtime.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use posts_api::adapters::clock::SystemClock;
use posts_api::adapters::hash_worker;
use posts_api::config::{Cli, Command, PasswordHashing};
use posts_api::domain::{EmailAddress, Password};
use posts_api::{app, http, telemetry};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Some(Command::HashWorker)) {
        return hash_worker::run_worker();
    }
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(run(cli)),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Where `serve` hashes passwords: in a worker process running this very
/// executable, unless configured otherwise or the executable is unknown.
fn hashing(choice: PasswordHashing) -> app::Hashing {
    match choice {
        PasswordHashing::InProcess => app::Hashing::InProcess,
        PasswordHashing::Worker => match std::env::current_exe() {
            Ok(program) => app::Hashing::Worker(program),
            Err(e) => {
                tracing::warn!(
                    "password hashing in process: this executable's path is unknown: {e}"
                );
                app::Hashing::InProcess
            }
        },
    }
}

/// Runs every command but `hash-worker`.
async fn run(cli: Cli) -> ExitCode {
    let config = cli.config;
    match cli.command.unwrap_or(Command::Serve) {
        Command::HashWorker => hash_worker::run_worker(),
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
            let hashing = hashing(config.password_hashing);
            let running = match app::start_hashing(&config, Arc::new(SystemClock), &hashing).await {
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
