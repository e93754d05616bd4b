//! Logging: one tracing subscriber for the process, text or JSON, on
//! stdout. Text is coloured only for a terminal (and never with `NO_COLOR`
//! set), so piped or collected logs carry no ANSI escape codes. Each
//! request's lines name it as a `request` span would (`http::observe` sets
//! the [`RequestContext`] while it serves one; [`request`] writes it): text
//! lines show its id, method and route as a prefix, JSON lines under `span`
//! and `spans`.

mod request;

pub use request::{JsonEvents, RequestContext, TextEvents, scope};

use std::fmt;
use std::io::IsTerminal;

use tracing::field::{Field, Visit};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::{RecordFields, VisitOutput};
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::{DefaultVisitor, Writer};

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
        LogFormat::Text => builder
            .fmt_fields(TextFields)
            .event_format(TextEvents::default())
            .try_init(),
        LogFormat::Json => builder
            .json()
            .event_format(JsonEvents::default())
            .try_init(),
    };
}

/// The text format's fields, exactly as tracing-subscriber's
/// `DefaultFields` writes them, with a shorter road for the common case:
/// without ANSI colours, a plain field (`name=value`, neither the message
/// nor a raw identifier) is written directly instead of through
/// `nu_ansi_term`'s empty styles and one format string per field. Every
/// request's span formats three such fields (`http::observe`); the long
/// road cost more than the rest of the span.
struct TextFields;

impl<'writer> FormatFields<'writer> for TextFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = TextVisitor {
            plain: !writer.has_ansi_escapes(),
            writer,
            staged: Staged::default(),
            is_empty: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.flush();
        visitor.result
    }
}

/// See [`TextFields`]; whatever is not plain goes to `DefaultVisitor`.
struct TextVisitor<'a> {
    writer: Writer<'a>,
    /// Plain fields are staged here and written in one piece: the span's
    /// `String` is then allocated once, at its size, instead of growing
    /// field by field.
    staged: Staged,
    plain: bool,
    is_empty: bool,
    result: fmt::Result,
}

impl TextVisitor<'_> {
    /// `DefaultVisitor` writes this field, after what was written so far.
    fn default(&mut self, record: impl FnOnce(&mut DefaultVisitor<'_>)) {
        self.flush();
        let mut default = DefaultVisitor::new(self.writer.by_ref(), self.is_empty);
        record(&mut default);
        self.result = self.result.and(default.finish());
        self.is_empty = false;
    }

    /// Writes what is staged.
    fn flush(&mut self) {
        if self.staged.len > 0 {
            let staged = std::str::from_utf8(&self.staged.bytes[..self.staged.len]);
            self.result = self
                .result
                .and_then(|()| self.writer.write_str(staged.map_err(|_| fmt::Error)?));
            self.staged.len = 0;
        }
    }

    /// Stages `text`, or writes it when the stage is full.
    fn put(&mut self, text: &str) -> fmt::Result {
        if self.staged.push(text) {
            return Ok(());
        }
        self.flush();
        self.result?;
        if self.staged.push(text) {
            Ok(())
        } else {
            self.writer.write_str(text)
        }
    }
}

/// Bytes staged for [`TextVisitor`]: whole `str`s, so always UTF-8.
struct Staged {
    bytes: [u8; 256],
    len: usize,
}

impl Default for Staged {
    fn default() -> Self {
        Self {
            bytes: [0; 256],
            len: 0,
        }
    }
}

impl Staged {
    /// Appends `text` if it fits.
    fn push(&mut self, text: &str) -> bool {
        let end = self.len + text.len();
        match self.bytes.get_mut(self.len..end) {
            Some(slot) => {
                slot.copy_from_slice(text.as_bytes());
                self.len = end;
                true
            }
            None => false,
        }
    }
}

impl fmt::Write for TextVisitor<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        self.put(text)
    }
}

impl Visit for TextVisitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_err() {
            return;
        }
        let name = field.name();
        if !self.plain || name == "message" || name.starts_with("r#") {
            return self.default(|v| v.record_debug(field, value));
        }
        // What `DefaultVisitor` writes without colours: a space between
        // fields, then `name=value`, the value as `Debug`.
        let pad = if self.is_empty { "" } else { " " };
        self.is_empty = false;
        let written = (|| {
            self.put(pad)?;
            self.put(name)?;
            self.put("=")?;
            fmt::Write::write_fmt(self, format_args!("{value:?}"))
        })();
        self.result = self.result.and(written);
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if self.result.is_ok() {
            self.default(|v| v.record_str(field, value));
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if self.result.is_ok() {
            self.default(|v| v.record_error(field, value));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::{TextFields, colour};

    /// What the same spans and events write with `fields` as the text
    /// format's field formatter.
    fn written<N>(fields: N, ansi: bool) -> String
    where
        N: for<'w> tracing_subscriber::fmt::FormatFields<'w> + Send + Sync + 'static,
    {
        let out = Arc::new(Mutex::new(Vec::new()));
        let sink = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .without_time()
            .with_ansi(ansi)
            .fmt_fields(fields)
            .with_writer(move || Writer(sink.clone()))
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let id = "abc-1";
            let span = tracing::error_span!("request", request_id = %id, method = %"GET", route = %"/posts/{id}");
            let _in = span.enter();
            let err = std::io::Error::other("disk on fire");
            tracing::warn!(error = %err, n = 3, ok = true, text = "quoted", r#type = "raw", "store unavailable");
            tracing::error!(
                error = &err as &(dyn std::error::Error + 'static),
                "with an error"
            );
            tracing::info!(message = "only a message");
        });
        String::from_utf8(out.lock().unwrap().clone()).unwrap()
    }

    struct Writer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Writer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn text_fields_are_written_as_the_default_fields() {
        use tracing_subscriber::fmt::format::DefaultFields;
        for ansi in [false, true] {
            let ours = written(TextFields, ansi);
            assert_eq!(ours, written(DefaultFields::new(), ansi));
            assert!(
                ansi || ours.contains("request_id=abc-1 method=GET"),
                "{ours}"
            );
        }
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(None, true));
        assert!(colour(Some("".into()), true));
        assert!(!colour(Some("1".into()), true));
        assert!(!colour(None, false));
    }
}
