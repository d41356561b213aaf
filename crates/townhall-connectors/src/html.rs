//! HTML to plain text, for the platforms that send markup (Mastodon, e-mail).
//!
//! One pass over the input, linear in its length whatever it holds (`<<<<`, unclosed
//! tags, deep nesting): each `<` looks for its `>` once, and once none is left the rest
//! is text. Paragraphs become blank lines, `<br>` a line break, entities are decoded,
//! `<script>` and `<style>` content is dropped, and Mastodon's link shortening
//! (`<span class="invisible">`, `<span class="ellipsis">`) is shown as Mastodon shows
//! it while the full address goes to `links`. Only `http` and `https` addresses are
//! collected; mentions and hashtags are links of their own kind and are not.

/// The text of a fragment, and the web links it carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HtmlText {
    /// Plain text, trimmed.
    pub text: String,
    /// `href`s of ordinary links, `http`/`https` only, in order.
    pub links: Vec<String>,
}

/// Whether `url` is a web address (the only kind Townhall ever links to).
pub fn is_web_link(url: &str) -> bool {
    let lower = url.trim_start().get(..8).map(str::to_ascii_lowercase).unwrap_or_default();
    lower.starts_with("http://") || lower.starts_with("https://")
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Span {
    Plain,
    Invisible,
    Ellipsis,
}

/// Converts an HTML fragment to plain text and its links.
pub fn to_text(html: &str) -> HtmlText {
    let mut out = HtmlText::default();
    let mut spans: Vec<Span> = Vec::new();
    // How many open spans are invisible: a count, so deep nesting stays linear.
    let mut invisible = 0usize;
    let mut skipping: Option<&'static str> = None;
    let mut pending_break = 0usize;
    let mut no_more_tags = false;
    let mut i = 0;
    while i < html.len() {
        let rest = &html[i..];
        if let Some(end_tag) = skipping {
            // Inside <script> or <style>: jump to its closing tag, or to the end.
            match find_ascii_ci(rest, end_tag) {
                Some(at) => {
                    i += at + end_tag.len();
                    i += rest[at + end_tag.len()..].find('>').map_or(0, |g| g + 1);
                }
                None => i = html.len(),
            }
            skipping = None;
            continue;
        }
        let c = rest.chars().next().unwrap_or('\u{fffd}');
        // As in browsers, `<` opens a tag only before a letter, `/` or `!`; otherwise it is text.
        let opens_tag = rest.as_bytes().get(1).is_some_and(|b| b.is_ascii_alphabetic() || *b == b'/' || *b == b'!');
        if c == '<' && opens_tag && !no_more_tags {
            let Some(close) = rest.find('>') else {
                no_more_tags = true;
                continue;
            };
            let tag = Tag::parse(&rest[1..close]);
            i += close + 1;
            match (tag.name.as_str(), tag.closing) {
                ("br", _) => push_break(&mut out.text, &mut pending_break, 1),
                ("p" | "div" | "blockquote" | "li" | "ul" | "ol" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6", _) => {
                    pending_break = pending_break.max(if tag.name == "li" { 1 } else { 2 });
                }
                ("script", false) => skipping = Some("</script"),
                ("style", false) => skipping = Some("</style"),
                ("span", false) if !tag.self_closing => {
                    let span = match tag.class.as_deref() {
                        Some(class) if has_class(class, "invisible") => Span::Invisible,
                        Some(class) if has_class(class, "ellipsis") => Span::Ellipsis,
                        _ => Span::Plain,
                    };
                    invisible += usize::from(span == Span::Invisible);
                    spans.push(span);
                }
                ("span", true) => match spans.pop() {
                    Some(Span::Invisible) => invisible -= 1,
                    Some(Span::Ellipsis) if invisible == 0 => out.text.push('…'),
                    _ => {}
                },
                ("a", false) => {
                    let mention =
                        tag.class.as_deref().is_some_and(|c| has_class(c, "mention") || has_class(c, "hashtag"));
                    if let Some(href) = tag.href.filter(|h| !mention && is_web_link(h)) {
                        out.links.push(href);
                    }
                }
                _ => {}
            }
            continue;
        }
        let (decoded, used) = if c == '&' { decode_entity(rest) } else { (None, c.len_utf8()) };
        i += used;
        if invisible > 0 {
            continue;
        }
        if pending_break > 0 {
            let n = std::mem::take(&mut pending_break);
            if !out.text.is_empty() {
                push_break(&mut out.text, &mut 0, n);
            }
        }
        match decoded {
            Some(ch) => out.text.push(ch),
            None if c == '&' => out.text.push('&'),
            None => out.text.push(c),
        }
    }
    let trimmed = out.text.trim();
    if trimmed.len() != out.text.len() {
        out.text = trimmed.to_owned();
    }
    out
}

fn has_class(classes: &str, wanted: &str) -> bool {
    classes.split_ascii_whitespace().any(|c| c == wanted)
}

/// Ends the current line so that `n` line breaks separate it from what follows.
fn push_break(text: &mut String, pending: &mut usize, n: usize) {
    *pending = 0;
    let have = text.len() - text.trim_end_matches('\n').len();
    for _ in have..n {
        text.push('\n');
    }
}

/// ASCII case-insensitive search for `needle` in `hay`.
fn find_ascii_ci(hay: &str, needle: &str) -> Option<usize> {
    let (hay, needle) = (hay.as_bytes(), needle.as_bytes());
    hay.windows(needle.len()).position(|w| w.eq_ignore_ascii_case(needle))
}

/// The parts of a tag Townhall reads.
struct Tag {
    name: String,
    closing: bool,
    self_closing: bool,
    href: Option<String>,
    class: Option<String>,
}

impl Tag {
    fn parse(inner: &str) -> Tag {
        let closing = inner.starts_with('/');
        let body = inner.trim_start_matches('/');
        let name_end = body.find(|c: char| c.is_ascii_whitespace() || c == '/').unwrap_or(body.len());
        let mut tag = Tag {
            name: body[..name_end].to_ascii_lowercase(),
            closing,
            self_closing: inner.ends_with('/'),
            href: None,
            class: None,
        };
        if tag.name == "a" || tag.name == "span" {
            let mut attrs = &body[name_end..];
            while let Some((key, value, rest)) = next_attribute(attrs) {
                match key.to_ascii_lowercase().as_str() {
                    "href" => tag.href = Some(decode_entities(value)),
                    "class" => tag.class = Some(decode_entities(value)),
                    _ => {}
                }
                attrs = rest;
            }
        }
        tag
    }
}

/// The next `key="value"` (or `'value'` or bare) pair, and what follows it.
fn next_attribute(text: &str) -> Option<(&str, &str, &str)> {
    let text = text.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '/');
    if text.is_empty() {
        return None;
    }
    let key_end = text.find(|c: char| c == '=' || c.is_ascii_whitespace()).unwrap_or(text.len());
    let key = &text[..key_end];
    let rest = text[key_end..].trim_start();
    let Some(rest) = rest.strip_prefix('=') else { return Some((key, "", rest)) };
    let rest = rest.trim_start();
    match rest.chars().next() {
        Some(q @ ('"' | '\'')) => {
            let body = &rest[1..];
            let end = body.find(q).unwrap_or(body.len());
            Some((key, &body[..end], body.get(end + 1..).unwrap_or("")))
        }
        _ => {
            let end = rest.find(|c: char| c.is_ascii_whitespace()).unwrap_or(rest.len());
            Some((key, &rest[..end], &rest[end..]))
        }
    }
}

