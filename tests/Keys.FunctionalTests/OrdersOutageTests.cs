using Grpc.Core;
using Grpc.Net.Client;
using Keys.FunctionalTests.Infrastructure;
using Keys.Orders.V1;

namespace Keys.FunctionalTests;

/// <summary>
/// An internal service using Keys.AspNetCore while KeyValidation is down: it fails closed like the gateway, and what
/// the key alone decides is still decided, with no lookup.
/// </summary>
public sealed class OrdersOutageTests(FaultsAppFixture fixture) : FaultTests
{
    protected override FaultsAppFixture Faults => fixture;

    [Fact]
    public async Task CachedKeyIsAnsweredFromTheNearCacheWithoutALookup()
    {
        var (cached, unseen) = await TwoKeysOneCachedAsync("Orders near cache");
        using var channel = GrpcChannel.ForAddress(fixture.App.GetEndpoint("orders", "grpc"));
        var orders = new Orders.V1.Orders.OrdersClient(channel);
        await orders.ListOrdersAsync(new ListOrdersRequest(), OrdersTests.WithKey(cached.Value));
        var pids = new List<int>();
        foreach (var replica in await fixture.GetReplicaIdsAsync("key-validation", replicas: 2))
        {
            pids.Add(await fixture.Host.ProcessIdAsync("key-validation", replica));
        }

        // Frozen, KeyValidation answers nothing: a lookup would wait out its deadline and fail. Its Watch streams stay
        // open but silent, so for WatchSilenceTimeout (3 s) the near cache stays in use.
        pids.ForEach(pid => ProcessSignals.Send(pid, ProcessSignals.Stop));
        try
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var answer = await orders.ListOrdersAsync(new ListOrdersRequest(), OrdersTests.WithKey(cached.Value), deadline: DateTime.UtcNow.AddSeconds(1));
            Assert.Equal(cached.Key.Id, answer.Caller.KeyId);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"the cached key took {clock.Elapsed.TotalMilliseconds:F0} ms");

            // The control: a key not in the near cache needs the lookup, which cannot be answered.
            var refusal = await Assert.ThrowsAsync<RpcException>(
                () => orders.ListOrdersAsync(new ListOrdersRequest(), OrdersTests.WithKey(unseen.Value)).ResponseAsync);
            OrdersTests.AssertRefused(refusal, StatusCode.Unavailable, "SERVICE_UNAVAILABLE");
        }
        finally
        {
            pids.ForEach(pid => ProcessSignals.SendIfAlive(pid, ProcessSignals.Continue));
        }
    }

    [Fact]
    public async Task WithKeyValidationStoppedNoKeyIsPassedUncheckedAndGarbageIsRefusedWithoutALookup()
    {
        var (cached, unseen) = await TwoKeysOneCachedAsync("Orders without KeyValidation");
        using var channel = GrpcChannel.ForAddress(fixture.App.GetEndpoint("orders", "grpc"));
        var orders = new Orders.V1.Orders.OrdersClient(channel);
        await orders.ListOrdersAsync(new ListOrdersRequest(), OrdersTests.WithKey(cached.Value));
        var replicas = await fixture.GetReplicaIdsAsync("key-validation", replicas: 2);

        foreach (var replica in replicas)
        {
            await fixture.StopResourceAsync("key-validation", replica);
        }

        try
        {
            // A key never looked up cannot be checked: UNAVAILABLE, never OK and never a 401 that blames it.
            var refusal = await Assert.ThrowsAsync<RpcException>(
                () => orders.ListOrdersAsync(new ListOrdersRequest(), OrdersTests.WithKey(unseen.Value)).ResponseAsync);
            OrdersTests.AssertRefused(refusal, StatusCode.Unavailable, "SERVICE_UNAVAILABLE");

            // The near cache was flushed when its Watch stream dropped: a key it held fails closed too.
            refusal = await Assert.ThrowsAsync<RpcException>(
                () => orders.ListOrdersAsync(new ListOrdersRequest(), OrdersTests.WithKey(cached.Value)).ResponseAsync);
            OrdersTests.AssertRefused(refusal, StatusCode.Unavailable, "SERVICE_UNAVAILABLE");

            // Garbage is decided from the key alone: INVALID_TOKEN although nothing could have looked it up.
            refusal = await Assert.ThrowsAsync<RpcException>(
                () => orders.ListOrdersAsync(new ListOrdersRequest(), OrdersTests.WithKey(cached.Value[..^1] + (cached.Value[^1] == 'a' ? 'b' : 'a'))).ResponseAsync);
            OrdersTests.AssertRefused(refusal, StatusCode.Unauthenticated, "INVALID_TOKEN");
        }
        finally
        {
            await fixture.StartResourceAsync("key-validation", replicaIds: replicas);
        }

        // Back: the service checks keys again without being restarted.
        await KeysHost.UntilAsync(
            async ct =>
            {
                try
                {
                    await orders.ListOrdersAsync(new ListOrdersRequest(), OrdersTests.WithKey(unseen.Value), cancellationToken: ct);
                    return true;
                }
                catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable)
                {
                    return false;
                }
            },
            new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
    }

    /// <summary>Two keys that may list orders: the caller puts the first into the service's near cache, the second never.</summary>
    private async Task<(CreatedKeyDto Cached, CreatedKeyDto Unseen)> TwoKeysOneCachedAsync(string projectName)
    {
        var admin = fixture.CreateKeyAdminClient();
        var project = await admin.CreateProjectAsync(projectName);
        var keys = new List<CreatedKeyDto>();
        foreach (var name in new[] { "cached", "unseen" })
        {
            keys.Add(await KeyAdminClient.ReadAsync<CreatedKeyDto>(
                await admin.PostKeyAsync(project.Id, "prod", new { name, type = "secret", scopes = new[] { "orders:read" } })));
        }

        return (keys[0], keys[1]);
    }
}
