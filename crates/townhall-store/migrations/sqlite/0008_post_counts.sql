-- Post counts, SQLite flavour. Keep in step with ../postgres/0008_post_counts.sql.
-- The overview counts every post by account, platform and deletion: from this index
-- alone instead of the table, whose rows carry each post's raw payload (at ten million
-- posts the table scan took 35 s, and the overview's first reader waited for it).
CREATE INDEX posts_counted ON posts (account_id, platform, deleted_at);