/// Decodes every entity in an attribute value.
fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        let c = rest.chars().next().unwrap_or('\u{fffd}');
        if c == '&' {
            let (decoded, used) = decode_entity(rest);
            out.push(decoded.unwrap_or('&'));
            i += used;
        } else {
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Decodes the entity at the start of `text` (which starts with `&`): the character
/// and the bytes it took, or `None` and 1 when it is not one.
fn decode_entity(text: &str) -> (Option<char>, usize) {
    let window = &text.as_bytes()[1..text.len().min(34)];
    let Some(end) = window.iter().position(|&b| b == b';') else { return (None, 1) };
    let name = &text[1..1 + end];
    let decoded = if let Some(number) = name.strip_prefix('#') {
        let value = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => number.parse::<u32>().ok(),
        };
        // A number that is no character (a surrogate, NUL, beyond U+10FFFF) is U+FFFD.
        value.map(|v| char::from_u32(v).filter(|&c| c != '\0').unwrap_or('\u{fffd}'))
    } else {
        named_entity(name)
    };
    match decoded {
        Some(c) => (Some(c), end + 2),
        None => (None, 1),
    }
}

fn named_entity(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        "hellip" => '…',
        "mdash" => '—',
        "ndash" => '–',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "laquo" => '«',
        "raquo" => '»',
        "copy" => '©',
        "reg" => '®',
        "euro" => '€',
        "iexcl" => '¡',
        "iquest" => '¿',
        "aacute" => 'á',
        "eacute" => 'é',
        "iacute" => 'í',
        "oacute" => 'ó',
        "uacute" => 'ú',
        "ntilde" => 'ñ',
        "Ntilde" => 'Ñ',
        "uuml" => 'ü',
        "ccedil" => 'ç',
        "egrave" => 'è',
        "agrave" => 'à',
        "zwj" => '\u{200d}',
        "zwnj" => '\u{200c}',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn paragraphs_breaks_and_entities() {
        let t = to_text(
            "<p>Hola &amp; bienvenidos<br>línea dos<br/>tres</p><p>&#191;Qu&#xE9; tal? &lt;b&gt; &bogus; &#xD800;</p>",
        );
        assert_eq!(t.text, "Hola & bienvenidos\nlínea dos\ntres\n\n¿Qué tal? <b> &bogus; \u{fffd}");
    }

    #[test]
    fn mastodon_links_mentions_and_hashtags() {
        let html = r#"<p><span class="h-card"><a href="https://gob.example/@muni" class="u-url mention">@<span>muni</span></a></span> mira <a href="https://example.org/informe/2026/agua?x=1&amp;y=2" rel="nofollow noopener" target="_blank"><span class="invisible">https://</span><span class="ellipsis">example.org/informe/20</span><span class="invisible">26/agua?x=1&amp;y=2</span></a> <a href="https://social.example/tags/Agua" class="mention hashtag" rel="tag">#<span>Agua</span></a> <a href="javascript:alert(1)">x</a></p>"#;
        let t = to_text(html);
        assert_eq!(t.text, "@muni mira example.org/informe/20… #Agua x");
        assert_eq!(t.links, ["https://example.org/informe/2026/agua?x=1&y=2"]);
    }

    #[test]
    fn scripts_and_styles_are_dropped_and_stray_brackets_kept() {
        assert_eq!(to_text("a<script>alert('<p>')</script>b<STYLE>p{}</STYLE>c").text, "abc");
        assert_eq!(to_text("1 < 2 and 3 > 2").text, "1 < 2 and 3 > 2");
        assert_eq!(to_text("x <<<< y").text, "x <<<< y");
        assert_eq!(to_text("<script>never closed").text, "");
    }

    #[test]
    fn unicode_passes_through_unchanged() {
        let s = "שלום \u{202e}abc\u{202c} 👩‍👩‍👧 e\u{301} \u{200b}";
        assert_eq!(to_text(&format!("<p>{s}</p>")).text, s.trim());
    }

    #[test]
    fn huge_hostile_input_is_linear() {
        let evil = "<".repeat(2_000_000) + &"&#".repeat(500_000) + &"<span>".repeat(200_000);
        let t = to_text(&evil);
        assert!(t.text.starts_with("<<<"));
    }

    proptest! {
        #[test]
        fn any_string_converts_without_panicking(s in any::<String>()) {
            let _ = to_text(&s);
        }

        #[test]
        fn text_without_markup_passes_through(s in "[^<&]*") {
            prop_assert_eq!(to_text(&s).text, s.trim());
        }
    }
}
