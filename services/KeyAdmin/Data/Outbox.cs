using Microsoft.Extensions.Options;
using Npgsql;

namespace Keys.KeyAdmin.Data;

/// <summary>
/// A change caches must learn of: the key's hash, or the project every key of which it covers (exactly one of the two),
/// when the change revokes the key (null: it does not), and when it was recorded (by the database's clock), from which
/// every hop measures how late it applies it.
/// </summary>
public sealed record OutboxRow(long Sequence, byte[]? KeyHash, string? ProjectId, DateTime? RevokesAt, DateTime CreatedAt);

/// <summary>
/// The invalidations caches must learn of, numbered in commit order. A row is appended in the transaction of the key
/// change it announces, read by sequence for catch-up (<see cref="ChangesSinceAsync"/>), and claimed in batches by the
/// relay, which marks it published only once Redis took it (<see cref="RelayBatchAsync"/>).
/// </summary>
public sealed partial class Outbox(NpgsqlDataSource dataSource, IOptions<KeyAdminOptions> options, ILogger<Outbox> logger)
{
    // Advisory lock ids share one number space in the database with DatabaseMigrator's: each is "Keys" and four ASCII
    // letters of its own, so that none collide.

    // Orders the sequence numbers of appends; held until commit.
    private const long AppendLockId = 0x4B657973_4F757462;

    // Lets one replica relay at a time, which keeps the publishes in sequence order.
    private const long RelayLockId = 0x4B657973_52656C79;

    // Lets one replica prune at a time ("Prun").
    private const long PruneLockId = 0x4B657973_5072756E;

    /// <summary>
    /// The highest sequence there is (0 while the outbox is empty), as a SQL expression for a statement that must read
    /// it in the same snapshot as something else.
    /// </summary>
    public const string HeadSequenceSql = "coalesce((SELECT max(sequence) FROM outbox), 0)";

