"""Audit entries carry a MAC; on PostgreSQL a write that bypasses the application is recorded

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-09 10:00:00.000000

Every audit entry gets a `mac` column: HMAC-SHA256 of its hash under the audit key, which lives
outside the database (CUSTODY_AUDIT_KEY_FILE or CUSTODY_AUDIT_KEY). Entries written before
this revision have none; the first signed checkpoint pins which ones (README, "The audit
trail").

On PostgreSQL only, every regulated table (every table but the trail's own and Alembic's) gets
a trigger that records a write made without the application's marker as a "direct database
change" entry in the trail, chained and hashed exactly as the application does (shard 0,
actor `database:<role>`, no MAC: the key is not in the database). The application sets the
marker transaction-locally before it writes, `set_config('custody.actor', <who>, true)`,
which also works behind a transaction-pooling proxy. It is a tripwire, not a lock: whoever
has full rights can set the marker, or disable triggers. SQLite gets no trigger.

A later migration that adds a regulated table attaches the trigger to it with
`attach_tripwire(table)` below (copy the two statements), and one that changes rows of a
regulated table sets the marker first (`SELECT set_config('custody.actor', 'migration', true)`).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

# The tables that are not regulated records: the trail itself and Alembic's bookkeeping.
NOT_REGULATED = ("audit_entries", "audit_chain_heads", "alembic_version")

# Secret columns (password, token and session key hashes) are recorded as changed, never by
# value, as custody.services.core.audit_trail does. The entry is built as
# custody.domain.audit_chain.entry_hash builds it: SHA-256 of the JSON
# list of the hashed fields, as Python's json.dumps(..., ensure_ascii=False) writes it ("[a, b]"
# with ", " between values; to_json(text) escapes a string exactly as Python does: quote,
# backslash and control characters only).
TRIPWIRE_FUNCTION = r"""
CREATE FUNCTION custody_direct_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    marker text := current_setting('custody.actor', true);
    rec jsonb;
    diff jsonb;
    entry_action text;
    entry_record_id text;
    entry_key text;
    entry_actor text;
    entry_reason text;
    entry_changes text;
    stamp text;
    head_seq bigint;
    head_hash text;
    payload text;
    digest text;
