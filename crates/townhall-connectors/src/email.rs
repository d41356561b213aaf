//! E-mail: one RFC 5322 message (an `.eml`, or one message the framer cut from an
//! mbox), read with `mail-parser`, which decodes MIME parts and charsets.
//!
//! A message is keyed by its `Message-ID`; one without gets `fnv:` and a 64-bit FNV-1a
//! hash of its bytes, so the same file imported twice is still one post. The text is
//! the subject, a blank line, then the plain-text body (or the HTML body as text).
//! Threads follow `In-Reply-To` and the first of `References`. Attachments are
//! referenced by name; their bytes stay in the raw message.

use chrono::DateTime;
use mail_parser::{MessageParser, MimeHeaders};
use townhall_core::{MediaRef, NewContact, NewPost, Platform, PlatformEvent, PostEntities, PostMetrics};

use crate::{Item, ParseError, Parsed, html};

/// Parses one message.
pub fn parse(raw: &[u8]) -> Parsed {
    let message = MessageParser::default()
        .parse(raw)
        .filter(|m| m.headers().iter().any(|h| !h.name().is_empty()))
        .ok_or_else(|| ParseError::shape("not an e-mail message: no headers"))?;
    let date = message.date().ok_or_else(|| ParseError::value("the message has no readable Date header"))?;
    let created_at = DateTime::from_timestamp(date.to_timestamp(), 0)
        .ok_or_else(|| ParseError::value("the message's Date is out of range"))?;
    let external_id = match message.message_id() {
        Some(id) if !id.trim().is_empty() => id.trim().to_owned(),
        _ => format!("fnv:{:016x}", fnv1a(raw)),
    };
    let author = message.from().and_then(|from| from.first()).and_then(|addr| {
        let address = addr.address()?.trim().to_lowercase();
        Some(NewContact {
            handle: address.clone(),
            external_id: address,
            display_name: addr.name().map(str::to_owned).filter(|n| !n.is_empty()),
        })
    });
    let body = match message.body_text(0) {
        Some(text) if !text.trim().is_empty() => text.into_owned(),
        _ => message.body_html(0).map(|h| html::to_text(&h).text).unwrap_or_default(),
    };
    let text = match message.subject().map(str::trim).filter(|s| !s.is_empty()) {
        Some(subject) => format!("{subject}\n\n{}", body.trim_end()),
        None => body.trim_end().to_owned(),
    };
    let first = |value: &mail_parser::HeaderValue| -> Option<String> {
        value
            .as_text_list()
            .and_then(|list| list.first().map(|s| s.to_string()))
            .or_else(|| value.as_text().map(str::to_owned))
    };
    let media = message
        .attachments()
        .map(|part| {
            let name = part.attachment_name().unwrap_or("attachment").to_owned();
            let kind = part.content_type().map_or_else(|| "file".to_owned(), |ct| ct.c_type.to_string());
            MediaRef { kind, url: format!("cid:{name}"), alt: Some(name) }
        })
        .collect();
    let lang_hint = message
        .header("Content-Language")
        .and_then(|h| h.as_text())
        .and_then(|l| l.split(',').next())
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty());
    Ok(vec![Item::Event(PlatformEvent::Post(NewPost {
        platform: Platform::Email,
        external_id,
        account_id: None,
        author,
        text,
        lang_hint,
        created_at,
        edited_at: None,
        reply_to: first(message.in_reply_to()),
        conversation: first(message.references()),
        metrics: PostMetrics::default(),
        entities: PostEntities { media, ..PostEntities::default() },
        raw: raw.to_vec(),
    }))])
}

/// 64-bit FNV-1a: a stable, dependency-free fingerprint for messages without an id.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn post(raw: &[u8]) -> NewPost {
        match parse(raw).unwrap().remove(0) {
            Item::Event(PlatformEvent::Post(post)) => post,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_plain_reply_in_latin_1() {
        let mut raw = b"From: =?ISO-8859-1?Q?Jos=E9_P=E9rez?= <Jose@Example.ORG>\r\nTo: atencion@valpo.cl\r\n\
Subject: =?ISO-8859-1?Q?Reclamo_por_cami=F3n?=\r\nDate: Mon, 2 Mar 2026 10:00:00 -0300\r\n\
Message-ID: <abc@example.org>\r\nIn-Reply-To: <prev@valpo.cl>\r\nReferences: <root@valpo.cl> <prev@valpo.cl>\r\n\
Content-Language: es-CL\r\nContent-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            .to_vec();
        raw.extend_from_slice(b"El cami\xF3n no pas\xF3.\r\n");
        let p = post(&raw);
        assert_eq!(p.external_id, "abc@example.org");
        assert_eq!(p.text, "Reclamo por camión\n\nEl camión no pasó.");
        let author = p.author.as_ref().unwrap();
        assert_eq!(
            (author.external_id.as_str(), author.display_name.as_deref()),
            ("jose@example.org", Some("José Pérez"))
        );
        assert_eq!((p.reply_to.as_deref(), p.conversation.as_deref()), (Some("prev@valpo.cl"), Some("root@valpo.cl")));
        assert_eq!((p.lang_hint.as_deref(), p.created_at.timestamp()), (Some("es-CL"), 1_772_456_400));
        assert_eq!(p.raw, raw);
    }

    #[test]
    fn html_with_an_attachment_and_no_message_id() {
        let raw = b"From: a@example.org\nDate: Mon, 2 Mar 2026 10:00:00 +0000\nSubject: Foto\nMIME-Version: 1.0\n\
Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/html; charset=utf-8\n\n\
<p>Mire el <b>bache</b><script>x()</script></p>\n--b\nContent-Type: image/jpeg; name=\"bache.jpg\"\n\
Content-Disposition: attachment; filename=\"bache.jpg\"\nContent-Transfer-Encoding: base64\n\n/9j/4AAQ\n--b--\n";
        let p = post(raw);
        assert_eq!(p.text, "Foto\n\nMire el bache");
        assert!(p.external_id.starts_with("fnv:"));
        assert_eq!(post(raw).external_id, p.external_id, "the same bytes, the same id");
        assert_eq!(p.entities.media[0].alt.as_deref(), Some("bache.jpg"));
    }

    #[test]
    fn what_is_not_a_message_is_an_error() {
        assert_eq!(parse(b"").unwrap_err().code, "parse.shape");
        assert_eq!(parse(b"From: a@example.org\nSubject: no date\n\nhi").unwrap_err().code, "parse.value");
    }

    proptest! {
        #[test]
        fn any_bytes_parse_or_fail_without_panicking(raw in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&raw);
        }
    }
}