    /// <summary>Appends the invalidation of the key, as it stands in <paramref name="transaction"/>, to the outbox.</summary>
    public async Task AppendAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string keyId, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            $"""
            SELECT pg_advisory_xact_lock(@lock);
            INSERT INTO outbox (sequence, key_hash, revokes_at)
            SELECT {HeadSequenceSql} + 1, key_hash, revokes_at FROM api_key WHERE id = @key;
            """, connection, transaction);
        command.Parameters.AddWithValue("lock", AppendLockId);
        command.Parameters.AddWithValue("key", keyId);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// Appends the invalidation of every usable key of the project that has no rate limit of its own, and so follows
    /// the project's default, under the same lock as <see cref="AppendAsync"/>: one row per key, numbered one after
    /// another, while there are at most <c>KeyAdmin:ProjectInvalidationKeyLimit</c>; past that, one row for the whole
    /// project, which caches apply as a flush.
    /// </summary>
    /// <remarks>
    /// The lock is held until commit, and every delete, roll and update of any project waits for it; the relay then
    /// publishes rows in sequence order, so a delete committed next waits for all of them to be published first. One
    /// row per key of a project of 100,000 would hold both for seconds; the bound keeps both to what 1,000 rows cost.
    /// </remarks>
    public async Task AppendForProjectDefaultAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string projectId, CancellationToken cancellationToken)
    {
        var limit = options.Value.ProjectInvalidationKeyLimit;

        // Counting stops one key past the limit, so that a large project costs no more to decide than a small one. The
        // head is read once (an uncorrelated CTE, evaluated before any row is inserted), and row_number() numbers the
        // keys after it without gaps. Exactly one of the two branches inserts anything.
        await using var command = new NpgsqlCommand(
            $"""
            SELECT pg_advisory_xact_lock(@lock);
            WITH following AS MATERIALIZED (
                SELECT id, key_hash, revokes_at FROM api_key
                WHERE project_id = @project AND rate_limit IS NULL
                  AND deleted_at IS NULL AND (revokes_at IS NULL OR revokes_at > now())
                LIMIT @limit + 1
            ), head AS (
                SELECT {HeadSequenceSql} AS sequence
            ), inserted AS (
                INSERT INTO outbox (sequence, key_hash, project_id, revokes_at)
                SELECT head.sequence + row_number() OVER (ORDER BY following.id), following.key_hash, NULL::text, following.revokes_at
                FROM following, head WHERE (SELECT count(*) FROM following) <= @limit
                UNION ALL
                SELECT head.sequence + 1, NULL::bytea, @project, NULL::timestamptz
                FROM head WHERE (SELECT count(*) FROM following) > @limit
                RETURNING project_id
            )
            SELECT count(*) FILTER (WHERE project_id IS NOT NULL) FROM inserted;
            """, connection, transaction);
        command.Parameters.AddWithValue("lock", AppendLockId);
        command.Parameters.AddWithValue("project", projectId);
        command.Parameters.AddWithValue("limit", limit);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.NextResultAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        if (reader.GetInt64(0) > 0)
        {
            LogProjectInvalidation(projectId, limit);
        }
    }

    /// <summary>
    /// Outbox rows after <paramref name="sinceSequence"/>, in order, and the highest sequence there is, read in one
    /// snapshot. Sequences have no gaps and only the lowest rows are ever pruned, so the rows kept are one run ending at
    /// the head: when the first row after <paramref name="sinceSequence"/> is not the next sequence, the ones between
    /// were pruned (<see cref="IsTooOld"/>), and that first row is the oldest kept.
    /// </summary>
    public async Task<(IReadOnlyList<OutboxRow> Changes, long Head)> ChangesSinceAsync(
        long sinceSequence, int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            $"""
            SELECT {HeadSequenceSql}, o.sequence, o.key_hash, o.project_id, o.revokes_at, o.created_at
            FROM (SELECT 1) AS one
            LEFT JOIN (SELECT sequence, key_hash, project_id, revokes_at, created_at FROM outbox WHERE sequence > @since ORDER BY sequence LIMIT @limit) AS o ON true
            ORDER BY o.sequence
            """);
        command.Parameters.AddWithValue("since", sinceSequence);
        command.Parameters.AddWithValue("limit", limit);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var changes = new List<OutboxRow>();
        long head = 0;
        while (await reader.ReadAsync(cancellationToken))
        {
            head = reader.GetInt64(0);
            if (!reader.IsDBNull(1))
            {
                changes.Add(ReadRow(reader, offset: 1));
            }
        }

        return (changes, head);
    }

    /// <summary>
    /// Whether a reader at <paramref name="sinceSequence"/>, whose next row kept is <paramref name="firstAfter"/> (null:
    /// none), missed rows that were pruned: the sequences between the two are gone, and nobody can say what they held.
    /// </summary>
    public static bool IsTooOld(long sinceSequence, long? firstAfter) => firstAfter is { } first && first > sinceSequence + 1;

    /// <summary>
    /// Deletes up to <paramref name="limit"/> of the oldest rows, in one short transaction, stopping at the first row
    /// that is unpublished or younger than <paramref name="retention"/> (by the database's clock), and never deleting
    /// the newest row: the next sequence is <see cref="HeadSequenceSql"/> + 1, so an empty outbox would number from 1
    /// again and every reader's cursor would skip what came next. Only the lowest rows go, so what is kept is always one
    /// run of sequences. Returns how many went and the highest sequence deleted; none when another replica is pruning.
    /// </summary>
    /// <param name="after">Where the previous batch of this pass stopped (0 at first): the scan starts past the rows it
    /// deleted, whose index entries stay until vacuum and would otherwise be walked again by every batch.</param>
    public async Task<(int Deleted, long Through)> PruneBatchAsync(TimeSpan retention, int limit, long after, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var locking = new NpgsqlCommand("SELECT pg_try_advisory_xact_lock(@lock)", connection, transaction))
        {
            locking.Parameters.AddWithValue("lock", PruneLockId);
            if (await locking.ExecuteScalarAsync(cancellationToken) is not true)
            {
                return (0, 0);
            }
        }

        // The candidates are the lowest rows by the primary key, so a batch reads at most `limit` rows whatever the
        // outbox holds. Age is judged in sequence order, not by created_at alone: created_at is a transaction's start,
        // which need not follow the order sequences were numbered in, and a hole in what is kept would hide a pruned
        // row from IsTooOld. least() skips nulls: with nothing too young or unpublished, the head bounds the batch.
        int deleted = 0;
        long through = 0;
        await using (var command = new NpgsqlCommand(
            """
            WITH candidates AS MATERIALIZED (
                SELECT sequence, published_at, created_at FROM outbox WHERE sequence > @after ORDER BY sequence LIMIT @limit
            ), bound AS (
                SELECT least(
                    (SELECT min(sequence) FROM candidates WHERE published_at IS NULL OR created_at > now() - @retention),
                    (SELECT max(sequence) FROM outbox)) AS sequence
            ), gone AS (
                DELETE FROM outbox
                WHERE sequence IN (SELECT sequence FROM candidates) AND sequence < (SELECT sequence FROM bound)
                RETURNING sequence
            )
            SELECT count(*), coalesce(max(sequence), 0) FROM gone
            """, connection, transaction))
        {
            command.Parameters.AddWithValue("retention", retention);
            command.Parameters.AddWithValue("limit", limit);
            command.Parameters.AddWithValue("after", after);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            deleted = (int)reader.GetInt64(0);
            through = reader.GetInt64(1);
        }

        await transaction.CommitAsync(cancellationToken);
        return (deleted, through);
    }

    /// <summary>
    /// Claims up to <paramref name="limit"/> unpublished rows, hands them to <paramref name="publish"/> in sequence
    /// order, and marks them published once it returns. Returns how many there were: none when another replica is
    /// relaying.
    /// </summary>
    public async Task<int> RelayBatchAsync(
        int limit, Func<IReadOnlyList<OutboxRow>, CancellationToken, Task> publish, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        // One round trip claims the batch: the rows are marked published, but only this transaction sees that until it
        // commits, after Redis took them; if anything fails it rolls back and they stay unpublished. A replica that
        // does not get the lock claims nothing (another replica is relaying), which keeps the publishes in order.
        var rows = new List<OutboxRow>();
        await using (var command = new NpgsqlCommand(
            """
            UPDATE outbox SET published_at = now()
            WHERE pg_try_advisory_xact_lock(@lock)
              AND sequence IN (SELECT sequence FROM outbox WHERE published_at IS NULL ORDER BY sequence LIMIT @limit)
            RETURNING sequence, key_hash, project_id, revokes_at, created_at
            """, connection, transaction))
        {
            command.Parameters.AddWithValue("lock", RelayLockId);
            command.Parameters.AddWithValue("limit", limit);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                rows.Add(ReadRow(reader));
            }
        }

        if (rows.Count == 0)
        {
            return 0;
        }

        rows.Sort((a, b) => a.Sequence.CompareTo(b.Sequence));
        await publish(rows, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return rows.Count;
    }

    /// <summary>An outbox row from columns sequence, key_hash, project_id, revokes_at, created_at at <paramref name="offset"/>.</summary>
    private static OutboxRow ReadRow(NpgsqlDataReader reader, int offset = 0) => new(
        reader.GetInt64(offset),
        reader.IsDBNull(offset + 1) ? null : reader.GetFieldValue<byte[]>(offset + 1),
        reader.IsDBNull(offset + 2) ? null : reader.GetString(offset + 2),
        reader.IsDBNull(offset + 3) ? null : reader.GetDateTime(offset + 3),
        reader.GetDateTime(offset + 4));

    [LoggerMessage(Level = LogLevel.Information, Message = "The new default rate limit of project {ProjectId} reaches more than {Limit} keys: one invalidation covers the project, and caches flush")]
    private partial void LogProjectInvalidation(string projectId, int limit);
}
