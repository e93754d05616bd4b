//! The request a log line belongs to, without a tracing span: while a
//! request's future is polled ([`scope`]), its id, method and route are
//! this thread's current [`RequestContext`], and the event formatters
//! ([`TextEvents`], [`JsonEvents`]) write them exactly as tracing-subscriber
//! writes a span `request{request_id=.. method=.. route=..}` around the
//! line (text: the prefix after the level; JSON: `span` and `spans`).
//!
//! Why not a span: creating, entering, leaving and closing one cost about
//! 2,000 instructions per request (a registry slot, its fields formatted
//! into a `String`, the filter asked at each step), a tenth of a `/healthz`,
//! for lines that are nearly never written. Here a request costs two
//! thread-local writes per poll; a line written inside one is formatted
//! once into a buffer and the request spliced in.
//!
//! What a span did that this does not: span-based filter directives
//! (`RUST_LOG=[request]=debug`) no longer match the request.

use std::cell::Cell;
use std::fmt::{self, Write as _};
use std::ptr;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{self, Format, Full, Json, Writer};
use tracing_subscriber::fmt::time::SystemTime;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The request being served: what its log lines name.
#[derive(Debug, Clone, Copy)]
pub struct RequestContext<'a> {
    /// The request id, as echoed in `X-Request-Id`.
    pub request_id: &'a str,
    /// The method label.
    pub method: &'a str,
    /// The route template (or `unmatched`).
    pub route: &'a str,
}

thread_local! {
    /// The context of the request whose future this thread is polling, if
    /// any: set by [`scope`] for the length of one call, never longer.
    static CURRENT: Cell<*const RequestContext<'static>> = const { Cell::new(ptr::null()) };
}

/// Puts the previous context back, also when `scope`'s call unwinds.
struct Restore(*const RequestContext<'static>);

impl Drop for Restore {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.0));
    }
}

/// Runs `f` (a poll of the request's future) with `ctx` as the current
/// request context; the previous one (none, or an outer request's) is
/// back when it returns or unwinds.
pub fn scope<R>(ctx: &RequestContext<'_>, f: impl FnOnce() -> R) -> R {
    let ptr = ptr::from_ref(ctx).cast::<RequestContext<'static>>();
    let _restore = Restore(CURRENT.with(|c| c.replace(ptr)));
    f()
}

/// `f` of the current request context, if a request is being polled.
pub fn with_current<R>(f: impl FnOnce(Option<&RequestContext<'_>>) -> R) -> R {
    let ptr = CURRENT.with(Cell::get);
    // SAFETY: a non-null pointer was set by `scope` from a reference that
    // outlives its call, and `Restore` takes it back before that call
    // returns or unwinds; `f` runs within it, on this thread (the pointer
    // is thread-local), and the reference it gets lives no longer than `f`.
    let ctx = unsafe { ptr.as_ref() };
    f(ctx)
}

/// The text format (tracing-subscriber's `Full`, without targets), with
/// the current request as the outermost span.
pub struct TextEvents {
    /// The writer decides the colours.
    direct: Format<Full, SystemTime>,
    /// For a line inside a request, written to a buffer: the colours fixed.
    plain: Format<Full, SystemTime>,
    coloured: Format<Full, SystemTime>,
}

impl Default for TextEvents {
    fn default() -> Self {
        let direct = format().with_target(false);
        Self {
            plain: direct.clone().with_ansi(false),
            coloured: direct.clone().with_ansi(true),
            direct,
        }
    }
}

fn format() -> Format<Full, SystemTime> {
    format::format()
}

impl<S, N> FormatEvent<S, N> for TextEvents
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        with_current(|request| {
            let Some(request) = request else {
                return self.direct.format_event(ctx, writer, event);
            };
            let ansi = writer.has_ansi_escapes();
            let inner = if ansi { &self.coloured } else { &self.plain };
            let mut line = String::new();
            inner.format_event(ctx, Writer::new(&mut line), event)?;
            let at = after_level(&line, event.metadata().level());
            let inner_spans = ctx.event_scope().is_some();
            line.insert_str(at, &text_span(request, ansi, inner_spans));
            writer.write_str(&line)
        })
    }
}

