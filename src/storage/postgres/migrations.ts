/**
 * PostgreSQL schema migrations, applied in order under an advisory lock; each runs once, in its own transaction,
 * recorded in schema_migrations. Never edit a released migration: add a new one.
 *
 * Portability (CockroachDB, YugabyteDB): plain types only (text, bigint, boolean, bytea), no extensions, no
 * triggers, no sequences. Timestamps are bigint milliseconds since the epoch, as in the SQLite store. Columns that
 * are paged over (`key_id`, `alias_name`) use the "C" collation, so the order is bytewise whatever the database's
 * locale (the same order as SQLite).
 */
/** The text columns of migrations 1–10 that can hold a string from a client (migration 11 encodes their U+0001). */
const TEXT_COLUMNS: Readonly<Record<string, readonly string[]>> = {
  keys: ['account', 'region', 'key_id', 'arn', 'description', 'key_usage', 'key_spec', 'origin', 'key_manager', 'key_state',
    'current_material_id', 'policy', 'custom_key_store_id', 'xks_key_id'],
  key_materials: ['key_arn', 'material_id', 'rotation_type', 'expiration_model', 'description'],
  aliases: ['account', 'region', 'alias_name', 'target_key_id'],
  tags: ['key_arn', 'tag_key', 'tag_value'],
  access_keys: ['access_key_id', 'account', 'principal_arn'],
  settings: ['name', 'value'],
  grants: ['key_arn', 'grant_id', 'account', 'region', 'name', 'grantee_principal', 'retiring_principal', 'issuing_account', 'operations', 'constraints'],
  custom_key_stores: ['account', 'region', 'custom_key_store_id', 'name', 'store_type', 'cloud_hsm_cluster_id', 'trust_anchor_certificate',
    'connection_state', 'connection_error_code', 'xks_config'],
  principals: ['account', 'kind', 'name_key', 'name', 'path', 'arn'],
  identity_policies: ['principal_arn', 'policy_name', 'document'],
};

