using Google.Protobuf;
using Keys.KeyAdmin.Data;
using Keys.V1;
using Microsoft.Extensions.Options;
using Npgsql;
using StackExchange.Redis;

namespace Keys.KeyAdmin.Invalidation;

/// <summary>
/// Relays outbox rows to Redis pub/sub, in sequence order, at least once: a row is marked published only after Redis
/// took it, so a crash or a Redis outage between commit and publish delays an invalidation but never loses it.
/// A change that just committed wakes the relay; no request ever waits for it, so a stalled Redis delays publishing
/// and never a DELETE. The interval catches whatever a failed pass, another replica or a crash left behind. Replicas
/// take turns through an advisory lock.
/// </summary>
public sealed class OutboxRelay(
    NpgsqlDataSource dataSource,
    IConnectionMultiplexer redis,
    IOptions<KeyAdminOptions> options,
    BackgroundLoops loops,
    ILogger<OutboxRelay> logger) : ResilientBackgroundService(loops, logger)
{
    private const long RelayLockId = 0x4B657973_52656C79;
    private const int BatchSize = 500;

    private readonly RedisChannel _channel = RedisChannel.Literal(options.Value.InvalidationChannel);
    private readonly TimeSpan _publishTimeout = options.Value.PublishTimeout;

    protected override string LoopName => "Outbox relay";

    protected override TimeSpan Interval => options.Value.OutboxPollInterval;

    protected override async Task RunOnceAsync(CancellationToken stoppingToken)
    {
        // Nearly every pass finds nothing: kept out of the traces.
        using var untraced = OpenTelemetry.SuppressInstrumentationScope.Begin();
        while (await PublishBatchAsync(stoppingToken) == BatchSize)
        {
        }
    }

    private async Task<int> PublishBatchAsync(CancellationToken cancellationToken)
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
            RETURNING sequence, key_hash, revokes_at
            """, connection, transaction))
        {
            command.Parameters.AddWithValue("lock", RelayLockId);
            command.Parameters.AddWithValue("limit", BatchSize);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                rows.Add(KeyStore.ReadOutboxRow(reader));
            }
        }

        if (rows.Count == 0)
        {
            return 0;
        }

        rows.Sort((a, b) => a.Sequence.CompareTo(b.Sequence));

        // One connection keeps commands in order, so the batch is pipelined rather than sent one round trip at a time.
        // The timeout is ours: Redis's own is coarse, and a frozen Redis must not hold the relay (and its lock) for long.
        var subscriber = redis.GetSubscriber();
        var publishes = rows
            .Select(row => subscriber.PublishAsync(_channel, row.ToMessage().ToByteArray()))
            .ToList();
        await Task.WhenAll(publishes).WaitAsync(_publishTimeout, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return rows.Count;
    }
}

public static class OutboxRowMessages
{
    /// <summary>The invalidation as it goes to Redis and to Changes: one shape for both.</summary>
    public static KeyInvalidation ToMessage(this OutboxRow row) => new()
    {
        Sequence = row.Sequence,
        KeyHash = ByteString.CopyFrom(row.KeyHash),
        RevokesAt = row.RevokesAt is { } at ? Google.Protobuf.WellKnownTypes.Timestamp.FromDateTime(at) : null,
    };
}
