//! Token properties, through `Service::authenticate` (memory always,
//! Postgres when `DATABASE_URL` is set) and through `JwtTokens` directly:
//!
//! - any change to a valid token (bit flips, character edits, re-encoded
//!   or edited JSON, padding, another base64 alphabet, non-canonical
//!   trailing bits, swapped, dropped or duplicated segments) never
//!   authenticates;
//! - tokens signed with another key, `alg` none, HS384/HS512, an RS256 or
//!   other header never authenticate; nor do claims without a usable
//!   `exp`, `sub` or `jti`;
//! - expiry is exact: valid strictly before `exp`, by the injected clock
//!   only;
//! - a token signed with a previous key verifies while that key is
//!   configured, only under that key's `kid`, and not after;
//! - a revoked token never authenticates again, whatever happens next;
//! - `sub` values that are not a positive 64-bit integer in canonical
//!   decimal never authenticate.
//!
//! Each forged case first checks a control (the same claims, signed
//! properly, do authenticate), so no property passes vacuously.
//! `PROPTEST_CASES` sets the cases per property (default 256; the
//! stateful revocation property and the Postgres runs take fewer).

mod model;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey};
use model::harness::{self, SECRET, Store, build, build_over, check_property, with_store};
use posts_api::adapters::clock::ManualClock;
use posts_api::adapters::jwt::{JwtTokens, TokenIdSource, key_id};
use posts_api::config::{Config, StoreKind};
use posts_api::domain::{AuthError, EmailAddress, Password, SessionId, UserId};
use posts_api::ports::{Clock, Ports, TokenIssuer, TokenVerifier};
use posts_api::service::Service;
use proptest::prelude::*;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

const REGRESSIONS: &str = "proptest-regressions/prop_tokens.txt";

// ---------------------------------------------------------------------
// Encoding helpers.

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).expect("a base64url segment")
}

/// An HMAC (or any) signature over `input`, base64url.
fn signature(input: &str, secret: &str, alg: Algorithm) -> String {
    jsonwebtoken::crypto::sign(
        input.as_bytes(),
        &EncodingKey::from_secret(secret.as_bytes()),
        alg,
    )
    .expect("signing a test token")
}

/// A JWT over these exact header and claims, signed by `alg` with `secret`.
fn forge(header: &Value, claims: &Value, secret: &str, alg: Algorithm) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig = signature(&input, secret, alg);
    format!("{input}.{sig}")
}

/// A header like the service's.
fn header(alg: &str, kid: Option<&str>) -> Value {
    let mut h = json!({ "typ": "JWT", "alg": alg });
    if let Some(kid) = kid {
        h["kid"] = json!(kid);
    }
    h
}

static JTI: AtomicU64 = AtomicU64::new(1);

/// Claims like the service issues for `user` at `now` (Unix seconds).
/// A session id.
fn sid(raw: i64) -> SessionId {
    SessionId::new(raw).expect("a positive id")
}

fn claims(user: i64, session: i64, now: i64) -> Value {
    json!({
        "sub": user.to_string(),
        "sid": session.to_string(),
        "iat": now,
        "exp": now + 1800,
        "jti": format!("forged-{}", JTI.fetch_add(1, Ordering::Relaxed)),
    })
}

/// The token the service would sign for these claims.
fn proper(claims: &Value) -> String {
    forge(
        &header("HS256", Some(&key_id(SECRET))),
        claims,
        SECRET,
        Algorithm::HS256,
    )
}

/// Token ids 1, 2, 3, ...
fn counting_ids() -> TokenIdSource {
    let next = Arc::new(AtomicU64::new(1));
    Arc::new(move || format!("jti-{}", next.fetch_add(1, Ordering::Relaxed)))
}

fn jwt(secret: &str, previous: &[String], lifetime: Duration, clock: &ManualClock) -> JwtTokens {
    JwtTokens::new(
        secret,
        previous,
        lifetime,
        Arc::new(clock.clone()),
        counting_ids(),
    )
}

fn uid(id: i64) -> UserId {
    UserId::new(id).expect("a positive id")
}

// ---------------------------------------------------------------------
// A service with three users, each logged in once.

struct Env {
    service: Service,
    clock: ManualClock,
    users: Vec<i64>,
    /// Each user's session, from their login.
    sessions: Vec<i64>,
    tokens: Vec<String>,
}

/// The `sid` a token names (it must have one).
fn sid_of(token: &str) -> i64 {
    let payload = token.split('.').nth(1).expect("a payload");
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64")).expect("json");
    claims["sid"]
        .as_str()
        .expect("a sid")
        .parse()
        .expect("an id")
}

fn password(i: usize) -> String {
    format!("password-of-user-{i}")
}

fn email(i: usize) -> String {
    format!("user{i}@example.com")
}

/// The user with this email, registered if needed: looked up in the store
/// through `ports`, registered through `service`.
async fn ensure_user(ports: &Ports, service: &Service, i: usize) -> i64 {
    let address = EmailAddress::parse(&email(i)).expect("an email");
    if let Some((user, _)) = ports
        .users
        .get_credentials(&address)
        .await
        .expect("the store answers")
    {
        return user.id.get();
    }
    let pw = Password::parse(&password(i)).expect("a password");
    service
        .register(address, pw)
        .await
        .expect("registers")
        .id
        .get()
}

async fn login(service: &Service, i: usize) -> String {
    service
        .login(
            &email(i),
            &password(i),
            std::net::Ipv4Addr::LOCALHOST.into(),
            None,
        )
        .await
        .expect("logs in")
        .access
        .token
}

