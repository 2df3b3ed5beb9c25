using Grpc.Core;
using Grpc.Net.Client;
using Keys.FunctionalTests.Infrastructure;
using Keys.V1;

namespace Keys.FunctionalTests;

/// <summary>The same management API over gRPC (h2c), as internal tools and SDKs use it.</summary>
[Collection(KeysCollection.Name)]
public sealed class GrpcManagementTests(KeysAppFixture fixture) : IDisposable
{
    private readonly GrpcChannel _channel = GrpcChannel.ForAddress(fixture.App.GetEndpoint("key-admin", "grpc"));

    [Fact]
    public async Task GrpcCallsCreateAndListKeysWithTheAdminToken()
    {
        var client = new KeyAdminService.KeyAdminServiceClient(_channel);
        var auth = fixture.AdminCallHeaders();

        var project = await client.CreateProjectAsync(new CreateProjectRequest { Name = "Over gRPC" }, auth);
        var created = await client.CreateKeyAsync(
            new CreateKeyRequest { ProjectId = project.Id, Environment = "prod", Name = "grpc-key", Type = "secret" }, auth);
        var listed = await client.ListKeysAsync(new ListKeysRequest { ProjectId = project.Id, Environment = "prod" }, auth);

        Assert.StartsWith("sk_", created.Value);
        Assert.Equal(created.Key.Id, Assert.Single(listed.Keys).Id);
        Assert.False(listed.Keys[0].HasValue);
    }

    [Fact]
    public async Task GrpcCallWithoutTheAdminTokenIsUnauthenticated()
    {
        var client = new KeyAdminService.KeyAdminServiceClient(_channel);

        var error = await Assert.ThrowsAsync<RpcException>(async () => await client.ListProjectsAsync(new ListProjectsRequest()));

        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
    }

    public void Dispose() => _channel.Dispose();
}