BEGIN
    IF marker IS NOT NULL AND marker <> '' THEN
        RETURN NULL;  -- the application's own write: its flush listener audits it
    END IF;
    IF TG_LEVEL = 'STATEMENT' THEN  -- TRUNCATE
        entry_action := 'delete';
        entry_record_id := '*';
        entry_key := '';
        diff := jsonb_build_object('truncated', jsonb_build_array(TG_TABLE_NAME::text, NULL));
    ELSE
        IF TG_OP = 'INSERT' THEN
            entry_action := 'create';
            rec := to_jsonb(NEW);
            SELECT jsonb_object_agg(key, jsonb_build_array(NULL, value)) INTO diff
              FROM jsonb_each(rec);
        ELSIF TG_OP = 'DELETE' THEN
            entry_action := 'delete';
            rec := to_jsonb(OLD);
            SELECT jsonb_object_agg(key, jsonb_build_array(value, NULL)) INTO diff
              FROM jsonb_each(rec);
        ELSE
            entry_action := 'update';
            rec := to_jsonb(NEW);
            SELECT jsonb_object_agg(n.key, jsonb_build_array(o.value, n.value)) INTO diff
              FROM jsonb_each(rec) n JOIN jsonb_each(to_jsonb(OLD)) o ON o.key = n.key
             WHERE n.value IS DISTINCT FROM o.value;
            IF diff IS NULL THEN
                RETURN NULL;  -- nothing changed
            END IF;
        END IF;
        SELECT jsonb_object_agg(key, CASE WHEN key = ANY (ARRAY['password_hash', 'token_hash', 'key_hash'])
                   THEN jsonb_build_array(
                       CASE WHEN jsonb_typeof(value -> 0) = 'null' THEN NULL ELSE to_jsonb('[redacted]'::text) END,
                       CASE WHEN jsonb_typeof(value -> 1) = 'null' THEN NULL ELSE to_jsonb('[redacted]'::text) END)
                   ELSE value END) INTO diff
          FROM jsonb_each(diff);
        SELECT string_agg(coalesce(rec ->> column_name, ''), '/' ORDER BY n) INTO entry_record_id
          FROM unnest(TG_ARGV) WITH ORDINALITY AS pk(column_name, n);
        entry_key := coalesce(rec ->> 'code', rec ->> 'lot_number', rec ->> 'username',
                              rec ->> 'subject_id', rec ->> 'donor_code', rec ->> 'din',
                              rec ->> 'uid', '');
    END IF;
    entry_record_id := left(coalesce(entry_record_id, ''), 40);
    entry_key := left(entry_key, 200);
    entry_actor := left('database:' || session_user, 64);
    entry_reason := format(
        'direct database change, not through the application (role %s, application %s, client %s)',
        current_user,
        coalesce(nullif(current_setting('application_name', true), ''), 'unnamed'),
        coalesce(host(inet_client_addr()), 'local socket'));
    entry_changes := diff::text;
    stamp := to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');

    INSERT INTO audit_chain_heads (shard, seq, hash) VALUES (0, 0, repeat('0', 64))
        ON CONFLICT (shard) DO NOTHING;
    SELECT seq, hash INTO head_seq, head_hash FROM audit_chain_heads WHERE shard = 0 FOR UPDATE;
    head_seq := head_seq + 1;
    payload := '[0, ' || head_seq::text
        || ', ' || to_json(stamp)::text
        || ', ' || to_json(entry_actor)::text
        || ', ' || to_json(entry_action)::text
        || ', ' || to_json(TG_TABLE_NAME::text)::text
        || ', ' || to_json(entry_record_id)::text
        || ', ' || to_json(entry_key)::text
        || ', ' || to_json(entry_changes)::text
        || ', ' || to_json(entry_reason)::text
        || ', ' || to_json(head_hash)::text || ']';
    digest := encode(sha256(convert_to(payload, 'UTF8')), 'hex');
    INSERT INTO audit_entries (shard, seq, occurred_at, actor, action, record_type, record_id,
                               record_key, changes, reason, prev_hash, hash, mac)
        VALUES (0, head_seq, stamp, entry_actor, entry_action, TG_TABLE_NAME, entry_record_id,
                entry_key, entry_changes, entry_reason, head_hash, digest, '');
    UPDATE audit_chain_heads SET seq = head_seq, hash = digest WHERE shard = 0;
    RETURN NULL;
END;
$$
"""


def upgrade():
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('mac', sa.String(length=64), nullable=False, server_default='')
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(TRIPWIRE_FUNCTION)
        for table in _regulated_tables():
            attach_tripwire(table)


def attach_tripwire(table):
    """The row trigger (named with the table's primary key columns, which make the entry's
    record id) and the TRUNCATE trigger on one regulated table."""
    keys = ", ".join(f"'{column}'" for column in _primary_key(table))
    op.execute(
        f'CREATE TRIGGER "{table}_direct_change" AFTER INSERT OR UPDATE OR DELETE ON "{table}"'
        f" FOR EACH ROW EXECUTE FUNCTION custody_direct_change({keys})"
    )
    op.execute(
        f'CREATE TRIGGER "{table}_direct_truncate" AFTER TRUNCATE ON "{table}"'
        " FOR EACH STATEMENT EXECUTE FUNCTION custody_direct_change()"
    )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table in _regulated_tables():
            op.execute(f'DROP TRIGGER IF EXISTS "{table}_direct_change" ON "{table}"')
            op.execute(f'DROP TRIGGER IF EXISTS "{table}_direct_truncate" ON "{table}"')
        op.execute("DROP FUNCTION IF EXISTS custody_direct_change()")
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_column('mac')
    if op.get_bind().dialect.name == "sqlite":
        # SQLite drops a column by copying the table, which loses its triggers: the trail is
        # append-only again as revision 0001 made it.
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_entries_no_{verb.lower()} BEFORE {verb} ON audit_entries"
                f" BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only: {verb} refused'); END"
            )


def _regulated_tables():
    rows = op.get_bind().execute(
        sa.text(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            " ORDER BY tablename"
        )
    )
    return [name for (name,) in rows if name not in NOT_REGULATED]


def _primary_key(table):
    rows = op.get_bind().execute(
        sa.text(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a"
            " ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)"
            " WHERE i.indrelid = CAST(:table AS regclass) AND i.indisprimary"
            " ORDER BY array_position(CAST(i.indkey AS int2[]), a.attnum)"
        ),
        {"table": f'"{table}"'},
    )
    return [name for (name,) in rows]
