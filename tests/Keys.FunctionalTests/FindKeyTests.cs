using System.Net;
using Grpc.Core;
using Keys.ApiKeys;
using Keys.FunctionalTests.Infrastructure;
using Keys.V1;

namespace Keys.FunctionalTests;

/// <summary>FindKey: which key is this value? Deleted keys included, other projects' keys never told, the value never logged.</summary>
[Collection(KeysCollection.Name)]
public sealed class FindKeyTests(KeysAppFixture fixture) : IDisposable
{
    private readonly KeyLifecycle _keys = new(fixture);

    private KeyAdminService.KeyAdminServiceClient Grpc => _keys.Grpc;

    [Fact]
    public async Task ALiveKeyIsFoundByItsValueOverRestAndGrpc()
    {
        var project = await _keys.NewProjectAsync();
        var secret = await _keys.NewKeyAsync(project.Id, "secret", "found");
        var publishable = await _keys.NewKeyAsync(project.Id, "publishable", "found-too");

        var overRest = await KeyLifecycle.ReadAsync<ApiKey>(await _keys.FindOverRestAsync(secret.Value));
        var overGrpc = await Grpc.FindKeyAsync(new FindKeyRequest { Key = publishable.Value }, _keys.Admin);

        Assert.Equal(secret.Key, overRest);
        Assert.Equal((secret.Key.Id, project.Id, "active", false), (overRest.Id, overRest.ProjectId, overRest.Status, overRest.HasValue));
        Assert.Equal(publishable.Key, overGrpc);
    }

    [Fact]
    public async Task RolledAndDeletedKeysAreFoundWithWhatBecameOfThem()
    {
        var project = await _keys.NewProjectAsync();
        var rolling = await _keys.NewKeyAsync(project.Id);
        await Grpc.RollKeyAsync(new RollKeyRequest { ProjectId = project.Id, Environment = "dev", KeyId = rolling.Key.Id, GracePeriodSeconds = 3600 }, _keys.Admin);
        var rolledOut = await _keys.NewKeyAsync(project.Id);
        await Grpc.RollKeyAsync(new RollKeyRequest { ProjectId = project.Id, Environment = "dev", KeyId = rolledOut.Key.Id }, _keys.Admin);
        var deleted = await _keys.NewKeyAsync(project.Id);
        await Grpc.DeleteKeyAsync(new DeleteKeyRequest { ProjectId = project.Id, Environment = "dev", KeyId = deleted.Key.Id, ConfirmName = deleted.Key.Name }, _keys.Admin);

        var stillRolling = await Find(rolling.Value);
        var gone = await Find(rolledOut.Value);
        var wasDeleted = await Find(deleted.Value);

        Assert.Equal("rolling", stillRolling.Status);
        Assert.Null(stillRolling.DeletedAt);
        Assert.True(stillRolling.RevokesAt.ToDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(59));
        Assert.Equal("deleted", gone.Status);
        Assert.Null(gone.DeletedAt);
        Assert.NotNull(gone.RevokesAt);
        Assert.Equal((deleted.Key.Id, "deleted"), (wasDeleted.Id, wasDeleted.Status));
        Assert.NotNull(wasDeleted.DeletedAt);
        Assert.InRange(wasDeleted.DeletedAt.ToDateTimeOffset(), DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddMinutes(1));

        async Task<ApiKey> Find(string value) => await Grpc.FindKeyAsync(new FindKeyRequest { Key = value }, _keys.Admin);
    }

    [Fact]
    public async Task AnotherProjectsKeyAnswersALimitedTokenExactlyAsAKeyThatDoesNotExist()
    {
        var mine = await _keys.NewProjectAsync("Mine");
        var theirs = await _keys.NewProjectAsync("Theirs");
        var myKey = await _keys.NewKeyAsync(mine.Id);
        var theirKey = await _keys.NewKeyAsync(theirs.Id);
        var viewer = await Grpc.CreateOperatorAsync(
            new CreateOperatorRequest { Name = $"finder-{Guid.NewGuid():N}", Role = "viewer", ProjectIds = { mine.Id } }, _keys.Admin);
        var limited = fixture.CreateKeyAdminClient(viewer.Token);

        var theirsAnswer = await limited.Http.PostAsJsonAsync("/v1/keys:find", new { key = theirKey.Value });
        var unknownAnswer = await limited.Http.PostAsJsonAsync("/v1/keys:find", new { key = KeyString.Generate(ApiKeyType.Secret) });
        var grpcTheirs = await KeyLifecycle.RefusedAsync(
            () => Grpc.FindKeyAsync(new FindKeyRequest { Key = theirKey.Value }, KeyLifecycle.Bearer(viewer.Token)).ResponseAsync, StatusCode.NotFound, "KEY_NOT_FOUND");
        var grpcUnknown = await KeyLifecycle.RefusedAsync(
            () => Grpc.FindKeyAsync(new FindKeyRequest { Key = KeyString.Generate(ApiKeyType.Publishable) }, KeyLifecycle.Bearer(viewer.Token)).ResponseAsync,
            StatusCode.NotFound, "KEY_NOT_FOUND");

        var theirsBody = await theirsAnswer.Content.ReadAsStringAsync();
        Assert.Equal((HttpStatusCode.NotFound, HttpStatusCode.NotFound), (theirsAnswer.StatusCode, unknownAnswer.StatusCode));
        Assert.Equal(await unknownAnswer.Content.ReadAsStringAsync(), theirsBody);
        Assert.Equal(grpcUnknown.Status.Detail, grpcTheirs.Status.Detail);
        Assert.DoesNotContain(theirKey.Key.Id, theirsBody, StringComparison.Ordinal);
        Assert.DoesNotContain(theirs.Id, theirsBody, StringComparison.Ordinal);
        Assert.Equal(myKey.Key.Id, (await Grpc.FindKeyAsync(new FindKeyRequest { Key = myKey.Value }, KeyLifecycle.Bearer(viewer.Token))).Id);
        // The admin token may see every project, theirs included.
        Assert.Equal(theirKey.Key.Id, (await Grpc.FindKeyAsync(new FindKeyRequest { Key = theirKey.Value }, _keys.Admin)).Id);
    }

