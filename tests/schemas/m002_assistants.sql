-- Schema as shipped after m002_assistants. Frozen: never edit; add a file per new migration.
CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL);
CREATE TABLE assistants (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            instructions TEXT,
            model TEXT,
            tools TEXT NOT NULL DEFAULT '[]',
            builtin INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
CREATE TABLE attachments (
            id TEXT PRIMARY KEY,
            thread_id TEXT,
            mime_type TEXT NOT NULL,
            declared_size INTEGER NOT NULL,
            stored_size INTEGER,
            created_at REAL NOT NULL,
            data TEXT NOT NULL
        );
CREATE INDEX attachments_by_thread ON attachments (thread_id);
CREATE TABLE feedback (
            thread_id TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
            item_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (thread_id, item_id)
        );
CREATE TABLE items (
            thread_id TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
            id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            type TEXT NOT NULL,
            created_at TEXT NOT NULL,
            data TEXT NOT NULL,
            PRIMARY KEY (thread_id, id)
        );
CREATE UNIQUE INDEX items_by_thread_seq ON items (thread_id, seq);
CREATE TABLE sequence (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);
CREATE TABLE threads (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            seq INTEGER NOT NULL,
            active_seq INTEGER NOT NULL,
            data TEXT NOT NULL
        );
CREATE INDEX threads_by_activity ON threads (active_seq);
INSERT INTO _migrations (name, applied_at) VALUES ('m001_initial', '2026-11-22T00:00:00+00:00'), ('m002_assistants', '2026-11-23T00:00:00+00:00');
INSERT INTO assistants (id, name, instructions, model, tools, builtin, created_at, updated_at) VALUES ('default', 'Assistant', NULL, NULL, '["search_chats", "current_time"]', 1, 1795000000, 1795000000);
INSERT INTO sequence (id, value) VALUES (1, 2);
INSERT INTO threads (id, created_at, seq, active_seq, data) VALUES ('thr_old', '2026-11-20T10:00:00', 1, 2,
  '{"title":"From version 0.1","id":"thr_old","created_at":"2026-11-20T10:00:00","status":{"type":"active"},"allowed_image_domains":null,"metadata":{}}');
INSERT INTO items (thread_id, id, seq, type, created_at, data) VALUES ('thr_old', 'msg_old', 2, 'user_message', '2026-11-20T10:00:01',
  '{"id":"msg_old","thread_id":"thr_old","created_at":"2026-11-20T10:00:01","type":"user_message","content":[{"type":"input_text","text":"Remember me"}],"attachments":[],"quoted_text":null,"inference_options":{"tool_choice":null,"model":null}}');
