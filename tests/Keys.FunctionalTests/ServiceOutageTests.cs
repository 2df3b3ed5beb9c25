using System.Diagnostics;
using System.Net;
using Grpc.Core;
using Keys.ApiKeys;
using Keys.FunctionalTests.Infrastructure;
using Keys.V1;

namespace Keys.FunctionalTests;

/// <summary>
/// A service stopped or frozen under the others: they fail closed, shed load rather than queue it, and recover. On a
/// system of their own (<see cref="FaultsAppFixture"/>), which each test leaves whole again.
/// </summary>
public sealed class ServiceOutageTests(FaultsAppFixture fixture) : FaultTests
{
    protected override FaultsAppFixture Faults => fixture;

    [Fact]
    public async Task KeyValidationDownIs503AndTheGatewayRecoversWhenItIsBack()
    {
        var admin = fixture.CreateKeyAdminClient();
        var project = await admin.CreateProjectAsync("KeyValidation down");
        var publishable = await admin.CreateKeyAsync(project.Id, "dev", "browser-app", "publishable");
        using var gateway = fixture.CreateGatewayClient();
        var cachedKey = await admin.CreateKeyAsync(project.Id, "dev", "cached-before-outage", "secret");
        Assert.Equal(HttpStatusCode.OK, (await gateway.SendAsync(GatewayResponses.Get("/demo/public/x", cachedKey.Value))).StatusCode);
        var replicas = await fixture.GetReplicaIdsAsync("key-validation", replicas: 2);

        foreach (var replica in replicas)
        {
            await fixture.StopResourceAsync("key-validation", replica);
        }

        try
        {
            var unknown = await gateway.SendAsync(GatewayResponses.Get("/demo/public/x", publishable.Value));
            await GatewayTests.AssertRejectedAsync(unknown, HttpStatusCode.ServiceUnavailable, "SERVICE_UNAVAILABLE");
            Assert.True(unknown.Headers.RetryAfter?.Delta > TimeSpan.Zero);

            // The near cache flushed when its invalidation stream dropped: a cached key fails closed too.
            var cached = await gateway.SendAsync(GatewayResponses.Get("/demo/public/x", cachedKey.Value));
            await GatewayTests.AssertRejectedAsync(cached, HttpStatusCode.ServiceUnavailable, "SERVICE_UNAVAILABLE");
        }
        finally
        {
            await fixture.StartResourceAsync("key-validation", replicaIds: replicas);
        }

        var clock = Stopwatch.StartNew();
        HttpResponseMessage response;
        do
        {
            response = await gateway.SendAsync(GatewayResponses.Get("/demo/public/x", publishable.Value));
        }
        while (response.StatusCode != HttpStatusCode.OK && clock.Elapsed < TimeSpan.FromSeconds(30) && await Pause());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        // Back to normal: a key the gateway caches after the outage is still revoked within a second of its delete.
        var afterOutage = await admin.CreateKeyAsync(project.Id, "dev", "after-outage", "secret");
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await gateway.SendAsync(GatewayResponses.Get("/demo/public/x", afterOutage.Value))).StatusCode);
        }

        await admin.DeleteKeyAsync(project.Id, "dev", afterOutage.Key.Id, "after-outage");
        response = await gateway.FirstRejectionAsync("/demo/public/x", afterOutage.Value, within: TimeSpan.FromSeconds(1));

        await GatewayTests.AssertRejectedAsync(response, HttpStatusCode.Unauthorized, "TOKEN_REVOKED");

        static async Task<bool> Pause()
        {
            await Task.Delay(100);
            return true;
        }
    }

    [Fact]
    public async Task AFloodOfUnknownKeysIsShedRatherThanQueuedOnKeyAdmin()
    {
        // With KeyAdmin frozen, every lookup that reaches it waits out its deadline: at most MaxConcurrentLookups may
        // wait, and the rest must be refused at once, not queued behind them.
        const int maxConcurrentLookups = 64;
        const int flood = 300;
        var replica = (await fixture.GetReplicaAddressesAsync("key-validation", "grpc", replicas: 2))[0];
        using var channel = fixture.ServiceChannel(replica);
        var client = new KeyValidationService.KeyValidationServiceClient(channel);
        var keys = Enumerable.Range(0, flood).Select(_ => KeyString.Generate(ApiKeyType.Secret)).ToList();

        var outcomes = new List<string>();
        await fixture.FreezeAsync("key-admin", async () =>
        {
            var calls = keys.Select(async key =>
            {
                try
                {
                    return (await client.ValidateAsync(new ValidateRequest { Key = key })).Outcome.ToString();
                }
                catch (RpcException ex)
                {
                    return $"{ex.StatusCode}: {ex.Status.Detail}";
                }
            });
            outcomes.AddRange(await Task.WhenAll(calls));
        });
        await fixture.WaitForReplicasHealthyAsync("key-validation");

        var shed = outcomes.Count(o => o.StartsWith("ResourceExhausted: Too many key lookups", StringComparison.Ordinal));
        Assert.True(shed >= flood - maxConcurrentLookups, $"only {shed} of {flood} lookups were shed: {string.Join(", ", outcomes.Distinct())}");
        // The rest waited on the frozen KeyAdmin and failed closed.
        Assert.All(outcomes, o => Assert.True(
            o.StartsWith("ResourceExhausted", StringComparison.Ordinal) || o.StartsWith("Unavailable", StringComparison.Ordinal), o));
    }
}
