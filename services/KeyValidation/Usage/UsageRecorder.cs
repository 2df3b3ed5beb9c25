using System.Collections.Concurrent;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Keys.V1;
using Microsoft.Extensions.Options;

namespace Keys.KeyValidation.Usage;

/// <summary>
/// When each key was last used, without a database write per request: the latest time per key is kept in memory and
/// sent to KeyAdmin on an interval. A failed send is merged back and retried.
/// </summary>
public sealed class UsageRecorder(
    KeyAdminInternalService.KeyAdminInternalServiceClient keyAdmin,
    TimeProvider time,
    IOptions<KeyValidationOptions> options,
    BackgroundLoops loops,
    ILogger<UsageRecorder> logger) : ResilientBackgroundService(loops, logger)
{
    private ConcurrentDictionary<string, long> _pending = new();

    protected override string LoopName => "Usage report";

    protected override TimeSpan Interval => options.Value.UsageFlushInterval;

    public void Record(string keyId) => _pending[keyId] = time.GetUtcNow().UtcTicks;

    protected override Task RunOnceAsync(CancellationToken stoppingToken) => FlushAsync(stoppingToken);

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);

        // One last report on the way out, so that a clean shutdown loses nothing.
        using var last = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await FlushAsync(last.Token);
        }
        catch (Exception ex) when (ex is RpcException or OperationCanceledException)
        {
            // KeyAdmin is away: these last-used times are lost, which costs accuracy and nothing else.
        }
    }

    private const int MaxUsagesPerCall = 5_000;

    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (_pending.IsEmpty)
        {
            return;
        }

        var batch = Interlocked.Exchange(ref _pending, new ConcurrentDictionary<string, long>()).ToList();
        var sent = 0;
        try
        {
            using var untraced = OpenTelemetry.SuppressInstrumentationScope.Begin();
            // KeyAdmin takes at most 10,000 usages per call: a busy interval goes in several.
            foreach (var chunk in batch.Chunk(MaxUsagesPerCall))
            {
                var request = new RecordUsageRequest();
                foreach (var (keyId, ticks) in chunk)
                {
                    request.Usages.Add(new KeyUsage { KeyId = keyId, LastUsedAt = Timestamp.FromDateTimeOffset(new DateTimeOffset(ticks, TimeSpan.Zero)) });
                }

                await keyAdmin.RecordUsageAsync(request, cancellationToken: cancellationToken);
                sent += chunk.Length;
            }
        }
        catch
        {
            foreach (var (keyId, ticks) in batch.Skip(sent))
            {
                _pending.AddOrUpdate(keyId, ticks, (_, current) => Math.Max(current, ticks));
            }

            throw;
        }
    }
}