async fn env(store: &Store, config: &Config) -> Env {
    let clock = harness::whole_second_clock();
    let (service, ports) = build(store, config, &clock).await;
    let mut users = Vec::new();
    let mut tokens = Vec::new();
    for i in 1..=3 {
        users.push(ensure_user(&ports, &service, i).await);
        tokens.push(login(&service, i).await);
    }
    let sessions = tokens.iter().map(|t| sid_of(t)).collect();
    Env {
        service,
        clock,
        users,
        sessions,
        tokens,
    }
}

impl Env {
    fn now(&self) -> i64 {
        self.clock.now().unix_timestamp()
    }

    /// The user a token authenticates as, if it does.
    async fn who(&self, token: &str) -> Option<i64> {
        match self.service.authenticate(token).await {
            Ok(caller) => Some(caller.user.id.get()),
            Err(AuthError::InvalidToken) => None,
            Err(e) => panic!("the store failed: {e}"),
        }
    }

    /// `Ok` when the control authenticates as `user` and `token` does not.
    async fn rejects(&self, control: &str, user: i64, token: &str) -> Result<(), String> {
        if self.who(control).await != Some(user) {
            return Err(format!(
                "control failed: {control} should authenticate as #{user}"
            ));
        }
        match self.who(token).await {
            None => Ok(()),
            Some(id) => Err(format!("authenticated as #{id}: {token}")),
        }
    }
}

/// Runs a stateless property against one service with three users.
fn with_env<S>(
    kind: StoreKind,
    name: &str,
    strategy: S,
    cases: u32,
    test: fn(&Env, S::Value) -> BoxFut<'_>,
) where
    S: Strategy,
    S::Value: std::fmt::Debug,
{
    with_store(kind, |rt, store| {
        let env = rt.block_on(env(store, &harness::config(store)));
        check_property(
            &format!("{name} on {}", store.name()),
            strategy,
            cases,
            REGRESSIONS,
            |value| rt.block_on(test(&env, value)),
        );
    });
}

type BoxFut<'a> = std::pin::Pin<Box<dyn Future<Output = Result<(), String>> + 'a>>;

fn cases_for(kind: StoreKind, default: u32) -> u32 {
    match kind {
        StoreKind::Memory => harness::cases(default),
        StoreKind::Postgres => harness::scaled_cases(default / 4, 4),
    }
}

// ---------------------------------------------------------------------
// Tampering.

/// A JWT segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Header = 0,
    Payload = 1,
    Signature = 2,
}

fn part() -> impl Strategy<Value = Part> {
    prop_oneof![
        Just(Part::Header),
        Just(Part::Payload),
        Just(Part::Signature)
    ]
}

/// How a JSON segment is re-encoded (same meaning, other bytes).
#[derive(Debug, Clone, Copy)]
enum Style {
    /// serde_json's own order (keys sorted).
    Reordered,
    /// Pretty-printed.
    Pretty,
    /// A space before it.
    LeadingSpace,
    /// A newline after it.
    TrailingNewline,
    /// The first key's first letter as a `\u` escape.
    EscapedKey,
}

/// A meaningful edit of the claims, keeping the signature.
#[derive(Debug, Clone, Copy)]
enum ClaimEdit {
    SubPlusOne,
    ExpLater,
    ExpEarlier,
    IatChanged,
    JtiChanged,
    RoleAdmin,
    DropJti,
}

/// A meaningful edit of the header, keeping the signature.
#[derive(Debug, Clone, Copy)]
enum HeaderEdit {
    DropKid,
    OtherKid,
    DropTyp,
    AlgNone,
    AlgHs512,
    AddCty,
}

