using Google.Rpc;
using Grpc.Core;
using Grpc.Net.Client;
using Keys.ApiKeys;
using Keys.FunctionalTests.Infrastructure;
using Keys.KeyValidation;
using Keys.KeyValidation.RateLimiting;
using Keys.V1;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Keys.FunctionalTests;

/// <summary>
/// The shared counters of global rate limits: the Lua script on the real Redis (grants never pass the limit, however
/// many draw at once; the counter is named by key ID and window and expires a minute after the window), and
/// AcquireRateBudget on both KeyValidation replicas (one counter for all, a service credential, stable codes for bad
/// input, only the window of now, never more than the limit). Every test uses key IDs of its own, so that counters
/// never meet.
/// </summary>
[Collection(KeysCollection.Name)]
public sealed class RateBudgetTests(KeysAppFixture fixture) : IAsyncLifetime
{
    private readonly GrpcChannel _channel = fixture.KeyValidationChannel();
    private ConnectionMultiplexer _redis = null!;
    private RateBudgetStore _store = null!;

    public async Task InitializeAsync()
    {
        _redis = await ConnectionMultiplexer.ConnectAsync((await fixture.App.GetConnectionStringAsync("redis"))!);
        _store = new RateBudgetStore(_redis, Options.Create(new KeyValidationOptions()));
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _redis.DisposeAsync();
    }

    private KeyValidationService.KeyValidationServiceClient Validation => new(_channel);

    private static long CurrentWindowStart(int windowSeconds) => DateTimeOffset.UtcNow.ToUnixTimeSeconds() / windowSeconds * windowSeconds;

    [Fact]
    public async Task DrawsGrantWhatIsAskedThenWhatIsLeftThenNothing()
    {
        var keyId = ResourceId.NewKeyId();
        var start = CurrentWindowStart(60);

        var draws = new List<RateBudget>();
        foreach (var requested in new long[] { 4, 4, 4, 1 })
        {
            draws.Add(await _store.DrawAsync(keyId, limit: 10, windowSeconds: 60, start, requested));
        }

        Assert.Equal([new RateBudget(4, 4), new RateBudget(4, 8), new RateBudget(2, 10), new RateBudget(0, 10)], draws);
    }

