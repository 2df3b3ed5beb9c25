using System.Diagnostics;
using Grpc.Net.Client;
using Keys.ApiKeys;
using Keys.FunctionalTests.Infrastructure;
using Keys.V1;
using StackExchange.Redis;

namespace Keys.FunctionalTests;

/// <summary>KeyValidation's gRPC contract, against its two replicas, Redis and KeyAdmin.</summary>
[Collection(KeysCollection.Name)]
public sealed class KeyValidationTests(KeysAppFixture fixture) : IDisposable
{
    private readonly KeyAdminClient _admin = fixture.CreateKeyAdminClient();
    private readonly GrpcChannel _channel = fixture.KeyValidationChannel();

    private KeyValidationService.KeyValidationServiceClient Validation => new(_channel);

    [Fact]
    public async Task ValidKeyIsValidWithItsIdentity()
    {
        var project = await _admin.CreateProjectAsync();
        var expires = DateTimeOffset.UtcNow.AddDays(1);
        var created = await KeyAdminClient.ReadAsync<CreatedKeyDto>(await _admin.PostKeyAsync(
            project.Id, "staging", new { name = "identity", type = "publishable", scopes = new[] { "posts:read" }, expiresAt = expires }));

        var result = await Validation.ValidateAsync(new ValidateRequest { Key = created.Value });

        Assert.Equal(ValidationOutcome.Valid, result.Outcome);
        Assert.Equal((created.Key.Id, project.Id, "staging", KeyType.Publishable), (result.KeyId, result.ProjectId, result.Environment, result.Type));
        Assert.Equal(["posts:read"], result.Scopes);
        Assert.Equal(expires.ToUnixTimeSeconds(), result.ExpiresAt.Seconds);
    }

    [Theory]
    [InlineData("")]
    [InlineData("sk_short")]
    [InlineData("pk_0000000000000000000000000000000000000000000000000")]
    public async Task MalformedKeyIsInvalidFormat(string key)
    {
        var result = await Validation.ValidateAsync(new ValidateRequest { Key = key });

        Assert.Equal(ValidationOutcome.InvalidFormat, result.Outcome);
        Assert.Empty(result.KeyId);
    }

    [Fact]
    public async Task WellFormedUnknownKeyIsNotFound()
    {
        var result = await Validation.ValidateAsync(new ValidateRequest { Key = KeyString.Generate(ApiKeyType.Secret) });

        Assert.Equal(ValidationOutcome.NotFound, result.Outcome);
    }