export const POSTGRES_MIGRATIONS: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE keys (
        account text NOT NULL, region text NOT NULL, key_id text COLLATE "C" NOT NULL, arn text NOT NULL UNIQUE,
        creation_date bigint NOT NULL, description text NOT NULL, key_usage text NOT NULL, key_spec text NOT NULL,
        origin text NOT NULL, key_manager text NOT NULL, key_state text NOT NULL, deletion_date bigint,
        current_material_id text, multi_region boolean NOT NULL, policy text NOT NULL, version bigint NOT NULL,
        PRIMARY KEY (account, region, key_id)
      );
      CREATE INDEX keys_due_for_deletion ON keys (key_state, deletion_date);
      CREATE TABLE key_materials (
        key_arn text NOT NULL, material_id text NOT NULL, wrapped bytea NOT NULL, created_at bigint NOT NULL,
        PRIMARY KEY (key_arn, material_id)
      );
      CREATE TABLE aliases (
        account text NOT NULL, region text NOT NULL, alias_name text COLLATE "C" NOT NULL, target_key_id text NOT NULL,
        creation_date bigint NOT NULL, last_updated_date bigint NOT NULL,
        PRIMARY KEY (account, region, alias_name)
      );
      CREATE INDEX aliases_by_target ON aliases (account, region, target_key_id);
      CREATE TABLE tags (
        key_arn text NOT NULL, tag_key text COLLATE "C" NOT NULL, tag_value text NOT NULL,
        PRIMARY KEY (key_arn, tag_key)
      );
      CREATE TABLE access_keys (
        access_key_id text PRIMARY KEY, account text NOT NULL, principal_arn text NOT NULL,
        secret_wrapped bytea NOT NULL, created_at bigint NOT NULL
      );
      CREATE TABLE settings (name text PRIMARY KEY, value text NOT NULL);
    `,
  },
  {
    // One row per scheduled job: the node that runs it until expires_at (database clock, ms); see postgres-coordination.ts.
    version: 2,
    sql: `CREATE TABLE scheduler_leases (job text PRIMARY KEY, holder text NOT NULL, expires_at bigint NOT NULL);`,
  },
  {
    // Rotation (issue #5): automatic rotation settings and the on-demand count per key; how each material came to be.
    version: 3,
    sql: `
      ALTER TABLE keys ADD COLUMN rotation_period_days integer;
      ALTER TABLE keys ADD COLUMN next_rotation_date bigint;
      ALTER TABLE keys ADD COLUMN on_demand_rotations integer NOT NULL DEFAULT 0;
      CREATE INDEX keys_due_for_rotation ON keys (key_state, next_rotation_date);
      ALTER TABLE key_materials ADD COLUMN rotation_type text;
    `,
  },
  {
    // Import (issue #5): expiry and description of imported material; material imported for a later on-demand rotation.
    version: 4,
    sql: `
      ALTER TABLE key_materials ADD COLUMN expiration_model text;
      ALTER TABLE key_materials ADD COLUMN valid_to bigint;
      ALTER TABLE key_materials ADD COLUMN description text;
      ALTER TABLE key_materials ADD COLUMN pending_rotation boolean NOT NULL DEFAULT false;
      CREATE INDEX key_materials_due_for_expiry ON key_materials (valid_to) WHERE valid_to IS NOT NULL;
    `,
  },
  {
    // Grants (issue #6): one row per grant; operations and constraints as JSON text. (SQLite: migration 4.)
    version: 5,
    sql: `
      CREATE TABLE grants (
        key_arn text COLLATE "C" NOT NULL, grant_id text COLLATE "C" NOT NULL, account text NOT NULL, region text NOT NULL, name text,
        grantee_principal text NOT NULL, retiring_principal text, issuing_account text NOT NULL,
        operations text NOT NULL, constraints text, creation_date bigint NOT NULL,
        PRIMARY KEY (key_arn, grant_id)
      );
      CREATE INDEX grants_by_grantee ON grants (key_arn, grantee_principal);
      CREATE INDEX grants_by_retiring_principal ON grants (retiring_principal, region, key_arn, grant_id) WHERE retiring_principal IS NOT NULL;
    `,
  },
  {
    // Audit trail (issue #6): append-only events, hash-chained (domain/audit-chain.ts). Appends lock the one head row
    // (SELECT ... FOR UPDATE), so the nodes sharing the database extend one linear chain.
    version: 6,
    sql: `
      CREATE TABLE audit_events (
        seq bigint PRIMARY KEY, event_id text NOT NULL UNIQUE, event_time bigint NOT NULL, event_name text NOT NULL,
        account text NOT NULL, resource_account text, key_arn text, principal text, username text,
        read_only boolean NOT NULL, usage text, request_id text NOT NULL, event text NOT NULL,
        prev_hash text NOT NULL, hash text NOT NULL
      );
      CREATE INDEX audit_events_by_time ON audit_events (event_time);
      CREATE INDEX audit_events_by_key ON audit_events (key_arn, seq);
      CREATE TABLE audit_chain_head (
        id integer PRIMARY KEY CHECK (id = 1), seq bigint NOT NULL, hash text NOT NULL, tracking_start bigint NOT NULL
      );
      INSERT INTO audit_chain_head VALUES (1, 0, '${'0'.repeat(64)}', (extract(epoch FROM clock_timestamp()) * 1000)::bigint);
    `,
  },
  {
    // Custom key stores (issue #7): the stores, and which store a key lives in. (The versions before it may belong to other
    // changes; migrations apply by version, so a gap is fine.)
    version: 7,
    sql: `
      CREATE TABLE custom_key_stores (
        account text NOT NULL, region text NOT NULL, custom_key_store_id text COLLATE "C" NOT NULL, name text NOT NULL,
        store_type text NOT NULL, cloud_hsm_cluster_id text, trust_anchor_certificate text, password_wrapped bytea,
        connection_state text NOT NULL, connection_error_code text, creation_date bigint NOT NULL, version bigint NOT NULL,
        PRIMARY KEY (account, region, custom_key_store_id)
      );
      CREATE UNIQUE INDEX custom_key_stores_by_name ON custom_key_stores (account, region, name);
      CREATE UNIQUE INDEX custom_key_stores_by_cluster ON custom_key_stores (account, region, cloud_hsm_cluster_id) WHERE cloud_hsm_cluster_id IS NOT NULL;
      ALTER TABLE keys ADD COLUMN custom_key_store_id text;
      CREATE INDEX keys_by_custom_key_store ON keys (account, region, custom_key_store_id) WHERE custom_key_store_id IS NOT NULL;
    `,
  },
  {
    // External key stores (issue #7): as SQLite's version 9.
    version: 9,
    sql: `
      ALTER TABLE custom_key_stores ADD COLUMN xks_config text;
      ALTER TABLE keys ADD COLUMN xks_key_id text;
      CREATE UNIQUE INDEX keys_by_xks_key ON keys (account, region, custom_key_store_id, xks_key_id) WHERE xks_key_id IS NOT NULL;
    `,
  },
  {
    // Principals (issue #6; SQLite: migration 5; here 10, after the versions other changes took): IAM users and roles, their inline identity policies. name_key is the name lowercased:
    // IAM names are unique per account without regard to case.
    version: 10,
    sql: `
      CREATE TABLE principals (
        account text NOT NULL, kind text NOT NULL, name_key text COLLATE "C" NOT NULL, name text NOT NULL, path text NOT NULL,
        arn text NOT NULL UNIQUE, created_at bigint NOT NULL,
        PRIMARY KEY (account, kind, name_key)
      );
      CREATE TABLE identity_policies (
        principal_arn text COLLATE "C" NOT NULL, policy_name text COLLATE "C" NOT NULL, document text NOT NULL,
        PRIMARY KEY (principal_arn, policy_name)
      );
      CREATE INDEX access_keys_by_principal ON access_keys (principal_arn);
      CREATE INDEX access_keys_by_account ON access_keys (account);
    `,
  },
  {
    // Issue #12. write_locks: one row per limit (aliases of a key, tags of a key, grants of a key, custom key stores of
    // a scope) that writers lock before they count and insert, in READ COMMITTED (postgres-storage.ts), instead of
    // SERIALIZABLE transactions that aborted each other. Then text-codec.ts: strings are stored with U+0000 as U+0001 '0'
    // and U+0001 as U+0001 '1'; a U+0001 already stored becomes U+0001 '1'. (The audit tables hold only strings Trent
    // makes and JSON, which escapes both characters.)
    version: 11,
    sql: `
      CREATE TABLE write_locks (name text COLLATE "C" PRIMARY KEY);
      ${Object.entries(TEXT_COLUMNS).flatMap(([table, columns]) => columns.map((c) =>
        `UPDATE ${table} SET ${c} = replace(${c}, E'\\x01', E'\\x011') WHERE strpos(${c}, E'\\x01') > 0;`)).join('\n      ')}
    `,
  },
  {
    // Multi-Region keys (issue #13): as SQLite's version 20.
    version: 20,
    sql: `
      ALTER TABLE keys ADD COLUMN primary_region text;
      ALTER TABLE keys ADD COLUMN transition_state text;
      ALTER TABLE keys ADD COLUMN transition_date bigint;
      ALTER TABLE keys ADD COLUMN pending_deletion_window_days integer;
      CREATE INDEX keys_related ON keys (account, key_id) WHERE primary_region IS NOT NULL;
      CREATE INDEX keys_in_transition ON keys (transition_date) WHERE transition_date IS NOT NULL;
    `,
  },
];
