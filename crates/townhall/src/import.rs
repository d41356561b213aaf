//! `townhall import`: files of any size, in any format the connectors read, into the
//! store, in bounded memory, with nothing lost.
//!
//! A blocking thread reads, frames and parses while the worker analyses the batch
//! before and the store writes the one before that, connected by channels of a few
//! batches so memory stays flat. Each batch is one transaction, its posts stored with
//! their analysis: what is reported imported is durable and tagged, and running the
//! same file again stores nothing new (its posts are analysed again before they are
//! found stored). A record that cannot be read goes to the quarantine file, exactly as
//! it was, with where it was and why; the run goes on.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use serde_json::json;
use tokio::sync::mpsc;
use townhall_connectors::detect::{self, Layout};
use townhall_connectors::frame::{BadRecord, Framer, Record};
use townhall_connectors::{Format, Item, ParseError, generic};
use townhall_core::PlatformEvent;
use townhall_store::{Analysis, Db, EventOutcome, IngestOutcome};

use crate::understand::Worker;

/// Items stored per transaction.
const BATCH: usize = 1000;

/// Bytes of records per batch at most, so a file of huge records cannot fill memory.
const BATCH_BYTES: usize = 32 << 20;

/// An input that cannot be imported at all (missing file, unknown format): exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unusable(pub String);

/// What `townhall import` was asked to do.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    /// The format, or [`Format::Auto`].
    pub format: Format,
    /// Files to read, in order.
    pub paths: Vec<PathBuf>,
    /// Where rejected records go; created only when there is one.
    pub quarantine: PathBuf,
}

/// What an import did. `read` counts records; the other counts are of what the
/// records yielded (one webhook payload may carry several changes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    /// Records read.
    pub read: u64,
    /// New posts stored.
    pub imported: u64,
    /// Edits, deletions, hides and likes that changed a stored post.
    pub updated: u64,
    /// Items already stored: nothing changed.
    pub duplicates: u64,
    /// Items that carry nothing Townhall stores, by reason.
    pub skipped: u64,
    /// Records that could not be read; each is in the quarantine file.
    pub rejected: u64,
    /// The quarantine file, when a record was rejected.
    pub quarantine: Option<PathBuf>,
    /// Why items were skipped, with how many each.
    pub skipped_reasons: BTreeMap<String, u64>,
    /// Posts analysed (language, sentiment, intent, topics, …) and stored with their
    /// analysis, so they are searchable and filterable by their tags when the
    /// command returns.
    pub analysed: u64,
}

impl std::fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "read {} records: {} new posts, {} updates, {} duplicates, {} skipped, {} rejected; {} posts analysed",
            self.read, self.imported, self.updated, self.duplicates, self.skipped, self.rejected, self.analysed
        )?;
        if let Some(path) = &self.quarantine {
            write!(f, " (see {})", path.display())?;
        }
        for (reason, count) in &self.skipped_reasons {
            write!(f, "\n  skipped {count}: {reason}")?;
        }
        Ok(())
    }
}

/// One file, checked before anything is imported.
#[derive(Debug)]
struct Input {
    path: PathBuf,
    layout: Layout,
    size: u64,
}

/// What the reading thread sends: parsed events and the records that failed.
#[derive(Debug, Default)]
struct Batch {
    events: Vec<PlatformEvent>,
    rejects: Vec<Reject>,
    skipped: Vec<String>,
    records: u64,
    bytes: usize,
    position: u64,
}

#[derive(Debug)]
struct Reject {
    file: PathBuf,
    line: u64,
    offset: u64,
    error: ParseError,
    raw: Vec<u8>,
}