/// A change to a valid token.
#[derive(Debug, Clone)]
enum Tamper {
    /// One bit of a decoded segment, re-encoded.
    FlipBit { part: Part, byte: usize, bit: u8 },
    /// One character of the encoded text, replaced by a base64url one.
    SetChar { part: Part, at: usize, to: char },
    /// One letter's case.
    FlipCase { part: Part, at: usize },
    /// The last characters removed.
    Truncate { part: Part, by: usize },
    /// Text appended to a segment.
    Append { part: Part, text: &'static str },
    /// Base64 padding added.
    Pad(Part),
    /// Standard base64 (`+`, `/`, padding) instead of base64url.
    StandardAlphabet(Part),
    /// The unused low bits of the last character set (same bytes for a
    /// lenient decoder).
    TrailingBits(Part),
    /// The JSON re-encoded, the signature kept.
    Reencode { header: bool, style: Style },
    /// The claims edited, the signature kept.
    EditClaims(ClaimEdit),
    /// The header edited, the signature kept.
    EditHeader(HeaderEdit),
    /// Two segments swapped.
    Swap(Part, Part),
    /// A segment removed.
    Drop(Part),
    /// A segment repeated after itself.
    Duplicate(Part),
    /// Text around the whole token.
    Around {
        before: &'static str,
        after: &'static str,
    },
}

const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn tamper() -> impl Strategy<Value = Tamper> {
    let style = prop_oneof![
        Just(Style::Reordered),
        Just(Style::Pretty),
        Just(Style::LeadingSpace),
        Just(Style::TrailingNewline),
        Just(Style::EscapedKey),
    ];
    let claim_edit = prop_oneof![
        Just(ClaimEdit::SubPlusOne),
        Just(ClaimEdit::ExpLater),
        Just(ClaimEdit::ExpEarlier),
        Just(ClaimEdit::IatChanged),
        Just(ClaimEdit::JtiChanged),
        Just(ClaimEdit::RoleAdmin),
        Just(ClaimEdit::DropJti),
    ];
    let header_edit = prop_oneof![
        Just(HeaderEdit::DropKid),
        Just(HeaderEdit::OtherKid),
        Just(HeaderEdit::DropTyp),
        Just(HeaderEdit::AlgNone),
        Just(HeaderEdit::AlgHs512),
        Just(HeaderEdit::AddCty),
    ];
    let text = prop_oneof![
        Just("A"),
        Just("="),
        Just("=="),
        Just("."),
        Just(" "),
        Just("\n"),
        Just("%3D")
    ];
    prop_oneof![
        4 => (part(), any::<usize>(), 0u8..8)
            .prop_map(|(part, byte, bit)| Tamper::FlipBit { part, byte, bit }),
        4 => (part(), any::<usize>(), 0..B64URL.len())
            .prop_map(|(part, at, c)| Tamper::SetChar { part, at, to: char::from(B64URL[c]) }),
        1 => (part(), any::<usize>()).prop_map(|(part, at)| Tamper::FlipCase { part, at }),
        1 => (part(), 1usize..4).prop_map(|(part, by)| Tamper::Truncate { part, by }),
        1 => (part(), text.clone()).prop_map(|(part, text)| Tamper::Append { part, text }),
        1 => part().prop_map(Tamper::Pad),
        1 => part().prop_map(Tamper::StandardAlphabet),
        2 => part().prop_map(Tamper::TrailingBits),
        2 => (any::<bool>(), style).prop_map(|(header, style)| Tamper::Reencode { header, style }),
        2 => claim_edit.prop_map(Tamper::EditClaims),
        2 => header_edit.prop_map(Tamper::EditHeader),
        1 => (part(), part()).prop_map(|(a, b)| Tamper::Swap(a, b)),
        1 => part().prop_map(Tamper::Drop),
        1 => part().prop_map(Tamper::Duplicate),
        1 => (text.clone(), text).prop_map(|(before, after)| Tamper::Around { before, after }),
    ]
}

/// Re-encodes JSON text in `style`.
fn reencode(json_text: &str, style: Style) -> String {
    let value: Value = serde_json::from_str(json_text).expect("a JSON segment");
    match style {
        Style::Reordered => value.to_string(),
        Style::Pretty => serde_json::to_string_pretty(&value).expect("JSON"),
        Style::LeadingSpace => format!(" {json_text}"),
        Style::TrailingNewline => format!("{json_text}\n"),
        Style::EscapedKey => {
            // `{"x...` -> `{"\u00XX...`
            let first = json_text[2..].chars().next().expect("a key");
            format!(
                "{{\"\\u{:04x}{}",
                u32::from(first),
                &json_text[2 + first.len_utf8()..]
            )
        }
    }
}

fn edit_json(segment: &str, edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let mut value: Value = serde_json::from_slice(&unb64(segment)).expect("a JSON segment");
    edit(value.as_object_mut().expect("an object"));
    b64(value.to_string().as_bytes())
}

/// `token` with `tamper` applied.
fn apply(token: &str, tamper: &Tamper) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    assert_eq!(parts.len(), 3, "a JWT has three segments");
    match tamper {
        Tamper::FlipBit { part, byte, bit } => {
            let mut bytes = unb64(&parts[*part as usize]);
            let i = byte % bytes.len();
            bytes[i] ^= 1 << bit;
            parts[*part as usize] = b64(&bytes);
        }
        Tamper::SetChar { part, at, to } => {
            let segment = &mut parts[*part as usize];
            let i = at % segment.len();
            segment.replace_range(i..=i, &to.to_string());
        }
        Tamper::FlipCase { part, at } => {
            let segment = &mut parts[*part as usize];
            let i = at % segment.len();
            let c = segment.as_bytes()[i];
            let flipped = if c.is_ascii_lowercase() {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            segment.replace_range(i..=i, &char::from(flipped).to_string());
        }
        Tamper::Truncate { part, by } => {
            let segment = &mut parts[*part as usize];
            segment.truncate(segment.len().saturating_sub(*by));
        }
        Tamper::Append { part, text } => parts[*part as usize].push_str(text),
        Tamper::Pad(part) => {
            let segment = &mut parts[*part as usize];
            while !segment.len().is_multiple_of(4) {
                segment.push('=');
            }
        }
        Tamper::StandardAlphabet(part) => {
            let segment = &mut parts[*part as usize];
            *segment = STANDARD.encode(unb64(segment));
        }
        Tamper::TrailingBits(part) => {
            let segment = &mut parts[*part as usize];
            let unused = match segment.len() % 4 {
                2 => 4,
                3 => 2,
                _ => 0,
            };
            if unused > 0 {
                let last = segment.pop().expect("a non-empty segment");
                let value = B64URL
                    .iter()
                    .position(|&c| c == last as u8)
                    .expect("base64url");
                // Flip the lowest unused bit: the same bytes, another text.
                segment.push(char::from(B64URL[value ^ 1]));
            }
        }
        Tamper::Reencode { header, style } => {
            let i = if *header { 0 } else { 1 };
            let text = String::from_utf8(unb64(&parts[i])).expect("UTF-8 JSON");
            parts[i] = b64(reencode(&text, *style).as_bytes());
        }
        Tamper::EditClaims(edit) => {
            parts[1] = edit_json(&parts[1], |claims| {
                let int = |v: &Value| v.as_i64().expect("an integer claim");
                match edit {
                    ClaimEdit::SubPlusOne => {
                        let sub: i64 = claims["sub"].as_str().expect("sub").parse().expect("id");
                        claims.insert("sub".into(), json!((sub + 1).to_string()));
                    }
                    ClaimEdit::ExpLater => {
                        let exp = int(&claims["exp"]) + 3600;
                        claims.insert("exp".into(), json!(exp));
                    }
                    ClaimEdit::ExpEarlier => {
                        let exp = int(&claims["exp"]) - 1;
                        claims.insert("exp".into(), json!(exp));
                    }
                    ClaimEdit::IatChanged => {
                        let iat = int(&claims["iat"]) + 1;
                        claims.insert("iat".into(), json!(iat));
                    }
                    ClaimEdit::JtiChanged => {
                        claims.insert("jti".into(), json!("another-jti"));
                    }
                    ClaimEdit::RoleAdmin => {
                        claims.insert("role".into(), json!("admin"));
                    }
                    ClaimEdit::DropJti => {
                        claims.remove("jti");
                    }
                }
            });
        }
        Tamper::EditHeader(edit) => {
            parts[0] = edit_json(&parts[0], |h| match edit {
                HeaderEdit::DropKid => {
                    h.remove("kid");
                }
                HeaderEdit::OtherKid => {
                    h.insert("kid".into(), json!(key_id("another key")));
                }
                HeaderEdit::DropTyp => {
                    h.remove("typ");
                }
                HeaderEdit::AlgNone => {
                    h.insert("alg".into(), json!("none"));
                }
                HeaderEdit::AlgHs512 => {
                    h.insert("alg".into(), json!("HS512"));
                }
                HeaderEdit::AddCty => {
                    h.insert("cty".into(), json!("JWT"));
                }
            });
        }
        Tamper::Swap(a, b) => parts.swap(*a as usize, *b as usize),
        Tamper::Drop(part) => {
            parts.remove(*part as usize);
        }
        Tamper::Duplicate(part) => {
            let segment = parts[*part as usize].clone();
            parts.insert(*part as usize, segment);
        }
        Tamper::Around { before, after } => {
            return format!("{before}{}{after}", parts.join("."));
        }
    }
    parts.join(".")
}

fn tampered_tokens(kind: StoreKind) {
    with_env(
        kind,
        "tampered tokens never authenticate",
        (0usize..3, tamper()),
        cases_for(kind, 512),
        |env, (i, tamper)| {
            Box::pin(async move {
                let original = &env.tokens[i];
                let changed = apply(original, &tamper);
                if &changed == original {
                    return Ok(()); // no change, nothing to check
                }
                env.rejects(original, env.users[i], &changed).await
            })
        },
    );
}

#[test]
fn tampered_tokens_never_authenticate_on_memory() {
    tampered_tokens(StoreKind::Memory);
}

#[test]
fn tampered_tokens_never_authenticate_on_postgres() {
    tampered_tokens(StoreKind::Postgres);
}

// ---------------------------------------------------------------------
// Other keys and algorithms.

/// Which `kid` a forged header carries.
#[derive(Debug, Clone)]
enum Kid {
    /// The service's current key's.
    Service,
    /// The forging key's own.
    Own,
    /// None.
    Absent,
    /// Anything.
    Text(String),
}

/// What the signature segment of a header-forged token holds.
#[derive(Debug, Clone, Copy)]
enum Sig {
    Empty,
    /// HMAC-SHA256 with the service's real key.
    RealKeyHs256,
    Junk,
}

/// A token the service never issued.
#[derive(Debug, Clone)]
enum Forged {
    /// HS256 with another secret.
    OtherKey { secret: String, kid: Kid },
    /// `alg: none` in some spelling.
    AlgNone { alg: &'static str, sig: Sig },
    /// HS384 or HS512 with the service's real key.
    OtherHmac { alg: Algorithm, kid: Kid },
    /// An RS256 header (algorithm confusion).
    Rs256 { sig: Sig },
    /// Another `alg` value.
    OtherAlg { alg: &'static str, sig: Sig },
    /// No `alg` at all.
    NoAlg { sig: Sig },
}

fn kid() -> impl Strategy<Value = Kid> {
    prop_oneof![
        Just(Kid::Service),
        Just(Kid::Own),
        Just(Kid::Absent),
        "[0-9a-f]{0,20}".prop_map(Kid::Text),
    ]
}

fn sig() -> impl Strategy<Value = Sig> {
    prop_oneof![Just(Sig::Empty), Just(Sig::RealKeyHs256), Just(Sig::Junk)]
}

fn other_secret() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,48}",
        Just(SECRET[..SECRET.len() - 1].to_owned()),
        Just(format!("{SECRET}x")),
        Just(SECRET.to_uppercase()),
        Just(format!(" {SECRET}")),
    ]
    .prop_filter("another key", |s| s != SECRET)
}

