//! `--demo`: a few users and posts, so Swagger UI has something to show.

use crate::domain::{EmailAddress, Password, PostContent, PostTitle};
use crate::service::{Caller, Service};

/// Demo accounts: email, password, admin?
pub const ACCOUNTS: [(&str, &str, bool); 3] = [
    ("admin@example.com", "admin-password", true),
    ("alice@example.com", "alice-password", false),
    ("bob@example.com", "bob-password", false),
];

const POSTS: [(usize, &str, &str, bool); 4] = [
    (1, "Hello from Alice", "My first post on this API.", true),
    (
        1,
        "Alice's draft",
        "Only Alice and admins can see this one.",
        false,
    ),
    (
        2,
        "Rust and FastAPI",
        "The same API, with types all the way down.",
        true,
    ),
    (2, "Votes", "Try POST /vote with this post's id.", true),
];

/// Seeds the demo data and prints the credentials.
///
/// # Errors
/// A message when the store fails.
pub async fn seed(service: &Service) -> Result<(), String> {
    let mut callers = Vec::new();
    for (email, password, admin) in ACCOUNTS {
        let email = EmailAddress::parse(email).map_err(|e| e.to_string())?;
        let password = Password::parse(password).map_err(|e| e.to_string())?;
        let user = if admin {
            service
                .ensure_admin(email, password)
                .await
                .map_err(|e| e.to_string())?
        } else {
            service
                .register(email, password)
                .await
                .map_err(|e| e.to_string())?
        };
        let token = service.ports().token_issuer.issue(user.id).claims;
        callers.push(Caller { user, token });
    }
    for (who, title, content, published) in POSTS {
        let title = PostTitle::parse(title).map_err(|e| e.to_string())?;
        let content = PostContent::parse(content).map_err(|e| e.to_string())?;
        service
            .create_post(&callers[who], title, content, published)
            .await
            .map_err(|e| e.to_string())?;
    }
    println!("Demo data loaded. Log in at /docs (Authorize) with:");
    for (email, password, admin) in ACCOUNTS {
        println!(
            "  {email} / {password}{}",
            if admin { "  (admin)" } else { "" }
        );
    }
    Ok(())
}

/// The owner of `--seed-posts` posts and their password.
pub const SEED_ACCOUNT: (&str, &str) = ("seed@example.com", "seed-password");

/// Seeds `n` generated posts (every tenth a draft) owned by
/// [`SEED_ACCOUNT`], for load tests.
///
/// # Errors
/// A message when the store fails.
pub async fn seed_posts(service: &Service, n: u64) -> Result<(), String> {
    let email = EmailAddress::parse(SEED_ACCOUNT.0).map_err(|e| e.to_string())?;
    let password = Password::parse(SEED_ACCOUNT.1).map_err(|e| e.to_string())?;
    let user = match service.register(email.clone(), password).await {
        Ok(user) => user,
        Err(_) => {
            service
                .ports()
                .users
                .get_credentials(&email)
                .await
                .map_err(|e| e.to_string())?
                .ok_or("seed user vanished")?
                .0
        }
    };
    let caller = Caller {
        token: service.ports().token_issuer.issue(user.id).claims,
        user,
    };
    let content =
        PostContent::parse(&"lorem ipsum ".repeat(17)[..200]).map_err(|e| e.to_string())?;
    for i in 0..n {
        let title =
            PostTitle::parse(&format!("Seeded post number {i}")).map_err(|e| e.to_string())?;
        service
            .create_post(&caller, title, content.clone(), i % 10 != 0)
            .await
            .map_err(|e| e.to_string())?;
    }
    tracing::info!(posts = n, "seeded posts");
    Ok(())
}