/// Imports every file of `request` into `db`, each post stored with its analysis, so
/// every post imported is tagged and searchable by its tags when it returns: one
/// thread reads and parses, `worker` analyses, and the store writes, each on its own
/// batch at the same time. Analysis jobs already queued are left to `serve`, which
/// files what they tag into the inbox.
pub async fn run_and_analyse(db: &Db, request: &ImportRequest, worker: &mut Worker) -> anyhow::Result<ImportSummary> {
    let inputs = check_inputs(request)?;
    let total: u64 = inputs.iter().map(|i| i.size).sum();
    let bar = progress_bar(total);
    let accounts = crate::attribute::Accounts::load(db).await?;

    let (tx, mut rx) = mpsc::channel::<Batch>(4);
    let format = request.format;
    let reader = tokio::task::spawn_blocking(move || read_all(&inputs, format, &tx));

    // One batch waits analysed while the one before it is written.
    let (analysed_tx, mut analysed_rx) = mpsc::channel::<(Batch, Vec<Option<Analysis>>)>(1);
    let analysing = async move {
        while let Some(mut batch) = rx.recv().await {
            accounts.attribute(&mut batch.events, None);
            let (events, analyses) = worker.analyse_events(db, std::mem::take(&mut batch.events)).await?;
            batch.events = events;
            if analysed_tx.send((batch, analyses)).await.is_err() {
                break;
            }
        }
        Ok::<_, anyhow::Error>(())
    };
    let mut summary = ImportSummary::default();
    let mut quarantine = Quarantine::new(request.quarantine.clone());
    let storing = async {
        let mut done_before = 0u64;
        while let Some((batch, analyses)) = analysed_rx.recv().await {
            let analysed: Vec<bool> = analyses.iter().map(Option::is_some).collect();
            let outcomes = db.apply_analysed_events(&batch.events, analyses).await.context("storing a batch")?;
            // A post stored and edited in one batch is one post analysed.
            let mut tagged = HashSet::new();
            for (outcome, analysed) in outcomes.into_iter().zip(analysed) {
                if let EventOutcome::Post(
                    IngestOutcome::Inserted(id) | IngestOutcome::Edited(id, _) | IngestOutcome::FilledTombstone(id),
                ) = outcome
                    && analysed
                {
                    tagged.insert(id);
                }
                count(&mut summary, outcome);
            }
            summary.analysed += tagged.len() as u64;
            for reason in batch.skipped {
                summary.skipped += 1;
                *summary.skipped_reasons.entry(reason).or_default() += 1;
            }
            for reject in &batch.rejects {
                quarantine.write(reject)?;
            }
            summary.rejected += batch.rejects.len() as u64;
            summary.read += batch.records;
            if batch.position < done_before {
                done_before = 0;
            }
            bar.inc(batch.position - done_before);
            done_before = batch.position;
            let seconds = bar.elapsed().as_secs_f64().max(0.001);
            bar.set_message(format!("{} records, {:.0}/s", summary.read, summary.read as f64 / seconds));
        }
        Ok::<_, anyhow::Error>(())
    };
    tokio::try_join!(analysing, storing)?;
    reader.await.context("the reading thread stopped")??;
    bar.finish_and_clear();
    summary.quarantine = quarantine.finish()?;
    Ok(summary)
}

/// Every file must exist and have a known layout before anything is stored.
fn check_inputs(request: &ImportRequest) -> Result<Vec<Input>, Unusable> {
    if request.paths.is_empty() {
        return Err(Unusable("no file to import".into()));
    }
    let mut inputs = Vec::new();
    for path in &request.paths {
        let mut file = File::open(path).map_err(|e| Unusable(format!("{}: {e}", path.display())))?;
        let metadata = file.metadata().map_err(|e| Unusable(format!("{}: {e}", path.display())))?;
        if metadata.is_dir() {
            return Err(Unusable(format!("{}: is a directory", path.display())));
        }
        let size = metadata.len();
        let mut head = vec![0; 4096];
        let n = read_head(&mut file, &mut head).map_err(|e| Unusable(format!("{}: {e}", path.display())))?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let layout = detect::layout(request.format, &name, &head[..n]).map_err(|e| Unusable(e.message))?;
        if layout == Layout::Csv {
            // A CSV file without the needed columns is refused before anything is stored.
            let mut framer = Framer::new(&head[..n], Layout::Csv);
            if let Ok(Some(Ok(header))) = framer.next_record()
                && (n < head.len() || header.bytes.len() + 1 < n)
            {
                parse_csv_header(&header.bytes).map_err(|e| Unusable(format!("{}: {}", path.display(), e.message)))?;
            }
        }
        inputs.push(Input { path: path.clone(), layout, size });
    }
    Ok(inputs)
}

