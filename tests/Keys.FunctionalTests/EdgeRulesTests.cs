using System.Diagnostics;
using System.Net;
using Keys.ApiKeys;
using Keys.FunctionalTests.Infrastructure;
using static Keys.FunctionalTests.Infrastructure.LoopbackClients;

namespace Keys.FunctionalTests;

/// <summary>
/// What the gateway refuses or strips at the edge so that neither a key nor a forged header reaches further than it
/// should: least-privilege scopes, header spoofing, path confusion, shared caches and concurrent key guessing.
/// </summary>
[Collection(KeysCollection.Name)]
public sealed class EdgeRulesTests(KeysAppFixture fixture)
{
    // Loopback subnets of their own (see LoopbackClients.Addresses), so that no other test's refusals count here.
    private const int ConcurrentGuessesSubnet = 40;
    private const int ForwardedForSubnet = 41;

    [Fact]
    public async Task ConcurrentUnknownKeysFromOneAddressCauseAtMostTheLimitOfLookups()
    {
        var gateway = (await fixture.GetReplicaAddressesAsync("gateway", "http", replicas: 2))[0];
        using var attacker = ClientFrom(Addresses(ConcurrentGuessesSubnet, 1)[0], gateway);
        var guesses = Enumerable.Range(0, 3 * KeysAppFixture.InvalidKeyLimit).Select(_ => KeyString.Generate(ApiKeyType.Secret)).ToList();
        var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var sending = guesses.Select(async guess =>
        {
            await go.Task;
            using var response = await attacker.SendAsync(GatewayResponses.Get("/demo/public/x", guess));
            return $"{(int)response.StatusCode} {(await response.ReadErrorAsync()).Error}";
        }).ToList();
        var clock = Stopwatch.StartNew();
        go.SetResult();
        var answers = await Task.WhenAll(sending);
        clock.Stop();

        // Every answer but a 429 is a lookup: 401 INVALID_TOKEN, or 503 if one timed out on this busy machine. The
        // bound holds per window, so the burst must fit in one.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"the burst took {clock.Elapsed}, longer than the throttle's window");
        var counts = string.Join(", ", answers.GroupBy(a => a).Select(g => $"{g.Count()} × {g.Key}"));
        var lookups = answers.Count(a => a != "429 TOO_MANY_REQUESTS");
        Assert.True(
            lookups <= KeysAppFixture.InvalidKeyLimit,
            $"{lookups} lookups for {guesses.Count} concurrent guesses, the limit being {KeysAppFixture.InvalidKeyLimit}: {counts}");
        Assert.All(answers.Where(a => a != "429 TOO_MANY_REQUESTS"), a => Assert.Contains(a, new[] { "401 INVALID_TOKEN", "503 SERVICE_UNAVAILABLE" }));
    }

    [Fact]
    public async Task ForwardedForIsIgnoredWithoutTrustedProxies()
    {
        var gateway = (await fixture.GetReplicaAddressesAsync("gateway", "http", replicas: 2))[0];
        using var attacker = ClientFrom(Addresses(ForwardedForSubnet, 1)[0], gateway);

        HttpResponseMessage response = null!;
        for (var i = 0; i <= KeysAppFixture.InvalidKeyLimit; i++)
        {
            // A new "client" in every request: were X-Forwarded-For believed, each would get a fresh allowance.
            var request = GatewayResponses.Get("/demo/public/x", KeyString.Generate(ApiKeyType.Secret));
            request.Headers.TryAddWithoutValidation("X-Forwarded-For", $"198.51.{i / 250}.{(i % 250) + 1}");
            response = await attacker.SendAsync(request);
        }

        await AssertRejectedAsync(response, HttpStatusCode.TooManyRequests, "TOO_MANY_REQUESTS");
    }

    private static async Task AssertRejectedAsync(HttpResponseMessage response, HttpStatusCode status, string error)
    {
        Assert.True(status == response.StatusCode, $"expected {(int)status} {error}, got {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        Assert.Equal(error, (await response.ReadErrorAsync()).Error);
    }
}
