using Google.Protobuf;
using Keys.KeyAdmin.Data;
using Keys.V1;
using Microsoft.Extensions.Options;
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
    Outbox outbox,
    IConnectionMultiplexer redis,
    IOptions<KeyAdminOptions> options,
    BackgroundLoops loops,
    ILogger<OutboxRelay> logger) : ResilientBackgroundService(loops, logger)
{
    private const int BatchSize = 500;

    private readonly RedisChannel _channel = RedisChannel.Literal(options.Value.InvalidationChannel);
    private readonly TimeSpan _publishTimeout = options.Value.PublishTimeout;

    protected override string LoopName => "Outbox relay";

    protected override TimeSpan Interval => options.Value.OutboxPollInterval;

    protected override async Task RunOnceAsync(CancellationToken stoppingToken)
    {
        // Nearly every pass finds nothing: kept out of the traces.
        using var untraced = OpenTelemetry.SuppressInstrumentationScope.Begin();
        while (await outbox.RelayBatchAsync(BatchSize, PublishAsync, stoppingToken) == BatchSize)
        {
        }
    }

    private async Task PublishAsync(IReadOnlyList<OutboxRow> rows, CancellationToken cancellationToken)
    {
        // One connection keeps commands in order, so the batch is pipelined rather than sent one round trip at a time.
        // The timeout is ours: Redis's own is coarse, and a frozen Redis must not hold the relay (and its lock) for long.
        var subscriber = redis.GetSubscriber();
        var publishes = rows
            .Select(row => subscriber.PublishAsync(_channel, row.ToMessage().ToByteArray()))
            .ToList();
        await Task.WhenAll(publishes).WaitAsync(_publishTimeout, cancellationToken);
    }
}

public static class OutboxRowMessages
{
    /// <summary>The invalidation as it goes to Redis and to Changes: one shape for both.</summary>
    public static KeyInvalidation ToMessage(this OutboxRow row) => new()
    {
        Sequence = row.Sequence,
        KeyHash = row.KeyHash is null ? ByteString.Empty : ByteString.CopyFrom(row.KeyHash),
        ProjectId = row.ProjectId ?? "",
        RevokesAt = row.RevokesAt is { } at ? Google.Protobuf.WellKnownTypes.Timestamp.FromDateTime(at) : null,
        RecordedAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTime(row.CreatedAt),
    };
}
