//! Logging: one tracing subscriber for the process, text or JSON, on
//! stdout. Text is coloured only for a terminal (and never with `NO_COLOR`
//! set), so piped or collected logs carry no ANSI escape codes. Each
//! request's lines fall inside its `request` span (`http::observe`), which
//! names its request id: text lines show it as a prefix, JSON lines under
//! `span` and `spans`.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Whether to colour text logs: stdout is a terminal and `NO_COLOR` is not
/// set to a non-empty value (<https://no-color.org>).
fn colour(no_color: Option<std::ffi::OsString>, terminal: bool) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Installs the global subscriber with `filter` (EnvFilter syntax); a bad
/// filter falls back to `info`. Calling it twice is harmless.
pub fn init(filter: &str, format: LogFormat) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = colour(
        std::env::var_os("NO_COLOR"),
        std::io::stdout().is_terminal(),
    );
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(ansi);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::colour;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(None, true));
        assert!(colour(Some("".into()), true));
        assert!(!colour(Some("1".into()), true));
        assert!(!colour(None, false));
    }
}