/// Where the spans start in a `Full` line: after the level (coloured or
/// not) and its space; the timestamp before it holds no letters.
fn after_level(line: &str, level: &Level) -> usize {
    let name = match *level {
        Level::TRACE => "TRACE",
        Level::DEBUG => "DEBUG",
        Level::INFO => " INFO",
        Level::WARN => " WARN",
        Level::ERROR => "ERROR",
    };
    let Some(found) = line.find(name) else {
        return 0;
    };
    let mut at = found + name.len();
    // The colour's reset (`ESC [ 0 m`).
    if line[at..].starts_with('\x1b')
        && let Some(end) = line[at..].find('m')
    {
        at += end + 1;
    }
    if line[at..].starts_with(' ') {
        at += 1;
    }
    at
}

/// `request{request_id=.. method=.. route=..}:` as tracing-subscriber
/// writes the span (`DefaultFields` with or without colours), then the
/// space before the message unless more spans follow.
fn text_span(r: &RequestContext<'_>, ansi: bool, more: bool) -> String {
    let (bold, italic, dimmed, reset) = if ansi {
        ("\x1b[1m", "\x1b[3m", "\x1b[2m", "\x1b[0m")
    } else {
        ("", "", "", "")
    };
    let mut out = String::with_capacity(64 + r.request_id.len() + r.route.len());
    let _ = write!(out, "{bold}request{reset}{bold}{{{reset}");
    let fields = [
        ("request_id", r.request_id),
        ("method", r.method),
        ("route", r.route),
    ];
    for (i, (name, value)) in fields.into_iter().enumerate() {
        let pad = if i == 0 { "" } else { " " };
        let _ = write!(out, "{pad}{italic}{name}{reset}{dimmed}={reset}{value}");
    }
    let _ = write!(out, "{bold}}}{reset}{dimmed}:{reset}");
    if !more {
        out.push(' ');
    }
    out
}

/// The JSON format (flattened events, without targets), with the current
/// request as the outermost span: `span` when it is the only one, and the
/// first of `spans`.
pub struct JsonEvents(Format<Json, SystemTime>);

impl Default for JsonEvents {
    fn default() -> Self {
        Self(format().with_target(false).json().flatten_event(true))
    }
}

impl<S, N> FormatEvent<S, N> for JsonEvents
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        with_current(|request| {
            let Some(request) = request else {
                return self.0.format_event(ctx, writer, event);
            };
            let mut line = String::new();
            self.0.format_event(ctx, Writer::new(&mut line), event)?;
            let span = json_span(request);
            // A key's quotes are never escaped, a string's always are: this
            // is the `spans` key (the last, after the event's fields).
            match line.rfind("\"spans\":[") {
                Some(at) if ctx.event_scope().is_some() => {
                    line.insert_str(at + "\"spans\":[".len(), &format!("{span},"));
                }
                _ => {
                    let Some(end) = line.rfind('}') else {
                        return Err(fmt::Error);
                    };
                    line.insert_str(end, &format!(",\"span\":{span},\"spans\":[{span}]"));
                }
            }
            writer.write_str(&line)
        })
    }
}

