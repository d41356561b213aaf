//! `townhall export`: records streamed row by row from the database to a writer, so
//! memory stays flat whatever the size. Raw payloads are included: as text when they
//! are UTF-8, otherwise base64 in `raw_base64`.

use std::io::Write;

use anyhow::Context;
use base64::Engine;
use futures_util::TryStreamExt;
use serde_json::{Value, json};
use townhall_core::{AuditEvent, Post};
use townhall_store::Db;

use crate::cli::{ExportFormat, ExportWhat};

const POST_COLUMNS: &[&str] = &[
    "id",
    "platform",
    "external_id",
    "account_id",
    "contact_id",
    "text",
    "lang_hint",
    "created_at",
    "received_at",
    "edited_at",
    "reply_to",
    "conversation",
    "likes",
    "reposts",
    "replies",
    "quotes",
    "version",
    "deleted_at",
    "hidden",
    "entities",
    "raw",
    "raw_base64",
];

const QUARANTINE_COLUMNS: &[&str] = &["id", "received_at", "source", "code", "reason", "raw", "raw_base64"];

const AUDIT_COLUMNS: &[&str] =
    &["id", "at", "institution_id", "actor", "action", "object_kind", "object_id", "before", "after", "origin"];

/// Writes every record of `what` to `out` in `format`; returns how many.
pub async fn run(db: &Db, what: ExportWhat, format: ExportFormat, out: impl Write) -> anyhow::Result<u64> {
    let mut sink = Sink::new(
        format,
        out,
        match what {
            ExportWhat::Posts => POST_COLUMNS,
            ExportWhat::Audit => AUDIT_COLUMNS,
            ExportWhat::Quarantine => QUARANTINE_COLUMNS,
        },
    )?;
    match what {
        ExportWhat::Posts => {
            let mut posts = db.stream_posts();
            while let Some(post) = posts.try_next().await? {
                sink.write(&post_record(&post))?;
            }
        }
        ExportWhat::Audit => {
            let mut events = db.stream_audit();
            while let Some(event) = events.try_next().await? {
                sink.write(&audit_record(&event))?;
            }
        }
        ExportWhat::Quarantine => {
            let mut records = db.stream_quarantine();
            while let Some(record) = records.try_next().await? {
                let (raw, raw_base64) = raw_fields(&record.raw);
                sink.write(&json!({
                    "id": record.id, "received_at": record.received_at, "source": record.source,
                    "code": record.code, "reason": record.reason, "raw": raw, "raw_base64": raw_base64,
                }))?;
            }
        }
    }
    sink.finish()
}

/// A payload as JSON fields: `raw` when it is UTF-8, otherwise `raw_base64`.
pub(crate) fn raw_fields(bytes: &[u8]) -> (Value, Value) {
    match std::str::from_utf8(bytes) {
        Ok(text) => (Value::String(text.to_owned()), Value::Null),
        Err(_) => (Value::Null, Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))),
    }
}

fn post_record(post: &Post) -> Value {
    let (raw, raw_base64) = raw_fields(&post.raw);
    json!({
        "id": post.id, "platform": post.platform, "external_id": post.external_id, "account_id": post.account_id,
        "contact_id": post.contact_id, "text": post.text, "lang_hint": post.lang_hint, "created_at": post.created_at,
        "received_at": post.received_at, "edited_at": post.edited_at, "reply_to": post.reply_to,
        "conversation": post.conversation, "likes": post.metrics.likes, "reposts": post.metrics.reposts,
        "replies": post.metrics.replies, "quotes": post.metrics.quotes, "version": post.version,
        "deleted_at": post.deleted_at, "hidden": post.hidden, "entities": post.entities, "raw": raw, "raw_base64": raw_base64,
    })
}

fn audit_record(event: &AuditEvent) -> Value {
    json!({
        "id": event.id, "at": event.at, "institution_id": event.institution_id, "actor": event.actor.to_stored(),
        "action": event.action, "object_kind": event.object_kind, "object_id": event.object_id,
        "before": event.before, "after": event.after, "origin": event.origin,
    })
}

/// Where records go: NDJSON lines, or CSV rows in a fixed column order.
enum Sink<W: Write> {
    Ndjson(std::io::BufWriter<W>, u64),
    Csv(Box<csv::Writer<W>>, &'static [&'static str], u64),
}

impl<W: Write> Sink<W> {
    fn new(format: ExportFormat, out: W, columns: &'static [&'static str]) -> anyhow::Result<Self> {
        Ok(match format {
            ExportFormat::Ndjson => Sink::Ndjson(std::io::BufWriter::new(out), 0),
            ExportFormat::Csv => {
                let mut writer = csv::WriterBuilder::new().quote_style(csv::QuoteStyle::Always).from_writer(out);
                writer.write_record(columns)?;
                Sink::Csv(Box::new(writer), columns, 0)
            }
        })
    }

    fn write(&mut self, record: &Value) -> anyhow::Result<()> {
        match self {
            // serde_json escapes line breaks inside strings: one record, one line.
            Sink::Ndjson(out, count) => {
                serde_json::to_writer(&mut *out, record)?;
                out.write_all(b"\n")?;
                *count += 1;
            }
            Sink::Csv(out, columns, count) => {
                out.write_record(columns.iter().map(|c| csv_cell(&record[*c])))?;
                *count += 1;
            }
        }
        Ok(())
    }

    fn finish(self) -> anyhow::Result<u64> {
        match self {
            Sink::Ndjson(mut out, count) => {
                out.flush().context("cannot write the export")?;
                Ok(count)
            }
            Sink::Csv(mut out, _, count) => {
                out.flush().context("cannot write the export")?;
                Ok(count)
            }
        }
    }
}

/// One CSV cell. A cell a spreadsheet would run as a formula (`= + - @`, tab, CR at
/// its start) gets a leading apostrophe (SECURITY.md rule 8).
fn csv_cell(value: &Value) -> String {
    let text = match value {
        Value::Null => return String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised() {
        assert_eq!(csv_cell(&json!("=HYPERLINK(\"http://x\")")), "'=HYPERLINK(\"http://x\")");
        assert_eq!(csv_cell(&json!("@SUM(A1)")), "'@SUM(A1)");
        assert_eq!(csv_cell(&json!("\tcmd")), "'\tcmd");
        assert_eq!(csv_cell(&json!("hola")), "hola");
        assert_eq!(csv_cell(&json!(-3)), "'-3");
        assert_eq!(csv_cell(&Value::Null), "");
    }
}
