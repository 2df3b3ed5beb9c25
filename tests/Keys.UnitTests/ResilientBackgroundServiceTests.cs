using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;

namespace Keys.UnitTests;

/// <summary>A background loop survives whatever a pass throws, and says so in health until it recovers.</summary>
public sealed class ResilientBackgroundServiceTests
{
    [Fact]
    public async Task PassesThatThrowAnythingAreRetriedAndTheLoopRecovers()
    {
        var loops = new BackgroundLoops();
        // What took KeyAdmin down once: a TaskCanceledException out of a pass, then a timeout and a plain failure.
        using var loop = new ScriptedLoop(loops, [new TaskCanceledException(), new TimeoutException(), new InvalidOperationException()]);

        await loop.StartAsync(CancellationToken.None);
        var failing = await loop.FailedThrice.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await loop.Succeeded.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await loop.StopAsync(CancellationToken.None);

        Assert.NotNull(failing.FailingSince);
        Assert.Equal(nameof(InvalidOperationException), failing.Reason);
        var (_, status) = Assert.Single(loops.All);
        Assert.Null(status.FailingSince);
    }

    [Fact]
    public async Task FailingLoopMakesHealthDegradedWithItsNameAndReason()
    {
        var loops = new BackgroundLoops();
        loops.Register("Outbox relay").Failed("RedisTimeoutException");

        var result = await new BackgroundLoopsHealthCheck(loops).CheckHealthAsync(new());

        Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Degraded, result.Status);
        Assert.Contains("Outbox relay", result.Description, StringComparison.Ordinal);
        Assert.Contains("RedisTimeoutException", result.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LongPassThatSaysItWorksStopsCountingAsFailingBeforeItEnds()
    {
        var loops = new BackgroundLoops();
        using var loop = new StreamLikeLoop(loops);

        await loop.StartAsync(CancellationToken.None);
        await loop.Following.Task.WaitAsync(TimeSpan.FromSeconds(10));

        // The pass still runs (a followed stream), after one that failed: the loop is not failing.
        var (_, status) = Assert.Single(loops.All);
        Assert.Null(status.FailingSince);
        await loop.StopAsync(CancellationToken.None);
    }

    private sealed class StreamLikeLoop(BackgroundLoops registry) : ResilientBackgroundService(registry, NullLogger.Instance)
    {
        private int _pass;

        public TaskCompletionSource Following { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        protected override string LoopName => "stream";

        protected override TimeSpan Interval => TimeSpan.FromMilliseconds(5);

        protected override async Task RunOnceAsync(CancellationToken stoppingToken)
        {
            if (_pass++ == 0)
            {
                throw new TimeoutException();
            }

            PassWorks();
            Following.TrySetResult();
            await Task.Delay(Timeout.Infinite, stoppingToken);
        }
    }

    private sealed class ScriptedLoop(BackgroundLoops registry, Exception[] failures)
        : ResilientBackgroundService(registry, NullLogger.Instance)
    {
        private readonly BackgroundLoops _loops = registry;
        private int _pass;

        public TaskCompletionSource<(DateTimeOffset? FailingSince, string? Reason)> FailedThrice { get; } = new();

        public TaskCompletionSource Succeeded { get; } = new();

        protected override string LoopName => "scripted";

        protected override TimeSpan Interval => TimeSpan.FromMilliseconds(5);

        protected override Task RunOnceAsync(CancellationToken stoppingToken)
        {
            var pass = _pass++;
            if (pass == failures.Length)
            {
                var status = _loops.Register(LoopName);
                FailedThrice.TrySetResult((status.FailingSince, status.Reason));
            }

            if (pass < failures.Length)
            {
                throw failures[pass];
            }

            if (pass > failures.Length)
            {
                Succeeded.TrySetResult();
            }

            return Task.CompletedTask;
        }
    }
}
