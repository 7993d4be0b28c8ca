-- Schema as shipped after m004_tool_approvals. Frozen: never edit; add a file per new migration.
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
CREATE VIRTUAL TABLE item_search USING fts5(text, tokenize = 'unicode61 remove_diacritics 2');
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
CREATE TRIGGER items_search_delete AFTER DELETE ON items
        BEGIN
            DELETE FROM item_search WHERE rowid = OLD.rowid;
        END;
CREATE TRIGGER items_search_insert AFTER INSERT ON items
        WHEN NEW.type IN ('user_message', 'assistant_message')
        BEGIN
            INSERT INTO item_search (rowid, text) VALUES (NEW.rowid, 
    coalesce((SELECT group_concat(json_extract(c.value, '$.text'), ' ')
              FROM json_each(NEW.data, '$.content') AS c), '')
    || ' ' ||
    coalesce((SELECT group_concat(json_extract(a.value, '$.name'), ' ')
              FROM json_each(NEW.data, '$.attachments') AS a), '')
);
        END;
CREATE TRIGGER items_search_update AFTER UPDATE OF data ON items
        BEGIN
            DELETE FROM item_search WHERE rowid = OLD.rowid;
            INSERT INTO item_search (rowid, text)
                SELECT NEW.rowid, 
    coalesce((SELECT group_concat(json_extract(c.value, '$.text'), ' ')
              FROM json_each(NEW.data, '$.content') AS c), '')
    || ' ' ||
    coalesce((SELECT group_concat(json_extract(a.value, '$.name'), ' ')
              FROM json_each(NEW.data, '$.attachments') AS a), '')
 WHERE NEW.type IN ('user_message', 'assistant_message');
        END;
CREATE TABLE pending_runs (
            id TEXT PRIMARY KEY,
            thread_id TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
            state TEXT NOT NULL,
            assistant_id TEXT,
            model TEXT,
            created_at REAL NOT NULL,
            -- 'waiting', then 'resumed' (claimed once) or 'expired'; the state is cleared then.
            status TEXT NOT NULL DEFAULT 'waiting'
        );
CREATE INDEX pending_runs_by_thread ON pending_runs (thread_id);
CREATE TABLE sequence (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);
CREATE TABLE threads (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            seq INTEGER NOT NULL,
            active_seq INTEGER NOT NULL,
            data TEXT NOT NULL
        );
CREATE INDEX threads_by_activity ON threads (active_seq);
CREATE TRIGGER threads_search_delete AFTER DELETE ON threads
        BEGIN
            DELETE FROM title_search WHERE rowid = OLD.rowid;
        END;
CREATE TRIGGER threads_search_insert AFTER INSERT ON threads
        BEGIN
            INSERT INTO title_search (rowid, title)
                VALUES (NEW.rowid, coalesce(json_extract(NEW.data, '$.title'), ''));
        END;
CREATE TRIGGER threads_search_update AFTER UPDATE OF data ON threads
        WHEN json_extract(OLD.data, '$.title') IS NOT json_extract(NEW.data, '$.title')
        BEGIN
            DELETE FROM title_search WHERE rowid = OLD.rowid;
            INSERT INTO title_search (rowid, title)
                VALUES (NEW.rowid, coalesce(json_extract(NEW.data, '$.title'), ''));
        END;
CREATE VIRTUAL TABLE title_search USING fts5(title, tokenize = 'unicode61 remove_diacritics 2');
CREATE TABLE tool_approvals (
            card_id TEXT PRIMARY KEY,
            run_id TEXT NOT NULL REFERENCES pending_runs (id) ON DELETE CASCADE,
            call_id TEXT NOT NULL,
            tool_key TEXT NOT NULL,
            decision TEXT,
            decided_at REAL
        );
CREATE INDEX tool_approvals_by_run ON tool_approvals (run_id);
INSERT INTO _migrations (name, applied_at) VALUES ('m001_initial', '2026-11-22T00:00:00+00:00'), ('m002_assistants', '2026-11-23T00:00:00+00:00'), ('m003_search_index', '2026-11-23T00:00:00+00:00'), ('m004_tool_approvals', '2026-11-24T00:00:00+00:00');
INSERT INTO assistants (id, name, instructions, model, tools, builtin, created_at, updated_at) VALUES ('default', 'Assistant', NULL, NULL, '["search_chats", "current_time", "mcp:*"]', 1, 1795000000, 1795000000);
INSERT INTO sequence (id, value) VALUES (1, 2);
INSERT INTO threads (id, created_at, seq, active_seq, data) VALUES ('thr_old', '2026-11-20T10:00:00', 1, 2,
  '{"title":"From version 0.1","id":"thr_old","created_at":"2026-11-20T10:00:00","status":{"type":"active"},"allowed_image_domains":null,"metadata":{}}');
INSERT INTO items (thread_id, id, seq, type, created_at, data) VALUES ('thr_old', 'msg_old', 2, 'user_message', '2026-11-20T10:00:01',
  '{"id":"msg_old","thread_id":"thr_old","created_at":"2026-11-20T10:00:01","type":"user_message","content":[{"type":"input_text","text":"Remember me"}],"attachments":[],"quoted_text":null,"inference_options":{"tool_choice":null,"model":null}}');