    public static TheoryData<string> NotKeys()
    {
        var key = KeyString.Generate(ApiKeyType.Secret);
        return new TheoryData<string>
        {
            "",
            "garbage",
            key[..^1],
            key + "x",
            key[..^1] + (key[^1] == 'a' ? 'b' : 'a'),
            "pk_" + key[3..].ToUpperInvariant(),
            OperatorToken.Generate(),
            "key_0123456789abcdefABCDEF",
        };
    }

    [Theory]
    [MemberData(nameof(NotKeys))]
    public async Task AnythingButAWellFormedKeyIsInvalidKeyFormatAndIsNotEchoed(string value)
    {
        var error = await KeyAdminClient.AssertErrorAsync(await _keys.FindOverRestAsync(value), HttpStatusCode.BadRequest, "INVALID_KEY_FORMAT");

        if (value.Length > 0)
        {
            Assert.DoesNotContain(value, error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task AValueSentToFindKeyAppearsInNoResourceLog()
    {
        var project = await _keys.NewProjectAsync();
        var secret = await _keys.NewKeyAsync(project.Id, "secret", "looked-up");
        var unknown = KeyString.Generate(ApiKeyType.Secret);
        var token = OperatorToken.Generate();
        var broken = secret.Value[..^1] + (secret.Value[^1] == 'a' ? 'b' : 'a');
        var before = Occurrences((await fixture.ReadLogsByResourceAsync())["key-admin"]);

        Assert.Equal(HttpStatusCode.OK, (await _keys.FindOverRestAsync(secret.Value)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _keys.FindOverRestAsync(unknown)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await _keys.FindOverRestAsync(token)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await _keys.FindOverRestAsync(broken)).StatusCode);
        await Grpc.FindKeyAsync(new FindKeyRequest { Key = secret.Value }, _keys.Admin);
        await KeyLifecycle.RefusedAsync(() => Grpc.FindKeyAsync(new FindKeyRequest { Key = unknown }, _keys.Admin).ResponseAsync, StatusCode.NotFound, "KEY_NOT_FOUND");

        // The search means something only once the lines those requests made KeyAdmin write have reached the test.
        var logs = await fixture.ReadLogsByResourceAsync();
        for (var deadline = DateTime.UtcNow.AddSeconds(10); Occurrences(logs["key-admin"]) < before + 6 && DateTime.UtcNow < deadline;)
        {
            await Task.Delay(100);
            logs = await fixture.ReadLogsByResourceAsync();
        }

        Assert.True(Occurrences(logs["key-admin"]) >= before + 6, "KeyAdmin logged none of the FindKey requests, so the search cannot see what it would log");
        var all = string.Concat(logs.Values);
        var hash = KeyHash.Of(secret.Value).ToArray();
        foreach (var forbidden in new[]
        {
            secret.Value, secret.Value[3..^6], unknown[3..^6], token[3..^6], broken[3..^6],
            Convert.ToHexString(hash), Convert.ToHexStringLower(hash), Convert.ToBase64String(hash),
        })
        {
            Assert.DoesNotContain(forbidden, all, StringComparison.Ordinal);
        }
    }

    public void Dispose() => _keys.Dispose();

    // A line for each request: the endpoint it ran (REST's route or the gRPC method), never its body.
    private static int Occurrences(string log) =>
        log.Split('\n').Count(line => line.Contains("keys:find", StringComparison.Ordinal) || line.Contains("KeyAdminService/FindKey", StringComparison.Ordinal));
}
