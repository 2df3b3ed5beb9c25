using Keys.KeyAdmin.Data;
using Microsoft.Extensions.Options;

namespace Keys.KeyAdmin.Invalidation;

/// <summary>
/// Keeps the outbox bounded: every <c>KeyAdmin:OutboxPruneInterval</c>, deletes published rows older than
/// <c>KeyAdmin:OutboxRetention</c>, oldest first, in batches of short transactions (no long lock, no table-wide
/// delete), one replica at a time. The newest row always stays, so sequences keep rising. A reader whose cursor falls
/// below what is kept is told so by <c>Changes</c> (<c>CHANGES_TOO_OLD</c>) and flushes. Each pass that deletes
/// anything logs how many rows and up to which sequence (never a hash).
/// </summary>
public sealed partial class OutboxPruner(
    Outbox outbox,
    IOptions<KeyAdminOptions> options,
    BackgroundLoops loops,
    ILogger<OutboxPruner> logger) : ResilientBackgroundService(loops, logger)
{
    /// <summary>Rows per transaction: a batch holds its row locks for milliseconds, and appends never wait for it.</summary>
    public const int BatchSize = 1000;

    protected override string LoopName => "Outbox pruning";

    protected override TimeSpan Interval => options.Value.OutboxPruneInterval;

    protected override async Task RunOnceAsync(CancellationToken stoppingToken)
    {
        using var untraced = OpenTelemetry.SuppressInstrumentationScope.Begin();
        var retention = options.Value.OutboxRetention;
        long total = 0;
        long through = 0;
        while (true)
        {
            var (deleted, last) = await outbox.PruneBatchAsync(retention, BatchSize, through, stoppingToken);
            if (deleted > 0)
            {
                total += deleted;
                through = last;
            }

            if (deleted < BatchSize)
            {
                break;
            }
        }

        if (total > 0)
        {
            LogPruned(total, through, retention);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Pruned {Count} outbox rows up to sequence {Sequence} (published and older than {Retention})")]
    private partial void LogPruned(long count, long sequence, TimeSpan retention);
}