    [Fact]
    public async Task ConcurrentDrawsNeverGrantMoreThanTheLimitBetweenThem()
    {
        var keyId = ResourceId.NewKeyId();
        var start = CurrentWindowStart(60);

        var draws = await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => _store.DrawAsync(keyId, limit: 100, windowSeconds: 60, start, requested: 3)));

        Assert.Equal(100, draws.Sum(d => d.Granted));
        Assert.Equal(100, draws.Max(d => d.Used));
        Assert.All(draws, d => Assert.InRange(d.Granted, 0, 3));
    }

    [Fact]
    public async Task CounterIsNamedByKeyIdWindowAndStartAndHoldsOnlyTheCount()
    {
        var keyId = ResourceId.NewKeyId();
        var start = CurrentWindowStart(60);

        await _store.DrawAsync(keyId, limit: 10, windowSeconds: 60, start, requested: 3);
        await _store.DrawAsync(keyId, limit: 10, windowSeconds: 60, start + 60, requested: 1);
        await _store.DrawAsync(keyId, limit: 10, windowSeconds: 1, start, requested: 2);

        var database = _redis.GetDatabase();
        Assert.Equal("3", (string?)await database.StringGetAsync($"keys:rl:{keyId}:60:{start}"));
        Assert.Equal("1", (string?)await database.StringGetAsync($"keys:rl:{keyId}:60:{start + 60}"));
        Assert.Equal("2", (string?)await database.StringGetAsync($"keys:rl:{keyId}:1:{start}"));
    }

    [Fact]
    public async Task CounterExpiresAboutAMinuteAfterItsWindowEnds()
    {
        var database = _redis.GetDatabase();
        var (current, ended, daily) = (ResourceId.NewKeyId(), ResourceId.NewKeyId(), ResourceId.NewKeyId());
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var minute = CurrentWindowStart(60);
        var day = CurrentWindowStart(86_400);

        await _store.DrawAsync(current, 10, 60, minute, 1);
        await _store.DrawAsync(ended, 10, 60, minute - 3600, 1);
        await _store.DrawAsync(daily, 10, 86_400, day, 1);

        var untilMinuteEnds = minute + 60 - now;
        Assert.InRange((await database.KeyTimeToLiveAsync($"keys:rl:{current}:60:{minute}"))!.Value.TotalSeconds, untilMinuteEnds + 55, untilMinuteEnds + 61);
        // A window already over (a caller whose clock is behind) still gets its grace, never less.
        Assert.InRange((await database.KeyTimeToLiveAsync($"keys:rl:{ended}:60:{minute - 3600}"))!.Value.TotalSeconds, 55, 60);
        var untilDayEnds = day + 86_400 - now;
        Assert.InRange((await database.KeyTimeToLiveAsync($"keys:rl:{daily}:86400:{day}"))!.Value.TotalSeconds, untilDayEnds + 55, untilDayEnds + 61);
    }

    [Fact]
    public async Task BothReplicasDrawFromOneCounter()
    {
        var keyId = ResourceId.NewKeyId();
        var start = CurrentWindowStart(60);
        var replicas = await fixture.GetReplicaAddressesAsync("key-validation", "grpc", 2);
        var channels = replicas.Select(address => fixture.ServiceChannel(address)).ToList();
        try
        {
            var grants = await Task.WhenAll(Enumerable.Range(0, 40).Select(i =>
                new KeyValidationService.KeyValidationServiceClient(channels[i % 2]).AcquireRateBudgetAsync(new AcquireRateBudgetRequest
                {
                    KeyId = keyId,
                    Limit = 50,
                    WindowSeconds = 60,
                    WindowStart = start,
                    Requested = 2,
                }).ResponseAsync));

            Assert.Equal(50, grants.Sum(g => g.Granted));
            Assert.Equal(50, grants.Max(g => g.Used));
        }
        finally
        {
            channels.ForEach(c => c.Dispose());
        }
    }

    [Fact]
    public async Task AcquireRateBudgetNeedsAServiceCredential()
    {
        using var anonymous = fixture.ServiceChannel(fixture.App.GetEndpoint("key-validation", "grpc"), token: null);

        var refusal = await Assert.ThrowsAsync<RpcException>(() => new KeyValidationService.KeyValidationServiceClient(anonymous)
            .AcquireRateBudgetAsync(Request(ResourceId.NewKeyId())).ResponseAsync);

        Assert.Equal(StatusCode.Unauthenticated, refusal.StatusCode);
    }

    [Theory]
    [InlineData("INVALID_KEY_ID", "sk_not-a-key-id", 10, 60, 0L, 1)]
    [InlineData("INVALID_RATE_LIMIT", "", 0, 60, 0L, 1)]
    [InlineData("INVALID_RATE_LIMIT", "", 10, 86_401, 0L, 1)]
    [InlineData("INVALID_WINDOW_START", "", 10, 60, 30L, 1)]
    [InlineData("INVALID_REQUESTED", "", 10, 60, null, 0)] // now's window: only the request is wrong
    public async Task MalformedRequestIsInvalidArgumentWithItsReason(string reason, string keyId, long limit, int window, long? start, long requested)
    {
        var request = Request(keyId.Length == 0 ? ResourceId.NewKeyId() : keyId, limit, window, start, requested);

        var refusal = await Assert.ThrowsAsync<RpcException>(() => Validation.AcquireRateBudgetAsync(request).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, refusal.StatusCode);
        var info = refusal.GetRpcStatus()?.GetDetail<ErrorInfo>();
        Assert.Equal((reason, "keys.v1"), (info?.Reason, info?.Domain));
        Assert.DoesNotContain(keyId.Length == 0 ? "\0" : keyId, refusal.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WindowOtherThanNowsIsInvalidWindowStartAndNoCounterIsMadeForIt()
    {
        var keyId = ResourceId.NewKeyId();
        var (minute, day) = (CurrentWindowStart(60), CurrentWindowStart(86_400));
        var far = new (int Window, long Start)[] { (60, minute + 3600), (86_400, day + 86_400), (60, minute - 3600), (60, 0) };

        foreach (var (window, start) in far)
        {
            var refusal = await Assert.ThrowsAsync<RpcException>(() => Validation.AcquireRateBudgetAsync(Request(keyId, window: window, start: start)).ResponseAsync);

            Assert.Equal(StatusCode.InvalidArgument, refusal.StatusCode);
            Assert.Equal("INVALID_WINDOW_START", refusal.GetRpcStatus()?.GetDetail<ErrorInfo>()?.Reason);
            Assert.False(await _redis.GetDatabase().KeyExistsAsync($"keys:rl:{keyId}:{window}:{start}"));
        }

        // Now's window, and the one just ended (a caller whose clock is a little behind), are drawn from.
        Assert.Equal(1, (await Validation.AcquireRateBudgetAsync(Request(keyId, window: 60, start: minute))).Granted);
        Assert.Equal(1, (await Validation.AcquireRateBudgetAsync(Request(keyId, window: 60, start: minute - 60))).Granted);
    }

    [Fact]
    public async Task RequestForMoreThanTheLimitIsGrantedTheLimitAtMost()
    {
        var keyId = ResourceId.NewKeyId();

        var grant = await Validation.AcquireRateBudgetAsync(Request(keyId, limit: 10, requested: long.MaxValue));

        Assert.Equal((10L, 10L), (grant.Granted, grant.Used));
    }

    private static AcquireRateBudgetRequest Request(string keyId, long limit = 10, int window = 60, long? start = null, long requested = 1) => new()
    {
        KeyId = keyId,
        Limit = limit,
        WindowSeconds = window,
        WindowStart = start ?? CurrentWindowStart(window),
        Requested = requested,
    };
}