/// The span's object as tracing-subscriber writes it: its fields (in key
/// order, from a `serde_json` map), then `name`.
fn json_span(r: &RequestContext<'_>) -> String {
    let quoted = |s: &str| serde_json::to_string(s).unwrap_or_default();
    format!(
        "{{\"method\":{},\"request_id\":{},\"route\":{},\"name\":\"request\"}}",
        quoted(r.method),
        quoted(r.request_id),
        quoted(r.route)
    )
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::format::{DefaultFields, JsonFields};

    use super::*;
    use crate::telemetry::TextFields;

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Sink {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    const REQ: RequestContext<'static> = RequestContext {
        request_id: "abc-1",
        method: "GET",
        route: "/posts/{id}",
    };

    /// Lines at every level, with and without an inner span, and one
    /// outside any request.
    fn lines(in_request: &dyn Fn(&dyn Fn())) {
        tracing::info!(target: "access", status = 200, "before");
        in_request(&|| {
            tracing::trace!("at trace");
            tracing::debug!(n = 1, "at debug");
            tracing::info!(text = "quoted", "at info");
            tracing::warn!(error = %"disk \"on\" fire", "at warn");
            tracing::error!("at error");
            let inner = tracing::info_span!("inner", k = 7);
            let _in = inner.enter();
            tracing::warn!("in an inner span");
            let empty = tracing::info_span!("empty");
            let _in = empty.enter();
            tracing::warn!("in two inner spans");
        });
        tracing::info!(target: "access", status = 200, "after");
    }

    /// With a real span (what the service wrote before) and with the
    /// context: the same lines.
    fn both<F>(make: impl Fn(Sink) -> F) -> (String, String)
    where
        F: Into<tracing::Dispatch>,
    {
        let span = Sink::default();
        tracing::dispatcher::with_default(&make(span.clone()).into(), || {
            lines(&|f| {
                let s = tracing::error_span!("request", request_id = %REQ.request_id, method = %REQ.method, route = %REQ.route);
                s.in_scope(f);
            });
        });
        let context = Sink::default();
        tracing::dispatcher::with_default(&make(context.clone()).into(), || {
            lines(&|f| scope(&REQ, f));
        });
        (span.text(), context.text())
    }

    /// The lines without their timestamps (the formatter's own, which
    /// differ from run to run), each up to its first space.
    fn untimed(text: &str) -> Vec<&str> {
        text.lines().map(|l| &l[l.find(' ').unwrap()..]).collect()
    }

    #[test]
    fn text_lines_read_as_inside_the_request_span() {
        for ansi in [false, true] {
            let (span, context) = both(|sink| {
                tracing_subscriber::fmt()
                    .with_max_level(Level::TRACE)
                    .with_ansi(ansi)
                    .fmt_fields(TextFields)
                    .event_format(TextEvents::default())
                    .with_writer(move || sink.clone())
                    .finish()
            });
            assert_eq!(untimed(&context), untimed(&span));
            assert!(
                ansi || context.contains(
                    " WARN request{request_id=abc-1 method=GET route=/posts/{id}}: at warn"
                ),
                "{context}"
            );
            assert!(
                ansi || context.contains(" INFO before status=200"),
                "{context}"
            );
        }
        // And with the default fields, as the formatter is documented.
        let (span, context) = both(|sink| {
            tracing_subscriber::fmt()
                .with_max_level(Level::TRACE)
                .with_ansi(false)
                .fmt_fields(DefaultFields::new())
                .event_format(TextEvents::default())
                .with_writer(move || sink.clone())
                .finish()
        });
        assert_eq!(untimed(&context), untimed(&span));
    }

    #[test]
    fn json_lines_read_as_inside_the_request_span() {
        let (span, context) = both(|sink| {
            tracing_subscriber::fmt()
                .with_max_level(Level::TRACE)
                .fmt_fields(JsonFields::new())
                .event_format(JsonEvents::default())
                .with_writer(move || sink.clone())
                .finish()
        });
        // Without the timestamps, which differ.
        let strip = |text: &str| -> Vec<serde_json::Value> {
            text.lines()
                .map(|l| {
                    let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                    v.as_object_mut().unwrap().remove("timestamp");
                    v
                })
                .collect()
        };
        assert_eq!(strip(&context), strip(&span));
        let warn = &strip(&context)[4];
        assert_eq!(warn["span"]["request_id"], "abc-1", "{warn}");
        assert_eq!(warn["spans"][0]["route"], "/posts/{id}", "{warn}");
        assert!(strip(&context)[0].get("span").is_none());
        // The same text too, key order included, but for the timestamps.
        let text = |t: &str| -> Vec<String> {
            t.lines()
                .map(|l| l[l.find("\"level\"").unwrap()..].to_owned())
                .collect()
        };
        assert_eq!(text(&context), text(&span));
    }

    #[test]
    fn the_context_is_only_set_inside_the_scope_and_nests() {
        let outer = RequestContext {
            request_id: "outer",
            ..REQ
        };
        with_current(|c| assert!(c.is_none()));
        scope(&outer, || {
            scope(&REQ, || {
                with_current(|c| assert_eq!(c.unwrap().request_id, "abc-1"))
            });
            with_current(|c| assert_eq!(c.unwrap().request_id, "outer"));
            let unwound = std::panic::catch_unwind(|| scope(&REQ, || panic!("boom")));
            assert!(unwound.is_err());
            with_current(|c| assert_eq!(c.unwrap().request_id, "outer"));
        });
        with_current(|c| assert!(c.is_none()));
    }
}
