using System.Collections.Concurrent;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Keys.KeyValidation.Usage;

/// <summary>
/// When each key was last used, without a database write per request: the latest time per key is kept in memory and
/// sent to KeyAdmin on an interval. A failed send is merged back and retried.
/// </summary>
public sealed partial class UsageRecorder(
    V1.KeyAdmin.KeyAdminClient keyAdmin,
    TimeProvider time,
    IOptions<KeyValidationOptions> options,
    ILogger<UsageRecorder> logger) : BackgroundService
{
    private ConcurrentDictionary<string, long> _pending = new();

    public void Record(string keyId) => _pending[keyId] = time.GetUtcNow().UtcTicks;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.UsageFlushInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await FlushAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // One last report on the way out, so that a clean shutdown loses nothing.
            using var last = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await FlushAsync(last.Token);
        }
    }

    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (_pending.IsEmpty)
        {
            return;
        }

        var batch = Interlocked.Exchange(ref _pending, new ConcurrentDictionary<string, long>());
        var request = new V1.RecordUsageRequest();
        foreach (var (keyId, ticks) in batch)
        {
            request.Usages.Add(new V1.KeyUsage { KeyId = keyId, LastUsedAt = Timestamp.FromDateTimeOffset(new DateTimeOffset(ticks, TimeSpan.Zero)) });
        }

        try
        {
            using var untraced = OpenTelemetry.SuppressInstrumentationScope.Begin();
            await keyAdmin.RecordUsageAsync(request, cancellationToken: cancellationToken);
        }
        catch (Exception ex) when (ex is RpcException or OperationCanceledException or RedisException)
        {
            foreach (var (keyId, ticks) in batch)
            {
                _pending.AddOrUpdate(keyId, ticks, (_, current) => Math.Max(current, ticks));
            }

            LogRetry(ex.GetType().Name);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not report key usage to KeyAdmin ({Reason}); it is kept for the next report")]
    private partial void LogRetry(string reason);
}
