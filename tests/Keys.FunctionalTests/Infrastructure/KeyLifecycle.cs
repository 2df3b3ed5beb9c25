using System.Net;
using System.Text;
using Google.Protobuf;
using Google.Rpc;
using Grpc.Core;
using Grpc.Net.Client;
using Keys.ApiKeys;
using Keys.V1;

namespace Keys.FunctionalTests.Infrastructure;

/// <summary>
/// The calls of a key's lifecycle (UpdateKey, UpdateProject, FindKey, listings a page at a time) over gRPC and REST, and
/// what KeyValidation sees of them (LookupKey, Changes), for the tests of those calls.
/// </summary>
public sealed class KeyLifecycle(KeysAppFixture fixture) : IDisposable
{
    // REST answers are proto JSON: read back into the messages, so that a test compares fields, not spellings.
    private static readonly JsonParser Json = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(true));

    private readonly GrpcChannel _channel = GrpcChannel.ForAddress(fixture.App.GetEndpoint("key-admin", "grpc"));
    private readonly GrpcChannel _internal = fixture.ServiceChannel(fixture.App.GetEndpoint("key-admin", "grpc"), fixture.KeyValidationToken);

    public KeyAdminService.KeyAdminServiceClient Grpc => new(_channel);

    public KeyAdminInternalService.KeyAdminInternalServiceClient Internal => new(_internal);

    public Metadata Admin => fixture.AdminCallHeaders();

    public KeyAdminClient Rest { get; } = fixture.CreateKeyAdminClient();

    public static Metadata Bearer(string token) => new() { { "Authorization", $"Bearer {token}" } };

    public async Task<Project> NewProjectAsync(string name = "Lifecycle") =>
        await Grpc.CreateProjectAsync(new CreateProjectRequest { Name = name }, Admin);

    public async Task<CreateKeyResponse> NewKeyAsync(
        string projectId, string type = "secret", string? name = null, Action<CreateKeyRequest>? configure = null, string environment = "dev")
    {
        var request = new CreateKeyRequest { ProjectId = projectId, Environment = environment, Name = name ?? $"k-{Guid.NewGuid():N}", Type = type };
        configure?.Invoke(request);
        return await Grpc.CreateKeyAsync(request, Admin);
    }

    public async Task<ApiKey> KeyAsync(string projectId, string keyId, string environment = "dev")
    {
        for (var token = ""; ;)
        {
            var page = await Grpc.ListKeysAsync(
                new ListKeysRequest { ProjectId = projectId, Environment = environment, PageSize = 500, PageToken = token }, Admin);
            if (page.Keys.FirstOrDefault(k => k.Id == keyId) is { } key)
            {
                return key;
            }

            token = page.NextPageToken;
            Assert.True(token.Length > 0, $"{keyId} is not listed");
        }
    }

    public Task<HttpResponseMessage> PatchKeyAsync(string projectId, string environment, string keyId, string? json, string? query = null) =>
        PatchAsync($"/v1/projects/{projectId}/environments/{environment}/keys/{keyId}{query}", json);

    public Task<HttpResponseMessage> PatchProjectAsync(string projectId, string? json, string? query = null) =>
        PatchAsync($"/v1/projects/{projectId}{query}", json);

    public Task<HttpResponseMessage> FindOverRestAsync(string value) =>
        Rest.Http.PostAsync("/v1/keys:find", new StringContent(new JsonObjectWithKey(value).ToString(), Encoding.UTF8, "application/json"));

    /// <summary>A successful REST answer as its message.</summary>
    public static async Task<T> ReadAsync<T>(HttpResponseMessage response)
        where T : IMessage<T>, new()
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {body}");
        return Json.Parse<T>(body);
    }

    public static async Task<RpcException> RefusedAsync(Func<Task> call, StatusCode status, string reason)
    {
        var error = await Assert.ThrowsAsync<RpcException>(call);
        Assert.True((status, reason) == (error.StatusCode, Reason(error)), $"expected {status} {reason}, got {error.StatusCode} {Reason(error)}: {error.Status.Detail}");
        return error;
    }

    public static string? Reason(RpcException error) => error.GetRpcStatus()?.GetDetail<ErrorInfo>()?.Reason;

    /// <summary>The outbox's highest sequence now: invalidations written later come after it.</summary>
    public async Task<long> HeadSequenceAsync() => (await Internal.ChangesAsync(new ChangesRequest { SinceSequence = long.MaxValue - 1, Limit = 1 })).HeadSequence;

    /// <summary>Every invalidation written after <paramref name="since"/>, as KeyValidation's catch-up reads them.</summary>
    public async Task<IReadOnlyList<KeyInvalidation>> ChangesSinceAsync(long since)
    {
        var changes = new List<KeyInvalidation>();
        while (true)
        {
            var page = await Internal.ChangesAsync(new ChangesRequest { SinceSequence = since });
            changes.AddRange(page.Changes);
            if (page.Changes.Count == 0 || page.Changes[^1].Sequence >= page.HeadSequence)
            {
                return changes;
            }

            since = page.Changes[^1].Sequence;
        }
    }

    public static bool Concerns(KeyInvalidation invalidation, string keyValue) =>
        invalidation.KeyHash.Span.SequenceEqual(KeyHash.Of(keyValue).ToArray());

    /// <summary>The record KeyValidation gets for a key it has not cached.</summary>
    public async Task<KeyRecord?> LookupAsync(string keyValue) =>
        (await Internal.LookupKeyAsync(new LookupKeyRequest { KeyHash = ByteString.CopyFrom(KeyHash.Of(keyValue).ToArray()) })).Record;

    public void Dispose()
    {
        _channel.Dispose();
        _internal.Dispose();
    }

    private Task<HttpResponseMessage> PatchAsync(string path, string? json) =>
        Rest.Http.SendAsync(new HttpRequestMessage(HttpMethod.Patch, path)
        {
            Content = json is null ? null : new StringContent(json, Encoding.UTF8, "application/json"),
        });

    private sealed record JsonObjectWithKey(string Key)
    {
        public override string ToString() => System.Text.Json.JsonSerializer.Serialize(new { key = Key });
    }
}
