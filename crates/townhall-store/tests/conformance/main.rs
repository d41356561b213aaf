#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test
//! The store's conformance suite: every scenario runs on a fresh SQLite database,
//! and on a fresh PostgreSQL database when `TOWNHALL_TEST_POSTGRES_URL` names a
//! server (`postgres://postgres@127.0.0.1:5432/postgres`). Each test creates its own
//! database and drops it afterwards. Under `CI=true` the PostgreSQL half must run.

mod harness;
mod scenarios;

/// Declares each scenario once per backend: `sqlite::name` and `postgres::name`.
macro_rules! conformance {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                crate::harness::on_sqlite(crate::scenarios::$name).await;
            })+
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                crate::harness::on_postgres(crate::scenarios::$name).await;
            })+
        }
    };
}

conformance! {
    migrations_are_idempotent,
    institutions_are_created_listed_and_audited,
    teams_users_and_tokens,
    accounts_belong_to_institutions,
    ingest_is_idempotent_and_keeps_raw_bytes,
    edits_become_versions,
    deletions_become_tombstones,
    a_batch_is_stored_whole,
    concurrent_ingest_of_one_post_stores_it_once,
    search_matches_words_phrases_and_filters,
    search_ranks_the_newest_matches,
    cases_are_scoped_and_transitions_audited,
    metric_snapshots_form_series,
    jobs_are_claimed_once_retried_and_buried,
    concurrent_workers_never_share_a_job,
    audit_log_pages_streams_and_refuses_edits,
    posts_stream_in_order_with_raw_payloads,
    entities_are_kept_with_each_version,
    platform_events_apply_idempotently_in_one_batch,
    a_large_mixed_batch_is_stored_as_one_by_one_would,
    a_failing_event_batch_stores_nothing,
    cursors_are_saved_and_replaced,
    unreadable_records_are_quarantined_byte_for_byte,
    any_text_and_payload_survive_storage,
    enrichments_are_stored_filtered_and_kept_current,
    posts_analysed_before_storing_are_stored_with_their_analysis,
    referrals_notes_merges_and_the_inbox_listing,
    cases_and_replies_are_written_in_batches,
    the_dashboard_counts_what_arrived_and_what_waits,
    the_outbox_and_inbox_configuration,
    public_responsiveness_and_weekly_counts,
    public_case_links,
}
