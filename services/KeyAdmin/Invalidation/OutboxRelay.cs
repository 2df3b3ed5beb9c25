using Google.Protobuf;
using Microsoft.Extensions.Options;
using Npgsql;
using StackExchange.Redis;

namespace Keys.KeyAdmin.Invalidation;

/// <summary>
/// Relays outbox rows to Redis pub/sub, in sequence order, at least once: a row is marked published only after Redis
/// took it, so a crash or a Redis outage between commit and publish delays an invalidation but never loses it.
/// Callers that just committed a change flush at once; a poll catches whatever a failed flush, another replica or a
/// crash left behind. Replicas take turns through an advisory lock.
/// </summary>
public sealed partial class OutboxRelay(
    NpgsqlDataSource dataSource,
    IConnectionMultiplexer redis,
    IOptions<KeyAdminOptions> options,
    ILogger<OutboxRelay> logger) : BackgroundService
{
    private const long RelayLockId = 0x4B657973_52656C79;
    private const int BatchSize = 500;

    private readonly RedisChannel _channel = RedisChannel.Literal(options.Value.InvalidationChannel);
    private readonly TimeSpan _pollInterval = options.Value.OutboxPollInterval;
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>Publishes every unpublished row; returns how many were published. Throws when Redis or Postgres fails.</summary>
    public async Task<int> FlushAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var total = 0;
            int published;
            do
            {
                published = await PublishBatchAsync(cancellationToken);
                total += published;
            }
            while (published == BatchSize);

            return total;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Best effort for the request that just committed: the poll retries whatever this could not publish.</summary>
    public async Task TryFlushAsync(TimeSpan timeout)
    {
        using var cancellation = new CancellationTokenSource(timeout);
        try
        {
            await FlushAsync(cancellation.Token);
        }
        catch (Exception ex) when (ex is RedisException or NpgsqlException or OperationCanceledException or TimeoutException)
        {
            LogDeferred(ex.GetType().Name);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_pollInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                // The poll runs every second and nearly always finds nothing: it stays out of the traces. A flush
                // right after a change runs inside that request's trace instead.
                using var untraced = OpenTelemetry.SuppressInstrumentationScope.Begin();
                await FlushAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is RedisException or NpgsqlException or TimeoutException)
            {
                LogRetrying(ex.GetType().Name);
            }
        }
    }

    private async Task<int> PublishBatchAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        await using (var command = new NpgsqlCommand("SELECT pg_try_advisory_xact_lock(@lock)", connection, transaction))
        {
            command.Parameters.AddWithValue("lock", RelayLockId);
            if (await command.ExecuteScalarAsync(cancellationToken) is not true)
            {
                // Another replica is relaying right now; it publishes these rows.
                return 0;
            }
        }

        var rows = new List<(long Sequence, byte[] KeyHash)>();
        await using (var command = new NpgsqlCommand(
            "SELECT sequence, key_hash FROM outbox WHERE published_at IS NULL ORDER BY sequence LIMIT @limit", connection, transaction))
        {
            command.Parameters.AddWithValue("limit", BatchSize);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                rows.Add((reader.GetInt64(0), reader.GetFieldValue<byte[]>(1)));
            }
        }

        if (rows.Count == 0)
        {
            return 0;
        }

        var subscriber = redis.GetSubscriber();
        foreach (var (sequence, keyHash) in rows)
        {
            var message = new V1.Invalidation { Sequence = sequence, KeyHash = ByteString.CopyFrom(keyHash) };
            await subscriber.PublishAsync(_channel, message.ToByteArray());
        }

        await using (var command = new NpgsqlCommand(
            "UPDATE outbox SET published_at = now() WHERE sequence = ANY(@sequences)", connection, transaction))
        {
            command.Parameters.AddWithValue("sequences", rows.Select(r => r.Sequence).ToArray());
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return rows.Count;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Invalidations could not be published now ({Reason}); the outbox relay retries them")]
    private partial void LogDeferred(string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox relay failed ({Reason}); retrying")]
    private partial void LogRetrying(string reason);
}