fn read_head(file: &mut File, head: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn progress_bar(total: u64) -> ProgressBar {
    // indicatif draws only when standard error is a terminal: piped runs stay clean.
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{elapsed_precise} {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}) {msg} ETA {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// The reading thread: frames and parses every file, sending full batches.
fn read_all(inputs: &[Input], format: Format, tx: &mpsc::Sender<Batch>) -> anyhow::Result<()> {
    for input in inputs {
        let file = File::open(&input.path).with_context(|| format!("opening {}", input.path.display()))?;
        let mut framer = Framer::new(file, input.layout);
        let mut csv_header: Option<csv::StringRecord> = None;
        let mut batch = Batch::default();
        loop {
            let framed = framer.next_record().with_context(|| format!("reading {}", input.path.display()))?;
            let Some(framed) = framed else { break };
            batch.records += 1;
            batch.bytes += framed.as_ref().map_or_else(|bad| bad.bytes.len(), |record| record.bytes.len());
            match framed {
                Err(BadRecord { bytes, line, offset, error }) => {
                    batch.rejects.push(Reject { file: input.path.clone(), line, offset, error, raw: bytes });
                }
                Ok(record) => {
                    if input.layout == Layout::Csv && csv_header.is_none() {
                        // The header row is not a record.
                        batch.records -= 1;
                        let header = parse_csv_header(&record.bytes)
                            .map_err(|e| Unusable(format!("{}: {}", input.path.display(), e.message)))?;
                        csv_header = Some(header);
                        continue;
                    }
                    match parse(input.layout, format, csv_header.as_ref(), &record) {
                        Ok(items) => {
                            for item in items {
                                match item {
                                    Item::Event(event) => batch.events.push(event),
                                    Item::Skipped(reason) => batch.skipped.push(reason),
                                }
                            }
                        }
                        Err(error) => batch.rejects.push(Reject {
                            file: input.path.clone(),
                            line: record.line,
                            offset: record.offset,
                            error,
                            raw: record.bytes,
                        }),
                    }
                }
            }
            if batch.events.len() + batch.rejects.len() + batch.skipped.len() >= BATCH || batch.bytes >= BATCH_BYTES {
                batch.position = framer.position();
                let full = std::mem::take(&mut batch);
                if tx.blocking_send(full).is_err() {
                    return Ok(());
                }
            }
        }
        batch.position = framer.position();
        if tx.blocking_send(batch).is_err() {
            return Ok(());
        }
    }
    Ok(())
}

fn parse_csv_header(bytes: &[u8]) -> Result<csv::StringRecord, ParseError> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(bytes);
    let header = match reader.records().next() {
        Some(Ok(header)) => header,
        _ => return Err(ParseError::shape("the first row is not a CSV header")),
    };
    generic::check_csv_header(&header)?;
    Ok(header)
}

fn parse(
    layout: Layout,
    format: Format,
    csv_header: Option<&csv::StringRecord>,
    record: &Record,
) -> Result<Vec<Item>, ParseError> {
    match layout {
        Layout::Json => townhall_connectors::parse_json_record(format, &record.bytes),
        Layout::XArchive => townhall_connectors::x::parse_archive(&record.bytes),
        Layout::Email => townhall_connectors::email::parse(&record.bytes),
        Layout::Csv => match csv_header {
            Some(header) => generic::parse_csv_row(header, &record.bytes),
            None => Err(ParseError::shape("CSV row before its header")),
        },
    }
}

fn count(summary: &mut ImportSummary, outcome: EventOutcome) {
    let (counter, skipped) = match outcome {
        EventOutcome::Post(IngestOutcome::Inserted(_) | IngestOutcome::FilledTombstone(_)) => {
            (&mut summary.imported, None)
        }
        EventOutcome::Post(IngestOutcome::Edited(..))
        | EventOutcome::Deleted(_, true)
        | EventOutcome::Hidden(Some(_), true)
        | EventOutcome::Engaged(Some(_), true) => (&mut summary.updated, None),
        EventOutcome::Post(IngestOutcome::Duplicate(_))
        | EventOutcome::Deleted(_, false)
        | EventOutcome::Hidden(Some(_), false)
        | EventOutcome::Engaged(Some(_), false) => (&mut summary.duplicates, None),
        EventOutcome::Hidden(None, _) => {
            (&mut summary.skipped, Some("hide or unhide of a post Townhall does not hold"))
        }
        EventOutcome::Engaged(None, _) => {
            (&mut summary.skipped, Some("like or repost of a post Townhall does not hold"))
        }
    };
    *counter += 1;
    if let Some(reason) = skipped {
        *summary.skipped_reasons.entry(reason.to_owned()).or_default() += 1;
    }
}

/// The quarantine file: one JSON object a line, opened at the first reject.
#[derive(Debug)]
struct Quarantine {
    path: PathBuf,
    out: Option<BufWriter<File>>,
}

impl Quarantine {
    fn new(path: PathBuf) -> Quarantine {
        Quarantine { path, out: None }
    }

    fn write(&mut self, reject: &Reject) -> anyhow::Result<()> {
        let out = match &mut self.out {
            Some(out) => out,
            None => {
                let file = File::options()
                    .create(true)
                    .append(true)
                    .open(&self.path)
                    .with_context(|| format!("opening the quarantine file {}", self.path.display()))?;
                self.out.insert(BufWriter::new(file))
            }
        };
        let (raw, raw_base64) = crate::export::raw_fields(&reject.raw);
        let line = json!({
            "file": reject.file, "line": reject.line, "offset": reject.offset,
            "code": reject.error.code, "reason": reject.error.message,
            "raw": raw, "raw_base64": raw_base64,
        });
        serde_json::to_writer(&mut *out, &line)?;
        out.write_all(b"\n")?;
        Ok(())
    }

    fn finish(self) -> anyhow::Result<Option<PathBuf>> {
        match self.out {
            None => Ok(None),
            Some(mut out) => {
                out.flush().with_context(|| format!("writing {}", self.path.display()))?;
                out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
                Ok(Some(self.path))
            }
        }
    }
}

/// The default quarantine file for a run starting now.
pub fn default_quarantine_path(now: chrono::DateTime<chrono::Utc>) -> PathBuf {
    Path::new(&format!("townhall-quarantine-{}.ndjson", now.format("%Y%m%dT%H%M%SZ"))).to_path_buf()
}
