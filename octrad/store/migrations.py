"""Versioned schema migrations, applied in order at start.

Append a new entry to :data:`MIGRATIONS` to change the schema; never edit one
that has shipped.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: the tables of DESIGN.md section 5
    """
    CREATE TABLE projects (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        path TEXT NOT NULL,
        stack TEXT,
        meta TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE tasks (
        id TEXT PRIMARY KEY,
        project_id TEXT NOT NULL REFERENCES projects(id),
        description TEXT NOT NULL,
        status TEXT NOT NULL,
        provider TEXT,
        model TEXT,
        stack TEXT,
        issue_url TEXT,
        meta TEXT NOT NULL DEFAULT '{}',
        plan TEXT,
        error TEXT,
        store_path TEXT,
        repo_url TEXT,
        pull_request_url TEXT,
        github_repo TEXT,
        github_issue INTEGER,
        github_branch TEXT,
        github_fork TEXT,
        github_pr INTEGER,
        github TEXT,
        questions TEXT NOT NULL DEFAULT '[]',
        notes TEXT NOT NULL DEFAULT '[]',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX tasks_project ON tasks(project_id, created_at);
    CREATE INDEX tasks_status ON tasks(status);
    CREATE INDEX tasks_issue ON tasks(issue_url, created_at);
    CREATE TABLE agents (
        id TEXT PRIMARY KEY,
        task_id TEXT NOT NULL REFERENCES tasks(id),
        parent_id TEXT,
        kind TEXT NOT NULL CHECK (kind IN ('boss', 'manager', 'worker')),
        role TEXT NOT NULL,
        status TEXT NOT NULL,
        calls INTEGER NOT NULL DEFAULT 0,
        tokens_in INTEGER NOT NULL DEFAULT 0,
        tokens_out INTEGER NOT NULL DEFAULT 0,
        cost_usd REAL NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX agents_task ON agents(task_id);
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        ts REAL NOT NULL,
        task_id TEXT,
        agent_id TEXT,
        kind TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX events_task ON events(task_id, seq);
    CREATE TABLE steps (
        task_id TEXT NOT NULL REFERENCES tasks(id),
        step TEXT NOT NULL,
        result TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (task_id, step)
    );
    CREATE TABLE llm_calls (
        id INTEGER PRIMARY KEY,
        task_id TEXT,
        agent_id TEXT,
        role TEXT,
        step TEXT,
        attempt INTEGER NOT NULL DEFAULT 1,
        provider TEXT NOT NULL,
        model TEXT,
        request TEXT NOT NULL,
        response TEXT,
        tokens_in INTEGER NOT NULL DEFAULT 0,
        tokens_out INTEGER NOT NULL DEFAULT 0,
        cost_usd REAL NOT NULL DEFAULT 0,
        latency_ms REAL NOT NULL DEFAULT 0,
        error TEXT,
        created_at REAL NOT NULL
    );
    CREATE INDEX llm_calls_task ON llm_calls(task_id, step, attempt);
    CREATE TABLE context_entries (
        id INTEGER PRIMARY KEY,
        project_id TEXT NOT NULL,
        scope TEXT NOT NULL CHECK (scope IN ('global', 'team', 'individual')),
        type TEXT NOT NULL,
        source_agent TEXT,
        target TEXT,
        content TEXT NOT NULL,
        important INTEGER NOT NULL DEFAULT 0,
        forgotten INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL
    );
    CREATE INDEX context_project ON context_entries(project_id, forgotten, created_at);
    CREATE TABLE snapshots (
        id INTEGER PRIMARY KEY,
        project_id TEXT NOT NULL,
        task_id TEXT NOT NULL,
        store_path TEXT NOT NULL,
        gcroot TEXT,
        files INTEGER NOT NULL DEFAULT 0,
        bytes INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL
    );
    CREATE INDEX snapshots_project ON snapshots(project_id, created_at);
    CREATE INDEX snapshots_task ON snapshots(task_id);
    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE credentials (
        name TEXT PRIMARY KEY,
        secret TEXT NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE providers (
        name TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        base_url TEXT,
        model TEXT,
        api_key TEXT,
        extra TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    """,
    # 2: cached prompt tokens per call (read from / written to the provider's prompt cache), priced on their own
    """
    ALTER TABLE llm_calls ADD COLUMN tokens_cached INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE llm_calls ADD COLUMN tokens_cache_write INTEGER NOT NULL DEFAULT 0;
    """,
    # 3: how the task's commands ran: "bwrap" or "none" (Task.sandbox)
    """
    ALTER TABLE tasks ADD COLUMN sandbox TEXT;
    """,
    # 4: the structured-output mode a provider's server was found to accept, per model
    """
    CREATE TABLE structured_modes (
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        mode TEXT NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (provider, model)
    );
    """,
]
