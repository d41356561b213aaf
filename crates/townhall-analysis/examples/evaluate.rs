//! Measures Townhall's analysis on labelled data: accuracy, macro-F1 and throughput.
//!
//! ```text
//! cargo run --release -p townhall-analysis --example evaluate -- TASK FILE.tsv [--languages CODES]
//! cargo run --release -p townhall-analysis --example evaluate -- lingua [CODES]
//! ```
//!
//! `FILE.tsv` holds `text<TAB>label` lines. TASK is `language` (labels are ISO codes),
//! `sentiment` (numeric labels: Pearson r against the score; or `positive`,
//! `negative`, `neutral`), `intent`, `topic` (a post counts as right when the label is
//! among its topics; `none` for a post without one), `spam` or `abuse` (labels `1`/`0`
//! or `true`/`false`). `--languages es,en` restricts language identification to the
//! languages an institution expects (all supported ones by default). `lingua` evaluates language identification on the test data
//! of the `lingua-*-language-model` crates, for the given comma-separated codes
//! (default: the seeds' languages) and for all supported languages.

use std::collections::BTreeMap;
use std::time::Instant;

use lingua::Language;
use townhall_analysis::{Context, analyze, language};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("lingua") => {
            lingua(args.get(1).map(String::as_str));
            Ok(())
        }
        Some(task) if args.len() == 2 => evaluate_file(task, &args[1], None),
        Some(task) if args.len() == 4 && args[2] == "--languages" => evaluate_file(task, &args[1], Some(&args[3])),
        _ => Err("usage: evaluate TASK FILE.tsv [--languages CODES] | evaluate lingua [CODES]".to_string()),
    };
    if let Err(message) = result {
        eprintln!("{message}");
        std::process::exit(2);
    }
}

fn evaluate_file(task: &str, path: &str, languages: Option<&str>) -> Result<(), String> {
    let data = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let rows: Vec<(&str, &str)> =
        data.lines().filter_map(|line| line.rsplit_once('\t')).map(|(text, label)| (text, label.trim())).collect();
    if rows.is_empty() {
        return Err(format!("{path}: no `text<TAB>label` line"));
    }
    let detector = languages.map(|codes| {
        let chosen: Vec<_> = codes.split(',').filter_map(language::from_code).collect();
        language::Detector::new(&chosen)
    });
    let context = Context { detector: detector.as_ref(), ..Context::default() };
    // Models load on first use; that is start-up, not throughput.
    let _ = analyze(rows[0].0, &context);
    let started = Instant::now();
    let enrichments: Vec<_> = rows.iter().map(|(text, _)| analyze(text, &context)).collect();
    let elapsed = started.elapsed().as_secs_f64();
    println!("{path}: {} texts, {:.0} texts/s (full analyze, one core)", rows.len(), rows.len() as f64 / elapsed);
    if task == "sentiment" && rows.iter().all(|(_, label)| label.parse::<f64>().is_ok()) {
        let pairs: Vec<(f64, f64)> = rows
            .iter()
            .zip(&enrichments)
            .filter_map(|((_, label), e)| Some((label.parse().ok()?, f64::from(e.sentiment.score?))))
            .collect();
        println!("sentiment: Pearson r = {:.4} on {} texts with a score", pearson(&pairs), pairs.len());
        return Ok(());
    }
    let predictions: Vec<(String, String)> = rows
        .iter()
        .zip(&enrichments)
        .map(|((_, label), e)| {
            let label = label.to_lowercase();
            let predicted = match task {
                "language" => e.lang.clone().unwrap_or_else(|| "unknown".into()),
                "sentiment" => e.sentiment.polarity().to_string(),
                "intent" => e.intent.label.as_str().to_string(),
                "topic" => {
                    let topics: Vec<&str> = e.topics.iter().map(|t| t.topic.as_str()).collect();
                    if topics.contains(&label.as_str()) {
                        label.clone()
                    } else {
                        topics.first().copied().unwrap_or("none").to_string()
                    }
                }
                "spam" => flag(e.spam.score >= 0.5),
                "abuse" => flag(e.abuse.score >= 0.5),
                other => return Err(format!("unknown task `{other}`")),
            };
            let label =
                if matches!(task, "spam" | "abuse") { flag(matches!(label.as_str(), "1" | "true")) } else { label };
            Ok((label, predicted))
        })
        .collect::<Result<_, _>>()?;
    report(task, &predictions);
    Ok(())
}

