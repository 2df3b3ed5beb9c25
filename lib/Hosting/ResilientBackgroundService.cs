using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// A background loop that nothing it throws can stop: each pass runs on an interval, or at once when
/// <see cref="Wake"/> is called. A failed pass is logged once per outage (not once per attempt), retried with a
/// growing delay, and shown in health (<see cref="BackgroundLoopsHealthCheck"/>) until a pass succeeds again.
/// </summary>
/// <remarks>
/// A <see cref="BackgroundService"/> whose ExecuteAsync throws stops its host by default, and nothing restarts it:
/// one unexpected exception type (a timeout, a cancellation) would take a whole service down for good.
/// </remarks>
public abstract partial class ResilientBackgroundService(BackgroundLoops loops, ILogger logger) : BackgroundService
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(2);

    // At most one pending wake-up: many wakes during one pass mean one more pass, not many.
    private readonly SemaphoreSlim _wake = new(0, 1);

    // Touched by the loop and by the pass it runs, never at the same time.
    private BackgroundLoopStatus? _status;
    private int _failures;
    private DateTimeOffset _failingSince = DateTimeOffset.MinValue;

    /// <summary>The loop's name in logs and health.</summary>
    protected abstract string LoopName { get; }

    /// <summary>Time between passes when nothing wakes the loop.</summary>
    protected abstract TimeSpan Interval { get; }

    /// <summary>Runs one pass now, or right after the current one.</summary>
    public void Wake()
    {
        if (_wake.CurrentCount == 0)
        {
            try
            {
                _wake.Release();
            }
            catch (SemaphoreFullException)
            {
                // Another caller woke it first.
            }
        }
    }

    /// <summary>One pass. Throwing is fine: the pass is retried after a delay.</summary>
    protected abstract Task RunOnceAsync(CancellationToken stoppingToken);

    /// <summary>
    /// Called by a pass that runs for as long as it works (one that follows a stream), once it works: the loop stops
    /// counting as failing now, not when the pass ends, which may be hours later.
    /// </summary>
    protected void PassWorks()
    {
        if (_failures > 0)
        {
            LogRecovered(LoopName, _failures, DateTimeOffset.UtcNow - _failingSince);
            _failures = 0;
        }

        _status?.Succeeded();
    }

    protected sealed override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _status = loops.Register(LoopName);
        while (!stoppingToken.IsCancellationRequested)
        {
            var delay = Interval;
            try
            {
                await RunOnceAsync(stoppingToken);
                PassWorks();
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // Only the type: messages of Redis and gRPC exceptions can name keys, and key hashes stay out of logs.
                var reason = ex.GetType().Name;
                if (_failures++ == 0)
                {
                    _failingSince = DateTimeOffset.UtcNow;
                    LogFailing(LoopName, reason);
                }

                _status.Failed(reason);
                delay = TimeSpan.FromTicks(Math.Min(Interval.Ticks * (1L << Math.Min(_failures, 6)), Math.Max(Interval.Ticks, MaxBackoff.Ticks)));
            }

            try
            {
                await _wake.WaitAsync(delay, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Loop} failed ({Reason}); retrying until it succeeds (logged once per outage)")]
    private partial void LogFailing(string loop, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Loop} recovered after {Failures} failed attempts over {Duration}")]
    private partial void LogRecovered(string loop, int failures, TimeSpan duration);
}

/// <summary>The state of every <see cref="ResilientBackgroundService"/> in the process, for health.</summary>
public sealed class BackgroundLoops
{
    private readonly ConcurrentDictionary<string, BackgroundLoopStatus> _loops = new();

    public BackgroundLoopStatus Register(string name) => _loops.GetOrAdd(name, _ => new BackgroundLoopStatus());

    public IEnumerable<(string Name, BackgroundLoopStatus Status)> All => _loops.Select(l => (l.Key, l.Value));
}

public sealed class BackgroundLoopStatus
{
    private readonly Lock _gate = new();

    public DateTimeOffset? FailingSince { get; private set; }

    public string? Reason { get; private set; }

    public void Succeeded()
    {
        lock (_gate)
        {
            FailingSince = null;
            Reason = null;
        }
    }

    public void Failed(string reason)
    {
        lock (_gate)
        {
            FailingSince ??= DateTimeOffset.UtcNow;
            Reason = reason;
        }
    }
}

/// <summary>Degraded, naming each loop and why, while any background loop keeps failing.</summary>
public sealed class BackgroundLoopsHealthCheck(BackgroundLoops loops) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var failing = loops.All
            .Where(l => l.Status.FailingSince is not null)
            .Select(l => $"{l.Name} failing since {l.Status.FailingSince:O} ({l.Status.Reason})")
            .ToList();
        return Task.FromResult(failing.Count == 0
            ? HealthCheckResult.Healthy()
            : HealthCheckResult.Degraded(string.Join("; ", failing)));
    }
}

public static class BackgroundLoopsExtensions
{
    /// <summary>Registers the loop registry and its health check; <c>AddServiceDefaults</c> calls it.</summary>
    public static IServiceCollection AddBackgroundLoops(this IServiceCollection services)
    {
        services.AddSingleton<BackgroundLoops>();
        services.AddHealthChecks().AddCheck<BackgroundLoopsHealthCheck>("background-loops");
        return services;
    }
}