    [Fact]
    public async Task DeletedKeyIsRevoked()
    {
        var project = await _admin.CreateProjectAsync();
        var created = await _admin.CreateKeyAsync(project.Id, "dev", "to-revoke", "secret");
        Assert.Equal(ValidationOutcome.Valid, (await Validation.ValidateAsync(new ValidateRequest { Key = created.Value })).Outcome);

        await _admin.DeleteKeyAsync(project.Id, "dev", created.Key.Id, "to-revoke");

        Assert.Equal(ValidationOutcome.Revoked, await EventuallyAsync(created.Value, ValidationOutcome.Revoked, TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public async Task CachedKeyExpiresAtTheExactSecond()
    {
        var project = await _admin.CreateProjectAsync();
        var expiresAt = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.AddSeconds(3).ToUnixTimeSeconds());
        var created = await KeyAdminClient.ReadAsync<CreatedKeyDto>(
            await _admin.PostKeyAsync(project.Id, "dev", new { name = "brief", type = "secret", expiresAt }));

        DateTimeOffset? lastValid = null;
        DateTimeOffset? firstExpired = null;
        while (firstExpired is null && DateTimeOffset.UtcNow < expiresAt.AddSeconds(2))
        {
            var before = DateTimeOffset.UtcNow;
            var outcome = (await Validation.ValidateAsync(new ValidateRequest { Key = created.Value })).Outcome;
            if (outcome == ValidationOutcome.Valid)
            {
                lastValid = before;
            }
            else
            {
                Assert.Equal(ValidationOutcome.Expired, outcome);
                firstExpired = DateTimeOffset.UtcNow;
            }

            await Task.Delay(10);
        }

        Assert.NotNull(lastValid);
        Assert.NotNull(firstExpired);
        Assert.True(lastValid < expiresAt, $"valid at {lastValid:O}, after the expiry {expiresAt:O}");
        Assert.InRange(firstExpired.Value, expiresAt, expiresAt.AddMilliseconds(250));
    }

    [Fact]
    public async Task RevocationIsSeenThroughWatch()
    {
        var project = await _admin.CreateProjectAsync();
        var created = await _admin.CreateKeyAsync(project.Id, "dev", "watched", "secret");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        using var watch = await OpenWatchAsync(new WatchRequest(), timeout.Token);
        Assert.Equal(WatchEvent.EventOneofCase.Heartbeat, watch.ResponseStream.Current.EventCase);

        await _admin.DeleteKeyAsync(project.Id, "dev", created.Key.Id, "watched");

        var hash = KeyHash.Of(created.Value).ToArray();
        while (await watch.ResponseStream.MoveNext(timeout.Token))
        {
            var current = watch.ResponseStream.Current;
            if (current.EventCase == WatchEvent.EventOneofCase.Invalidation && current.Invalidation.KeyHash.Span.SequenceEqual(hash))
            {
                Assert.True(current.Invalidation.Sequence > 0);
                return;
            }
        }

        Assert.Fail("the stream ended without the invalidation");
    }

    [Fact]
    public async Task WatchReplaysRecentInvalidationsAndTellsOlderClientsToFlush()
    {
        var project = await _admin.CreateProjectAsync();
        var first = await DeleteNewKeyAsync(project.Id, "replay-0");
        for (var i = 1; i <= KeysAppFixture.WatchReplayCapacity + 2; i++)
        {
            await DeleteNewKeyAsync(project.Id, $"replay-{i}");
        }

        var latest = await DeleteNewKeyAsync(project.Id, "replay-last");

        // Each replica hears of the deletes on its own, a moment after they commit: asked until the one that answers
        // has them all (and judged on its answer).
        WatchEvent recent, tooOld;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        do
        {
            recent = await FirstEventAsync(latest.Sequence - 1);
            tooOld = await FirstEventAsync(first.Sequence - 1);
        }
        while (!(Replayed(recent, latest.Sequence) && Flushed(tooOld, latest.Sequence)) && DateTime.UtcNow < deadline);

        Assert.Equal(WatchEvent.EventOneofCase.Invalidation, recent.EventCase);
        Assert.Equal(latest.Sequence, recent.Invalidation.Sequence);

        Assert.Equal(WatchEvent.EventOneofCase.Flush, tooOld.EventCase);
        Assert.True(tooOld.Flush.Sequence >= latest.Sequence);

        static bool Replayed(WatchEvent e, long sequence) => e.EventCase == WatchEvent.EventOneofCase.Invalidation && e.Invalidation.Sequence == sequence;

        static bool Flushed(WatchEvent e, long sequence) => e.EventCase == WatchEvent.EventOneofCase.Flush && e.Flush.Sequence >= sequence;
    }

    [Fact]
    public async Task DeletedKeyIsRejectedEvenWhenItsPubSubMessageIsLost()
    {
        var project = await _admin.CreateProjectAsync();
        var created = await _admin.CreateKeyAsync(project.Id, "dev", "message-lost", "secret");
        Assert.Equal(ValidationOutcome.Valid, (await Validation.ValidateAsync(new ValidateRequest { Key = created.Value })).Outcome);

        await using var redis = await ConnectionMultiplexer.ConnectAsync((await fixture.App.GetConnectionStringAsync("redis"))!);
        var server = redis.GetServer(redis.GetEndPoints()[0]);
        await server.ExecuteAsync("ACL", "SETUSER", "default", "-publish");
        try
        {
            // KeyAdmin cannot publish: no replica hears of this delete on the channel.
            await _admin.DeleteKeyAsync(project.Id, "dev", created.Key.Id, "message-lost");

            Assert.Equal(ValidationOutcome.Revoked, await EventuallyAsync(created.Value, ValidationOutcome.Revoked, TimeSpan.FromSeconds(5)));
        }
        finally
        {
            await server.ExecuteAsync("ACL", "SETUSER", "default", "+publish");
        }
    }

    [Fact]
    public async Task GarbageKeysCostNoRedisLookup()
    {
        var garbage = Enumerable.Range(0, 10_000).Select(i => $"sk_{i:D49}").ToList();
        await using var monitor = await RedisMonitor.StartAsync((await fixture.App.GetConnectionStringAsync("redis"))!);

        foreach (var batch in garbage.Chunk(500))
        {
            await Task.WhenAll(batch.Select(async key => Assert.Equal(
                ValidationOutcome.InvalidFormat, (await Validation.ValidateAsync(new ValidateRequest { Key = key })).Outcome)));
        }

        var afterGarbage = monitor.Count("keys:v1:record:");
        await Validation.ValidateAsync(new ValidateRequest { Key = KeyString.Generate(ApiKeyType.Secret) });
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (monitor.Count("keys:v1:record:") == afterGarbage && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.Equal(0, afterGarbage);
        Assert.True(monitor.Count("keys:v1:record:") > 0, "the monitor did not see a real lookup either, so it proves nothing");
    }

    [Fact]
    public async Task BothReplicasSeeARevocation()
    {
        var replicas = await fixture.GetReplicaAddressesAsync("key-validation", "grpc", replicas: 2);
        var project = await _admin.CreateProjectAsync();
        var created = await _admin.CreateKeyAsync(project.Id, "dev", "everywhere", "secret");
        var channels = replicas.Select(address => fixture.ServiceChannel(address)).ToList();
        try
        {
            foreach (var channel in channels)
            {
                var client = new KeyValidationService.KeyValidationServiceClient(channel);
                Assert.Equal(ValidationOutcome.Valid, (await client.ValidateAsync(new ValidateRequest { Key = created.Value })).Outcome);
            }

            await _admin.DeleteKeyAsync(project.Id, "dev", created.Key.Id, "everywhere");

            foreach (var channel in channels)
            {
                Assert.Equal(ValidationOutcome.Revoked, await EventuallyAsync(created.Value, ValidationOutcome.Revoked, TimeSpan.FromSeconds(1), channel));
            }
        }
        finally
        {
            channels.ForEach(c => c.Dispose());
        }
    }

    [Fact]
    public async Task LastUsedShowsInTheKeyListSoonAfterUse()
    {
        var project = await _admin.CreateProjectAsync();
        var created = await _admin.CreateKeyAsync(project.Id, "dev", "used", "publishable");
        Assert.Null((await _admin.ListKeysAsync(project.Id, "dev")).Keys.Single().LastUsedAt);
        var usedAt = DateTimeOffset.UtcNow;

        await Validation.ValidateAsync(new ValidateRequest { Key = created.Value });

        var clock = Stopwatch.StartNew();
        DateTimeOffset? lastUsed = null;
        while (lastUsed is null && clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(200);
            lastUsed = (await _admin.ListKeysAsync(project.Id, "dev")).Keys.Single().LastUsedAt;
        }

        Assert.NotNull(lastUsed);
        Assert.InRange(lastUsed.Value, usedAt.AddSeconds(-1), DateTimeOffset.UtcNow);
    }

    public void Dispose() => _channel.Dispose();

    private async Task<ValidationOutcome> EventuallyAsync(string key, ValidationOutcome wanted, TimeSpan within, GrpcChannel? channel = null)
    {
        var client = new KeyValidationService.KeyValidationServiceClient(channel ?? _channel);
        var clock = Stopwatch.StartNew();
        ValidationOutcome outcome;
        do
        {
            outcome = (await client.ValidateAsync(new ValidateRequest { Key = key })).Outcome;
        }
        while (outcome != wanted && clock.Elapsed < within && await Delay());

        return outcome;

        static async Task<bool> Delay()
        {
            await Task.Delay(20);
            return true;
        }
    }

    private async Task<KeyInvalidation> DeleteNewKeyAsync(string projectId, string name)
    {
        var created = await _admin.CreateKeyAsync(projectId, "dev", name, "secret");
        await _admin.DeleteKeyAsync(projectId, "dev", created.Key.Id, name);
        var keyAdmin = fixture.CreateKeyAdminInternalClient(out var channel);
        using var disposeChannel = channel;
        var changes = await keyAdmin.ChangesAsync(new ChangesRequest());
        var hash = KeyHash.Of(created.Value).ToArray();
        return changes.Changes.Last(c => c.KeyHash.Span.SequenceEqual(hash));
    }

    private async Task<WatchEvent> FirstEventAsync(long fromSequence)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        using var watch = await OpenWatchAsync(new WatchRequest { FromSequence = fromSequence }, timeout.Token);
        return watch.ResponseStream.Current;
    }

    /// <summary>
    /// A Watch stream with its first event read. A replica that is not current with KeyAdmin (it was just restarted, or
    /// KeyAdmin was) refuses with Unavailable, and a client tries again, as the gateway does.
    /// </summary>
    private async Task<Grpc.Core.AsyncServerStreamingCall<WatchEvent>> OpenWatchAsync(WatchRequest request, CancellationToken cancellationToken)
    {
        while (true)
        {
            var watch = Validation.Watch(request, cancellationToken: cancellationToken);
            try
            {
                Assert.True(await watch.ResponseStream.MoveNext(cancellationToken));
                return watch;
            }
            catch (Grpc.Core.RpcException ex) when (ex.StatusCode == Grpc.Core.StatusCode.Unavailable)
            {
                watch.Dispose();
                await Task.Delay(100, cancellationToken);
            }
        }
    }
}