fn flag(on: bool) -> String {
    if on { "1" } else { "0" }.to_string()
}

fn lingua(codes: Option<&str>) {
    let seeds = "es,en,fr,nl,ar,mk";
    let chosen: Vec<_> = codes.unwrap_or(seeds).split(',').filter_map(language::from_code).collect();
    for (name, languages) in [("chosen", chosen), ("all supported", language::SUPPORTED.to_vec())] {
        let codes: Vec<String> = languages.iter().map(|l| language::code(*l)).collect();
        println!("== {name} ({} languages: {})", languages.len(), codes.join(","));
        let started = Instant::now();
        let detector = language::Detector::new(&languages);
        for language in &languages {
            // Loads every model the detector may use, outside the timing.
            let _ = detector.detect(testdata(*language, "word-pairs").lines().next().unwrap_or_default());
            let _ = detector.detect(testdata(*language, "single-words").lines().next().unwrap_or_default());
        }
        println!("models loaded in {:.2} s", started.elapsed().as_secs_f64());
        for kind in ["sentences", "single-words", "word-pairs"] {
            let mut predictions = Vec::new();
            let mut texts = 0usize;
            let started = Instant::now();
            for language in &languages {
                for line in testdata(*language, kind).lines().filter(|l| !l.trim().is_empty()) {
                    texts += 1;
                    let found = detector.detect(line).map(|d| d.code()).unwrap_or_else(|| "unknown".into());
                    predictions.push((language::code(*language), found));
                }
            }
            let elapsed = started.elapsed().as_secs_f64();
            print!("{kind:>13}: {:.0} texts/s (language only), ", texts as f64 / elapsed);
            report(kind, &predictions);
        }
        let sentences: Vec<&str> =
            languages.iter().flat_map(|l| testdata(*l, "sentences").lines()).filter(|l| !l.trim().is_empty()).collect();
        let context = Context { detector: Some(&detector), ..Context::default() };
        // One pass to warm up (lingua builds a detector per shortlist it meets), then
        // five timed passes.
        for text in &sentences {
            std::hint::black_box(analyze(text, &context));
        }
        let started = Instant::now();
        for _ in 0..5 {
            for text in &sentences {
                std::hint::black_box(analyze(text, &context));
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        println!("    sentences: {:.0} texts/s (full analyze, one core)", 5.0 * sentences.len() as f64 / elapsed);
    }
}

/// Prints accuracy and macro-F1 of (label, predicted) pairs.
fn report(task: &str, pairs: &[(String, String)]) {
    let correct = pairs.iter().filter(|(label, predicted)| label == predicted).count();
    let mut counts: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    for (label, predicted) in pairs {
        counts.entry(label).or_default();
        if label == predicted {
            counts.entry(label).or_default().0 += 1;
        } else {
            counts.entry(predicted).or_default().1 += 1;
            counts.entry(label).or_default().2 += 1;
        }
    }
    let labels: Vec<_> = counts.iter().filter(|(_, (tp, _, fn_))| tp + fn_ > 0).collect();
    let f1_sum: f64 = labels
        .iter()
        .map(|(_, (tp, fp, fn_))| {
            let tp = *tp as f64;
            if tp == 0.0 { 0.0 } else { 2.0 * tp / (2.0 * tp + *fp as f64 + *fn_ as f64) }
        })
        .sum();
    println!(
        "{task}: n = {}, accuracy = {:.4}, macro-F1 = {:.4}",
        pairs.len(),
        correct as f64 / pairs.len().max(1) as f64,
        f1_sum / labels.len().max(1) as f64
    );
}

fn pearson(pairs: &[(f64, f64)]) -> f64 {
    let n = pairs.len() as f64;
    let (mx, my) = pairs.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + x / n, b + y / n));
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in pairs {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx) * (x - mx);
        syy += (y - my) * (y - my);
    }
    sxy / (sxx * syy).sqrt()
}

