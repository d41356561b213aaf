-- Post counts, PostgreSQL flavour. Keep in step with ../sqlite/0008_post_counts.sql.
-- The overview counts every post by account, platform and deletion: from this index
-- alone (an index-only scan) instead of the table, whose rows carry each post's raw
-- payload.
CREATE INDEX posts_counted ON posts (account_id, platform, deleted_at);