fn forged() -> impl Strategy<Value = Forged> {
    prop_oneof![
        3 => (other_secret(), kid()).prop_map(|(secret, kid)| Forged::OtherKey { secret, kid }),
        2 => (prop_oneof![Just("none"), Just("None"), Just("NONE"), Just("nOnE")], sig())
            .prop_map(|(alg, sig)| Forged::AlgNone { alg, sig }),
        2 => (prop_oneof![Just(Algorithm::HS384), Just(Algorithm::HS512)], kid())
            .prop_map(|(alg, kid)| Forged::OtherHmac { alg, kid }),
        2 => sig().prop_map(|sig| Forged::Rs256 { sig }),
        2 => (
            prop_oneof![
                Just("ES256"), Just("PS256"), Just("EdDSA"), Just("hs256"),
                Just("HS256 "), Just(""), Just("HS 256"), Just("RS384")
            ],
            sig()
        )
            .prop_map(|(alg, sig)| Forged::OtherAlg { alg, sig }),
        1 => sig().prop_map(|sig| Forged::NoAlg { sig }),
    ]
}

fn kid_text(kid: &Kid, own_secret: &str) -> Option<String> {
    match kid {
        Kid::Service => Some(key_id(SECRET)),
        Kid::Own => Some(key_id(own_secret)),
        Kid::Absent => None,
        Kid::Text(t) => Some(t.clone()),
    }
}

