/** Schema migrations, applied in order; each runs once, inside a transaction, recorded in schema_migrations. */
export const SQLITE_MIGRATIONS: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE keys (
        account TEXT NOT NULL, region TEXT NOT NULL, key_id TEXT NOT NULL, arn TEXT NOT NULL UNIQUE,
        creation_date INTEGER NOT NULL, description TEXT NOT NULL, key_usage TEXT NOT NULL, key_spec TEXT NOT NULL,
        origin TEXT NOT NULL, key_manager TEXT NOT NULL, key_state TEXT NOT NULL, deletion_date INTEGER,
        current_material_id TEXT, multi_region INTEGER NOT NULL, policy TEXT NOT NULL, version INTEGER NOT NULL,
        PRIMARY KEY (account, region, key_id)
      ) WITHOUT ROWID;
      CREATE INDEX keys_due_for_deletion ON keys (key_state, deletion_date);
      CREATE TABLE key_materials (
        key_arn TEXT NOT NULL, material_id TEXT NOT NULL, wrapped BLOB NOT NULL, created_at INTEGER NOT NULL,
        PRIMARY KEY (key_arn, material_id)
      ) WITHOUT ROWID;
      CREATE TABLE aliases (
        account TEXT NOT NULL, region TEXT NOT NULL, alias_name TEXT NOT NULL, target_key_id TEXT NOT NULL,
        creation_date INTEGER NOT NULL, last_updated_date INTEGER NOT NULL,
        PRIMARY KEY (account, region, alias_name)
      ) WITHOUT ROWID;
      CREATE INDEX aliases_by_target ON aliases (account, region, target_key_id);
      CREATE TABLE tags (
        key_arn TEXT NOT NULL, tag_key TEXT NOT NULL, tag_value TEXT NOT NULL,
        PRIMARY KEY (key_arn, tag_key)
      ) WITHOUT ROWID;
      CREATE TABLE access_keys (
        access_key_id TEXT PRIMARY KEY, account TEXT NOT NULL, principal_arn TEXT NOT NULL,
        secret_wrapped BLOB NOT NULL, created_at INTEGER NOT NULL
      );
      CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
    `,
  },
  {
    // Rotation (issue #5): automatic rotation settings and the on-demand count per key; how each material came to be.
    version: 2,
    sql: `
      ALTER TABLE keys ADD COLUMN rotation_period_days INTEGER;
      ALTER TABLE keys ADD COLUMN next_rotation_date INTEGER;
      ALTER TABLE keys ADD COLUMN on_demand_rotations INTEGER NOT NULL DEFAULT 0;
      CREATE INDEX keys_due_for_rotation ON keys (key_state, next_rotation_date);
      ALTER TABLE key_materials ADD COLUMN rotation_type TEXT;
    `,
  },
  {
    // Import (issue #5): expiry and description of imported material; material imported for a later on-demand rotation.
    version: 3,
    sql: `
      ALTER TABLE key_materials ADD COLUMN expiration_model TEXT;
      ALTER TABLE key_materials ADD COLUMN valid_to INTEGER;
      ALTER TABLE key_materials ADD COLUMN description TEXT;
      ALTER TABLE key_materials ADD COLUMN pending_rotation INTEGER NOT NULL DEFAULT 0;
      CREATE INDEX key_materials_due_for_expiry ON key_materials (valid_to) WHERE valid_to IS NOT NULL;
    `,
  },
  {
    // Grants (issue #6): one row per grant; operations and constraints as JSON text.
    version: 4,
    sql: `
      CREATE TABLE grants (
        key_arn TEXT NOT NULL, grant_id TEXT NOT NULL, account TEXT NOT NULL, region TEXT NOT NULL, name TEXT,
        grantee_principal TEXT NOT NULL, retiring_principal TEXT, issuing_account TEXT NOT NULL,
        operations TEXT NOT NULL, constraints TEXT, creation_date INTEGER NOT NULL,
        PRIMARY KEY (key_arn, grant_id)
      ) WITHOUT ROWID;
      CREATE INDEX grants_by_grantee ON grants (key_arn, grantee_principal);
      CREATE INDEX grants_by_retiring_principal ON grants (retiring_principal, region, key_arn, grant_id) WHERE retiring_principal IS NOT NULL;
    `,
  },
  {
    // Principals (issue #6): IAM users and roles, their inline identity policies.
    // name_key is the name lowercased: IAM names are unique per account without regard to case.
    version: 5,
    sql: `
      CREATE TABLE principals (
        account TEXT NOT NULL, kind TEXT NOT NULL, name_key TEXT NOT NULL, name TEXT NOT NULL, path TEXT NOT NULL,
        arn TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL,
        PRIMARY KEY (account, kind, name_key)
      ) WITHOUT ROWID;
      CREATE TABLE identity_policies (
        principal_arn TEXT NOT NULL, policy_name TEXT NOT NULL, document TEXT NOT NULL,
        PRIMARY KEY (principal_arn, policy_name)
      ) WITHOUT ROWID;
      CREATE INDEX access_keys_by_principal ON access_keys (principal_arn);
      CREATE INDEX access_keys_by_account ON access_keys (account);
    `,
  },
  {
    // Audit trail (issue #6): append-only events, hash-chained (domain/audit-chain.ts); the head row holds the last link.
    version: 6,
    sql: `
      CREATE TABLE audit_events (
        seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, event_time INTEGER NOT NULL, event_name TEXT NOT NULL,
        account TEXT NOT NULL, resource_account TEXT, key_arn TEXT, principal TEXT, username TEXT,
        read_only INTEGER NOT NULL, usage TEXT, request_id TEXT NOT NULL, event TEXT NOT NULL,
        prev_hash TEXT NOT NULL, hash TEXT NOT NULL
      );
      CREATE INDEX audit_events_by_time ON audit_events (event_time);
      CREATE INDEX audit_events_by_key ON audit_events (key_arn, seq);
      CREATE TABLE audit_chain_head (
        id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL, tracking_start INTEGER NOT NULL
      );
      INSERT INTO audit_chain_head VALUES (1, 0, '${'0'.repeat(64)}', CAST(unixepoch('subsec') * 1000 AS INTEGER));
    `,
  },
  {
    // Custom key stores (issue #7): the stores, and which store a key lives in. (The versions before it may belong to other
    // changes; migrations apply by version, so a gap is fine.)
    version: 7,
    sql: `
      CREATE TABLE custom_key_stores (
        account TEXT NOT NULL, region TEXT NOT NULL, custom_key_store_id TEXT NOT NULL, name TEXT NOT NULL,
        store_type TEXT NOT NULL, cloud_hsm_cluster_id TEXT, trust_anchor_certificate TEXT, password_wrapped BLOB,
        connection_state TEXT NOT NULL, connection_error_code TEXT, creation_date INTEGER NOT NULL, version INTEGER NOT NULL,
        PRIMARY KEY (account, region, custom_key_store_id)
      ) WITHOUT ROWID;
      CREATE UNIQUE INDEX custom_key_stores_by_name ON custom_key_stores (account, region, name);
      CREATE UNIQUE INDEX custom_key_stores_by_cluster ON custom_key_stores (account, region, cloud_hsm_cluster_id) WHERE cloud_hsm_cluster_id IS NOT NULL;
      ALTER TABLE keys ADD COLUMN custom_key_store_id TEXT;
      CREATE INDEX keys_by_custom_key_store ON keys (account, region, custom_key_store_id) WHERE custom_key_store_id IS NOT NULL;
    `,
  },
  {
    // External key stores (issue #7): the proxy settings of an EXTERNAL_KEY_STORE (JSON, the secret wrapped), and the
    // external key of a key in one (one KMS key per external key and store: XksKeyAlreadyInUseException).
    version: 9,
    sql: `
      ALTER TABLE custom_key_stores ADD COLUMN xks_config TEXT;
      ALTER TABLE keys ADD COLUMN xks_key_id TEXT;
      CREATE UNIQUE INDEX keys_by_xks_key ON keys (account, region, custom_key_store_id, xks_key_id) WHERE xks_key_id IS NOT NULL;
    `,
  },
  {
    // Multi-Region keys (issue #13): the Region of the current primary on every related key (found by account and key
    // id), the transition of a transient state (Creating, Updating) or of PendingReplicaDeletion, and the waiting period
    // a primary pending replica deletion starts once its last replica is gone. Version 20: room for other changes.
    version: 20,
    sql: `
      ALTER TABLE keys ADD COLUMN primary_region TEXT;
      ALTER TABLE keys ADD COLUMN transition_state TEXT;
      ALTER TABLE keys ADD COLUMN transition_date INTEGER;
      ALTER TABLE keys ADD COLUMN pending_deletion_window_days INTEGER;
      CREATE INDEX keys_related ON keys (account, key_id) WHERE primary_region IS NOT NULL;
      CREATE INDEX keys_in_transition ON keys (transition_date) WHERE transition_date IS NOT NULL;
    `,
  },
];
