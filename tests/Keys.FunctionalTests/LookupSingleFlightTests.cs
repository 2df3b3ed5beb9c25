using System.Diagnostics;
using System.Text.RegularExpressions;
using Grpc.Net.Client;
using Keys.ApiKeys;
using Keys.FunctionalTests.Infrastructure;
using Keys.V1;
using StackExchange.Redis;

namespace Keys.FunctionalTests;

/// <summary>
/// Single flight across KeyValidation replicas: both replicas missing the same keys at once cost KeyAdmin one
/// <c>LookupKey</c> per key, and the lease that makes it so can delay an answer but never refuse one. KeyAdmin's calls
/// are counted from its request log (the fixture turns it on).
/// </summary>
[Collection(KeysCollection.Name)]
public sealed partial class LookupSingleFlightTests(KeysAppFixture fixture) : IDisposable
{
    private const int KeyCount = 16;
    private const int CallsPerReplica = 1;

    private readonly KeyAdminClient _admin = fixture.CreateKeyAdminClient();
    private readonly List<GrpcChannel> _channels = [];

    [Fact]
    public async Task FreshKeysMissedByBothReplicasAtOnceAreLookedUpInKeyAdminOnceEach()
    {
        var replicas = await ReplicasAsync();
        var project = await _admin.CreateProjectAsync();
        var keys = new List<string>();
        for (var i = 0; i < KeyCount; i++)
        {
            keys.Add((await _admin.CreateKeyAsync(project.Id, "dev", $"single-flight-{i}", "secret")).Value);
        }

        // The keys' creations reach both replicas' invalidation feeds before anything is asked of them, and the first
        // lookups of a system just started (connections, JIT), which can outlast a deadline on a busy machine, are done.
        await WarmAsync(replicas);
        var before = await LookupKeyCallsAsync();

        // Every key on both replicas at once: every replica misses every key at the same moment.
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = keys.SelectMany(key => replicas.SelectMany(replica => Enumerable.Range(0, CallsPerReplica).Select(async _ =>
        {
            await start.Task;
            return (await replica.ValidateAsync(new ValidateRequest { Key = key })).Outcome;
        }))).ToList();
        start.SetResult();
        var outcomes = await Task.WhenAll(calls);

        Assert.All(outcomes, o => Assert.Equal(ValidationOutcome.Valid, o));
        var lookups = await SettledLookupKeyCallsAsync(before, atLeast: KeyCount) - before;
        Assert.True(lookups >= 1, "KeyAdmin's request log shows no LookupKey at all, so the count cannot see them");
        Assert.True(lookups <= KeyCount, $"{lookups} LookupKey calls for {KeyCount} keys, each missed by both replicas at once");
    }

    [Fact]
    public async Task ALeaseWhoseHolderNeverAnswersDelaysTheLookupButDoesNotRefuseIt()
    {
        var replicas = await ReplicasAsync();
        var project = await _admin.CreateProjectAsync();
        var key = (await _admin.CreateKeyAsync(project.Id, "dev", "orphaned-lease", "secret")).Value;
        await WarmAsync(replicas);

        // What a replica that took the lease and died leaves behind: a lease that outlives any wait for it.
        await using var redis = await ConnectionMultiplexer.ConnectAsync((await fixture.App.GetConnectionStringAsync("redis"))!);
        var lease = $"keys:v1:lease:{Convert.ToHexStringLower(KeyHash.Of(key).ToArray())}";
        Assert.True(await redis.GetDatabase().StringSetAsync(lease, "dead-holder", TimeSpan.FromMinutes(1), When.NotExists));
        try
        {
            var clock = Stopwatch.StartNew();
            var result = await replicas[0].ValidateAsync(new ValidateRequest { Key = key }, deadline: DateTime.UtcNow.AddSeconds(10));

            Assert.Equal(ValidationOutcome.Valid, result.Outcome);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"the answer took {clock.Elapsed.TotalSeconds:F1} s behind an orphaned lease");
        }
        finally
        {
            await redis.GetDatabase().KeyDeleteAsync(lease);
        }
    }

    private async Task WarmAsync(List<KeyValidationService.KeyValidationServiceClient> replicas)
    {
        var project = await _admin.CreateProjectAsync();
        var key = (await _admin.CreateKeyAsync(project.Id, "dev", "warm-up", "secret")).Value;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        foreach (var replica in replicas)
        {
            await KeysHost.UntilAsync(
                async ct =>
                {
                    try
                    {
                        return (await replica.ValidateAsync(new ValidateRequest { Key = key }, cancellationToken: ct)).Outcome == ValidationOutcome.Valid;
                    }
                    catch (Grpc.Core.RpcException ex) when (ex.StatusCode is Grpc.Core.StatusCode.Unavailable or Grpc.Core.StatusCode.ResourceExhausted)
                    {
                        return false;
                    }
                },
                timeout.Token);
        }

        await Task.Delay(TimeSpan.FromSeconds(2));
    }

    public void Dispose()
    {
        foreach (var channel in _channels)
        {
            channel.Dispose();
        }

        _admin.Http.Dispose();
    }

    private async Task<List<KeyValidationService.KeyValidationServiceClient>> ReplicasAsync()
    {
        var addresses = await fixture.GetReplicaAddressesAsync("key-validation", "grpc", replicas: 2);
        Assert.Equal(2, addresses.Count);
        var clients = new List<KeyValidationService.KeyValidationServiceClient>();
        foreach (var address in addresses)
        {
            var channel = fixture.ServiceChannel(address);
            _channels.Add(channel);
            clients.Add(new KeyValidationService.KeyValidationServiceClient(channel));
        }

        return clients;
    }

    private async Task<int> LookupKeyCallsAsync() => LookupKeyLine().Count((await fixture.ReadLogsByResourceAsync())["key-admin"]);

    /// <summary>The count once it reaches <paramref name="atLeast"/> calls more and then stays put for a second: log lines arrive late.</summary>
    private async Task<int> SettledLookupKeyCallsAsync(int before, int atLeast)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        var count = await LookupKeyCallsAsync();
        while (count - before < atLeast && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
            count = await LookupKeyCallsAsync();
        }

        while (true)
        {
            await Task.Delay(TimeSpan.FromSeconds(1));
            var next = await LookupKeyCallsAsync();
            if (next == count)
            {
                return count;
            }

            count = next;
        }
    }

    [GeneratedRegex(@"Executing endpoint 'gRPC - /keys\.v1\.KeyAdminInternalService/LookupKey'")]
    private static partial Regex LookupKeyLine();
}