/// A token with header `h` over `claims`, with signature `sig`.
fn with_sig(h: &Value, claims: &Value, sig: Sig) -> String {
    let input = format!(
        "{}.{}",
        b64(h.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let s = match sig {
        Sig::Empty => String::new(),
        Sig::RealKeyHs256 => signature(&input, SECRET, Algorithm::HS256),
        Sig::Junk => b64(b"not a signature at all, 32 bytes"),
    };
    format!("{input}.{s}")
}

fn forge_token(forged: &Forged, claims: &Value) -> String {
    match forged {
        Forged::OtherKey { secret, kid } => forge(
            &header("HS256", kid_text(kid, secret).as_deref()),
            claims,
            secret,
            Algorithm::HS256,
        ),
        Forged::AlgNone { alg, sig } => with_sig(&header(alg, Some(&key_id(SECRET))), claims, *sig),
        Forged::OtherHmac { alg, kid } => {
            let name = if *alg == Algorithm::HS384 {
                "HS384"
            } else {
                "HS512"
            };
            forge(
                &header(name, kid_text(kid, SECRET).as_deref()),
                claims,
                SECRET,
                *alg,
            )
        }
        Forged::Rs256 { sig } => with_sig(&header("RS256", Some(&key_id(SECRET))), claims, *sig),
        Forged::OtherAlg { alg, sig } => {
            with_sig(&header(alg, Some(&key_id(SECRET))), claims, *sig)
        }
        Forged::NoAlg { sig } => with_sig(
            &json!({ "typ": "JWT", "kid": key_id(SECRET) }),
            claims,
            *sig,
        ),
    }
}

fn foreign_tokens(kind: StoreKind) {
    with_env(
        kind,
        "foreign keys and algorithms never authenticate",
        (0usize..3, forged()),
        cases_for(kind, 256),
        |env, (i, forged)| {
            Box::pin(async move {
                let c = claims(env.users[i], env.sessions[i], env.now());
                env.rejects(&proper(&c), env.users[i], &forge_token(&forged, &c))
                    .await
            })
        },
    );
}

#[test]
fn foreign_keys_and_algorithms_never_authenticate_on_memory() {
    foreign_tokens(StoreKind::Memory);
}

#[test]
fn foreign_keys_and_algorithms_never_authenticate_on_postgres() {
    foreign_tokens(StoreKind::Postgres);
}

// ---------------------------------------------------------------------
// Claims the service must not accept, signed with the right key.

/// A defect in otherwise proper claims.
#[derive(Debug, Clone)]
enum Defect {
    /// No `exp`.
    NoExp,
    /// `exp` as a string.
    ExpString,
    /// `exp: null`.
    ExpNull,
    /// `exp` this many seconds before now (0: exactly now).
    ExpPast(i64),
    /// No `sub`.
    NoSub,
    /// `sub: null`.
    SubNull,
    /// No `jti` (such a token could not be revoked alone).
    NoJti,
    /// `jti: ""`.
    EmptyJti,
}

fn defect() -> impl Strategy<Value = Defect> {
    prop_oneof![
        Just(Defect::NoExp),
        Just(Defect::ExpString),
        Just(Defect::ExpNull),
        prop_oneof![Just(0i64), Just(1), 0i64..100_000_000].prop_map(Defect::ExpPast),
        Just(Defect::NoSub),
        Just(Defect::SubNull),
        Just(Defect::NoJti),
        Just(Defect::EmptyJti),
    ]
}

fn bad_claims(kind: StoreKind) {
    with_env(
        kind,
        "claims without a usable exp, sub or jti never authenticate",
        (0usize..3, defect()),
        cases_for(kind, 128),
        |env, (i, defect)| {
            Box::pin(async move {
                let good = claims(env.users[i], env.sessions[i], env.now());
                let mut bad = good.clone();
                let map = bad.as_object_mut().expect("an object");
                match defect {
                    Defect::NoExp => {
                        map.remove("exp");
                    }
                    Defect::ExpString => {
                        map.insert("exp".into(), json!(good["exp"].to_string()));
                    }
                    Defect::ExpNull => {
                        map.insert("exp".into(), Value::Null);
                    }
                    Defect::ExpPast(secs) => {
                        map.insert("exp".into(), json!(env.now() - secs));
                    }
                    Defect::NoSub => {
                        map.remove("sub");
                    }
                    Defect::SubNull => {
                        map.insert("sub".into(), Value::Null);
                    }
                    Defect::NoJti => {
                        map.remove("jti");
                    }
                    Defect::EmptyJti => {
                        map.insert("jti".into(), json!(""));
                    }
                }
                env.rejects(&proper(&good), env.users[i], &proper(&bad))
                    .await
            })
        },
    );
}

#[test]
fn bad_claims_never_authenticate_on_memory() {
    bad_claims(StoreKind::Memory);
}

#[test]
fn bad_claims_never_authenticate_on_postgres() {
    bad_claims(StoreKind::Postgres);
}

// ---------------------------------------------------------------------
// Subjects.

/// A `sub` that is not a positive 64-bit integer in canonical decimal,
/// mostly built around a real user's id.
#[derive(Debug, Clone)]
enum Sub {
    LeadingZeros(usize),
    Plus,
    Minus,
    SpaceBefore,
    SpaceAfter,
    Tab,
    Decimal,
    Exponent,
    Hex,
    Underscore,
    FullWidthDigits,
    ArabicIndicDigits,
    /// The id plus k * 2^64: the same id to a parser that wraps.
    Wrapped(u8),
    /// The id plus 2^63 (wraps to a negative, or to the id, if truncated).
    PlusTwoTo63,
    Zero,
    Negative(i64),
    TooBig(u64),
    Empty,
    Text(String),
    JsonNumber(f64),
    JsonInteger(i64),
    JsonNull,
    JsonBool,
    JsonArray,
    JsonObject,
}

fn sub() -> impl Strategy<Value = Sub> {
    prop_oneof![
        (1usize..4).prop_map(Sub::LeadingZeros),
        Just(Sub::Plus),
        Just(Sub::Minus),
        Just(Sub::SpaceBefore),
        Just(Sub::SpaceAfter),
        Just(Sub::Tab),
        Just(Sub::Decimal),
        Just(Sub::Exponent),
        Just(Sub::Hex),
        Just(Sub::Underscore),
        Just(Sub::FullWidthDigits),
        Just(Sub::ArabicIndicDigits),
        (1u8..4).prop_map(Sub::Wrapped),
        Just(Sub::PlusTwoTo63),
        Just(Sub::Zero),
        (i64::MIN..0).prop_map(Sub::Negative),
        ((i64::MAX as u64 + 1)..=u64::MAX).prop_map(Sub::TooBig),
        Just(Sub::Empty),
        "\\PC{0,12}"
            .prop_filter("not canonical decimal", |s| !canonical_positive(s))
            .prop_map(Sub::Text),
        prop_oneof![Just(0.0f64), Just(-1.0), Just(1.5), Just(9.3e18)].prop_map(Sub::JsonNumber),
        prop_oneof![Just(0i64), Just(-1), Just(i64::MIN)].prop_map(Sub::JsonInteger),
        Just(Sub::JsonNull),
        Just(Sub::JsonBool),
        Just(Sub::JsonArray),
        Just(Sub::JsonObject),
    ]
}

/// `1..=i64::MAX` written the way `i64::to_string` writes it.
fn canonical_positive(s: &str) -> bool {
    s.parse::<i64>().is_ok_and(|n| n > 0 && n.to_string() == s)
}

fn sub_value(sub: &Sub, id: i64) -> Value {
    let digits = id.to_string();
    let shifted = |base: u32| -> String {
        digits
            .chars()
            .map(|c| char::from_u32(base + c.to_digit(10).expect("a digit")).expect("a char"))
            .collect()
    };
    let text = match sub {
        Sub::LeadingZeros(n) => format!("{}{digits}", "0".repeat(*n)),
        Sub::Plus => format!("+{digits}"),
        Sub::Minus => format!("-{digits}"),
        Sub::SpaceBefore => format!(" {digits}"),
        Sub::SpaceAfter => format!("{digits} "),
        Sub::Tab => format!("{digits}\t"),
        Sub::Decimal => format!("{digits}.0"),
        Sub::Exponent => format!("{digits}e0"),
        Sub::Hex => format!("0x{id:x}"),
        Sub::Underscore => format!("{digits}_"),
        Sub::FullWidthDigits => shifted(0xFF10),
        Sub::ArabicIndicDigits => shifted(0x0660),
        Sub::Wrapped(k) => (i128::from(id) + i128::from(*k) * (1i128 << 64)).to_string(),
        Sub::PlusTwoTo63 => (i128::from(id) + (1i128 << 63)).to_string(),
        Sub::Zero => "0".to_owned(),
        Sub::Negative(n) => n.to_string(),
        Sub::TooBig(n) => n.to_string(),
        Sub::Empty => String::new(),
        Sub::Text(t) => t.clone(),
        Sub::JsonNumber(x) => return json!(x),
        Sub::JsonInteger(n) => return json!(n),
        Sub::JsonNull => return Value::Null,
        Sub::JsonBool => return json!(true),
        Sub::JsonArray => return json!([id]),
        Sub::JsonObject => return json!({ "id": id }),
    };
    json!(text)
}

fn subjects(kind: StoreKind) {
    with_env(
        kind,
        "subjects other than positive 64-bit integers never authenticate",
        (0usize..3, sub()),
        cases_for(kind, 256),
        |env, (i, sub)| {
            Box::pin(async move {
                let good = claims(env.users[i], env.sessions[i], env.now());
                let mut bad = good.clone();
                bad["sub"] = sub_value(&sub, env.users[i]);
                env.rejects(&proper(&good), env.users[i], &proper(&bad))
                    .await
            })
        },
    );
}

#[test]
fn subjects_other_than_positive_ids_never_authenticate_on_memory() {
    subjects(StoreKind::Memory);
}

#[test]
fn subjects_other_than_positive_ids_never_authenticate_on_postgres() {
    subjects(StoreKind::Postgres);
}

// ---------------------------------------------------------------------
// Expiry.

/// Where the clock is set relative to `exp`, in nanoseconds.
fn offset(lifetime_secs: i64) -> impl Strategy<Value = i128> {
    let s = 1_000_000_000i128;
    prop_oneof![
        Just(-1i128),
        Just(0),
        Just(1),
        Just(-s),
        Just(s),
        Just(59 * s),
        Just(60 * s),
        Just(61 * s),
        // From just after issuing to two hours past `exp`.
        (-(i128::from(lifetime_secs) - 1) * s)..(7200 * s),
    ]
}

#[test]
fn expiry_is_exact_by_the_injected_clock() {
    // Any issuing instant from 1970 to 2100 (so the system clock cannot
    // stand in for the injected one), with sub-second parts.
    let strategy = (1..4_102_444_800i64, 0..1_000_000_000i64, 1u32..=1440).prop_flat_map(
        |(secs, nanos, minutes)| {
            (
                Just(secs),
                Just(nanos),
                Just(minutes),
                offset(i64::from(minutes) * 60),
            )
        },
    );
    check_property(
        "expiry is exact",
        strategy,
        harness::cases(512),
        REGRESSIONS,
        |(secs, nanos, minutes, offset)| {
            let start = OffsetDateTime::from_unix_timestamp(secs).expect("in range")
                + Duration::nanoseconds(nanos);
            let clock = ManualClock::new(start);
            let lifetime = Duration::minutes(i64::from(minutes));
            let tokens = jwt(SECRET, &[], lifetime, &clock);
            let issued = tokens.issue(uid(42), sid(3));
            let exp = (start + lifetime).unix_timestamp();
            if issued.expires_in != lifetime.whole_seconds() {
                return Err(format!("expires_in {} for {lifetime}", issued.expires_in));
            }
            if issued.claims.expires_at.unix_timestamp() != exp {
                return Err(format!("exp {} instead of {exp}", issued.claims.expires_at));
            }
            let at = OffsetDateTime::from_unix_timestamp(exp).expect("in range")
                + Duration::nanoseconds(i64::try_from(offset).expect("fits"));
            clock.set(at);
            let valid = tokens.verify(&issued.token);
            match (offset < 0, valid) {
                (true, Some(claims)) if claims == issued.claims => Ok(()),
                (false, None) => Ok(()),
                (should, got) => Err(format!(
                    "at exp{offset:+} ns: should verify: {should}, verified: {got:?}"
                )),
            }
        },
    );
}

fn expiry_through_service(kind: StoreKind) {
    with_env(
        kind,
        "a login token authenticates strictly before exp",
        (0usize..3, -120i64..120),
        cases_for(kind, 64),
        |env, (i, offset)| {
            Box::pin(async move {
                let start = env.clock.now();
                let token = login(&env.service, i + 1).await;
                env.clock.advance(Duration::seconds(1800 + offset));
                let got = env.who(&token).await;
                env.clock.set(start);
                let want = (offset < 0).then_some(env.users[i]);
                if got == want {
                    Ok(())
                } else {
                    Err(format!("at exp{offset:+}s: {got:?} instead of {want:?}"))
                }
            })
        },
    );
}

#[test]
fn login_tokens_expire_exactly_on_memory() {
    expiry_through_service(StoreKind::Memory);
}

#[test]
fn login_tokens_expire_exactly_on_postgres() {
    expiry_through_service(StoreKind::Postgres);
}

// ---------------------------------------------------------------------
// Key rotation.

/// A current key, an old key, other keys; all distinct.
fn keys() -> impl Strategy<Value = (String, String, Vec<String>, usize)> {
    (
        "[ -~]{1,32}",
        "[ -~]{1,32}",
        proptest::collection::vec("[ -~]{1,16}", 0..3),
        0usize..4,
    )
        .prop_map(|(new, old, others, at)| {
            let others = others
                .into_iter()
                .enumerate()
                .map(|(i, s)| format!("other{i}:{s}"))
                .collect();
            (format!("new:{new}"), format!("old:{old}"), others, at)
        })
}

#[test]
fn previous_keys_verify_while_configured() {
    check_property(
        "previous keys verify while configured",
        keys(),
        harness::cases(256),
        REGRESSIONS,
        |(new, old, others, at)| {
            let clock = harness::whole_second_clock();
            let life = Duration::minutes(30);
            let issued = jwt(&old, &[], life, &clock).issue(uid(7), sid(1));
            let mut with_old = others.clone();
            with_old.insert(at.min(others.len()), old.clone());
            let rotated = jwt(&new, &with_old, life, &clock);
            if rotated.verify(&issued.token) != Some(issued.claims.clone()) {
                return Err("a previous key's token does not verify".into());
            }
            // A token signed with a configured key verifies only under
            // that key's kid: missing, empty, unknown or another
            // configured key's kid, and it does not.
            let c = json!({
                "sub": "7", "sid": "1", "iat": clock.now().unix_timestamp(),
                "exp": clock.now().unix_timestamp() + 60, "jti": "k",
            });
            let named = forge(
                &header("HS256", Some(&key_id(&old))),
                &c,
                &old,
                Algorithm::HS256,
            );
            if rotated.verify(&named).is_none() {
                return Err("signed with the old key under its kid: rejected".into());
            }
            let mut wrong_kids = vec![None, Some(String::new()), Some("unknown".to_owned())];
            wrong_kids.extend(others.iter().chain([&new]).map(|k| Some(key_id(k))));
            for kid in wrong_kids {
                let token = forge(&header("HS256", kid.as_deref()), &c, &old, Algorithm::HS256);
                if rotated.verify(&token).is_some() {
                    return Err(format!("signed with the old key, kid {kid:?}: accepted"));
                }
            }
            if jwt(&new, &others, life, &clock)
                .verify(&issued.token)
                .is_some()
            {
                return Err("a removed key's token still verifies".into());
            }
            // The newest key signs, and names itself.
            let fresh = rotated.issue(uid(8), sid(2));
            let kid = jsonwebtoken::decode_header(&fresh.token)
                .map_err(|e| e.to_string())?
                .kid;
            if kid != Some(key_id(&new)) {
                return Err(format!("kid {kid:?} is not the newest key's"));
            }
            if jwt(&new, &[], life, &clock).verify(&fresh.token).is_none()
                || jwt(&old, &[], life, &clock).verify(&fresh.token).is_some()
            {
                return Err("new tokens are not signed with the newest key".into());
            }
            Ok(())
        },
    );
}

#[test]
fn key_ids_name_keys_without_revealing_them() {
    check_property(
        "key ids",
        ("[ -~]{1,40}", "[ -~]{1,40}").prop_filter("distinct", |(a, b)| a != b),
        harness::cases(256),
        REGRESSIONS,
        |(a, b)| {
            let (ka, kb) = (key_id(&a), key_id(&b));
            if ka == kb {
                return Err(format!("{a:?} and {b:?} share the kid {ka}"));
            }
            let hex = ka.len() >= 16 && ka.bytes().all(|c| c.is_ascii_hexdigit());
            if !hex || (a.len() >= 4 && ka.contains(&a)) {
                return Err(format!("kid {ka:?} of {a:?} is not an opaque hex id"));
            }
            Ok(())
        },
    );
}

/// The signing key after a rotation in [`rotation`].
const NEW_KEY: &str = "the-new-key-0123456789abcdef-0123";

/// The service side of a rotation: tokens signed with the old key
/// authenticate while `JWT_PREVIOUS_SECRETS` names it (padded, with empty
/// entries), and not once it is dropped. On Postgres the services share
/// the database, as instances do across a restart.
fn rotation(kind: StoreKind) {
    with_store(kind, |rt, store| {
        rt.block_on(async {
            let clock = harness::whole_second_clock();
            let mut config = harness::config(store);
            config.jwt_secret = Some(NEW_KEY.into());
            config.jwt_previous_secrets =
                vec![" ".into(), " the-old-key ".into(), String::new().into()];
            let (rotated, ports) = build(store, &config, &clock).await;
            let user = ensure_user(&ports, &rotated, 1).await;
            let life = Duration::minutes(30);
            // A session to name: the old key's token is for it.
            let session = sid(sid_of(&login(&rotated, 1).await));
            let old_token = jwt("the-old-key", &[], life, &clock)
                .issue(uid(user), session)
                .token;
            let who = rotated
                .authenticate(&old_token)
                .await
                .map(|c| c.user.id.get());
            assert_eq!(
                who.ok(),
                Some(user),
                "the old key's token, while configured"
            );
            let fresh = login(&rotated, 1).await;
            let kid = jsonwebtoken::decode_header(&fresh).expect("a header").kid;
            assert_eq!(kid, Some(key_id(NEW_KEY)), "signed with the newest key");

            config.jwt_previous_secrets = Vec::new();
            // Over the same database, not emptied: another instance.
            let (dropped, ports) = build_over(&config, &clock).await;
            let user = ensure_user(&ports, &dropped, 1).await;
            let session = sid(sid_of(&login(&dropped, 1).await));
            let old_token = jwt("the-old-key", &[], life, &clock)
                .issue(uid(user), session)
                .token;
            assert!(
                matches!(
                    dropped.authenticate(&old_token).await,
                    Err(AuthError::InvalidToken)
                ),
                "the old key's token after the key was dropped"
            );
            if let Store::Postgres(_) = store {
                assert!(
                    dropped.authenticate(&fresh).await.is_ok(),
                    "the new key's token on another instance"
                );
            }
        });
    });
}

#[test]
fn rotation_through_the_service_on_memory() {
    rotation(StoreKind::Memory);
}

#[test]
fn rotation_through_the_service_on_postgres() {
    rotation(StoreKind::Postgres);
}

// ---------------------------------------------------------------------
// Revocation.

/// A step after which every token is checked.
#[derive(Debug, Clone, Copy)]
enum RevOp {
    /// User 1..=3 logs in again.
    Login(usize),
    /// The k-th token (mod count) logs out, if it still authenticates.
    Logout(usize),
    /// The clock moves on.
    Advance(i64),
}

fn rev_op() -> impl Strategy<Value = RevOp> {
    prop_oneof![
        2 => (1usize..=3).prop_map(RevOp::Login),
        3 => (0usize..8).prop_map(RevOp::Logout),
        1 => prop_oneof![Just(1i64), Just(60), Just(600), Just(1799)].prop_map(RevOp::Advance),
    ]
}

struct Issued {
    token: String,
    user: i64,
    exp: i64,
    revoked: bool,
}

fn revocation(kind: StoreKind) {
    with_store(kind, |rt, store| {
        check_property(
            &format!(
                "revoked tokens never authenticate again on {}",
                store.name()
            ),
            proptest::collection::vec(rev_op(), 1..20),
            cases_for(kind, 64),
            REGRESSIONS,
            |ops| {
                rt.block_on(async {
                    let env = env(store, &harness::config(store)).await;
                    let exp = env.now() + 1800;
                    let mut issued: Vec<Issued> = (0..3)
                        .map(|i| Issued {
                            token: env.tokens[i].clone(),
                            user: env.users[i],
                            exp,
                            revoked: false,
                        })
                        .collect();
                    for (step, op) in ops.iter().enumerate() {
                        match *op {
                            RevOp::Login(i) => issued.push(Issued {
                                token: login(&env.service, i).await,
                                user: env.users[i - 1],
                                exp: env.now() + 1800,
                                revoked: false,
                            }),
                            RevOp::Logout(k) => {
                                let t = k % issued.len();
                                if let Ok(caller) = env.service.authenticate(&issued[t].token).await
                                {
                                    env.service.logout(&caller).await.map_err(|e| e.to_string())?;
                                    issued[t].revoked = true;
                                }
                            }
                            RevOp::Advance(secs) => env.clock.advance(Duration::seconds(secs)),
                        }
                        for (k, t) in issued.iter().enumerate() {
                            let want = (!t.revoked && env.now() < t.exp).then_some(t.user);
                            let got = env.who(&t.token).await;
                            if got != want {
                                return Err(format!(
                                    "after step {} ({op:?}): token {k} (revoked: {}) authenticates as {got:?}, expected {want:?}",
                                    step + 1,
                                    t.revoked
                                ));
                            }
                        }
                    }
                    Ok(())
                })
            },
        );
    });
}

#[test]
fn revoked_tokens_never_authenticate_again_on_memory() {
    revocation(StoreKind::Memory);
}

#[test]
fn revoked_tokens_never_authenticate_again_on_postgres() {
    revocation(StoreKind::Postgres);
}