/// lingua's test data for a language: `kind` is `sentences`, `single-words` or
/// `word-pairs`, one text per line.
fn testdata(language: Language, kind: &str) -> &'static str {
    macro_rules! dirs {
        ($($lang:ident => $krate:ident :: $dir:ident,)*) => {
            match language {
                $(Language::$lang => $krate::$dir,)*
            }
        };
    }
    let dir = dirs! {
        English => lingua_english_language_model::ENGLISH_TESTDATA_DIRECTORY,
        Spanish => lingua_spanish_language_model::SPANISH_TESTDATA_DIRECTORY,
        Portuguese => lingua_portuguese_language_model::PORTUGUESE_TESTDATA_DIRECTORY,
        French => lingua_french_language_model::FRENCH_TESTDATA_DIRECTORY,
        German => lingua_german_language_model::GERMAN_TESTDATA_DIRECTORY,
        Italian => lingua_italian_language_model::ITALIAN_TESTDATA_DIRECTORY,
        Dutch => lingua_dutch_language_model::DUTCH_TESTDATA_DIRECTORY,
        Arabic => lingua_arabic_language_model::ARABIC_TESTDATA_DIRECTORY,
        Macedonian => lingua_macedonian_language_model::MACEDONIAN_TESTDATA_DIRECTORY,
        Albanian => lingua_albanian_language_model::ALBANIAN_TESTDATA_DIRECTORY,
        Catalan => lingua_catalan_language_model::CATALAN_TESTDATA_DIRECTORY,
        Basque => lingua_basque_language_model::BASQUE_TESTDATA_DIRECTORY,
        Welsh => lingua_welsh_language_model::WELSH_TESTDATA_DIRECTORY,
        Irish => lingua_irish_language_model::IRISH_TESTDATA_DIRECTORY,
        Turkish => lingua_turkish_language_model::TURKISH_TESTDATA_DIRECTORY,
        Russian => lingua_russian_language_model::RUSSIAN_TESTDATA_DIRECTORY,
        Ukrainian => lingua_ukrainian_language_model::UKRAINIAN_TESTDATA_DIRECTORY,
        Polish => lingua_polish_language_model::POLISH_TESTDATA_DIRECTORY,
        Japanese => lingua_japanese_language_model::JAPANESE_TESTDATA_DIRECTORY,
        Korean => lingua_korean_language_model::KOREAN_TESTDATA_DIRECTORY,
        Chinese => lingua_chinese_language_model::CHINESE_TESTDATA_DIRECTORY,
        Thai => lingua_thai_language_model::THAI_TESTDATA_DIRECTORY,
        Indonesian => lingua_indonesian_language_model::INDONESIAN_TESTDATA_DIRECTORY,
        Malay => lingua_malay_language_model::MALAY_TESTDATA_DIRECTORY,
        Tagalog => lingua_tagalog_language_model::TAGALOG_TESTDATA_DIRECTORY,
        Hindi => lingua_hindi_language_model::HINDI_TESTDATA_DIRECTORY,
        Urdu => lingua_urdu_language_model::URDU_TESTDATA_DIRECTORY,
        Persian => lingua_persian_language_model::PERSIAN_TESTDATA_DIRECTORY,
        Bengali => lingua_bengali_language_model::BENGALI_TESTDATA_DIRECTORY,
        Vietnamese => lingua_vietnamese_language_model::VIETNAMESE_TESTDATA_DIRECTORY,
        Swedish => lingua_swedish_language_model::SWEDISH_TESTDATA_DIRECTORY,
        Romanian => lingua_romanian_language_model::ROMANIAN_TESTDATA_DIRECTORY,
        Greek => lingua_greek_language_model::GREEK_TESTDATA_DIRECTORY,
        Hebrew => lingua_hebrew_language_model::HEBREW_TESTDATA_DIRECTORY,
        Czech => lingua_czech_language_model::CZECH_TESTDATA_DIRECTORY,
        Hungarian => lingua_hungarian_language_model::HUNGARIAN_TESTDATA_DIRECTORY,
        Danish => lingua_danish_language_model::DANISH_TESTDATA_DIRECTORY,
        Bokmal => lingua_bokmal_language_model::BOKMAL_TESTDATA_DIRECTORY,
        Finnish => lingua_finnish_language_model::FINNISH_TESTDATA_DIRECTORY,
        Tamil => lingua_tamil_language_model::TAMIL_TESTDATA_DIRECTORY,
        Serbian => lingua_serbian_language_model::SERBIAN_TESTDATA_DIRECTORY,
        Bulgarian => lingua_bulgarian_language_model::BULGARIAN_TESTDATA_DIRECTORY,
        Croatian => lingua_croatian_language_model::CROATIAN_TESTDATA_DIRECTORY,
    };
    dir.get_file(format!("{kind}.txt")).and_then(|file| file.contents_utf8()).unwrap_or_default()
}
