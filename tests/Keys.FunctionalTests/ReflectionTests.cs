using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Reflection.V1Alpha;
using Keys.FunctionalTests.Infrastructure;

namespace Keys.FunctionalTests;

/// <summary>
/// gRPC server reflection, which grpcurl and Postman use to list services and build calls, is mapped in Development
/// only. The test system's services run as Production: Aspire hands a project the environment of its launch profile,
/// and KeyAdmin and KeyValidation have none (DCP drops the AppHost's own <c>ASPNETCORE_ENVIRONMENT</c>).
/// </summary>
[Collection(KeysCollection.Name)]
public sealed class ReflectionTests(KeysAppFixture fixture)
{
    public static TheoryData<string> Services => ["key-validation", "key-admin"];

    [Theory]
    [MemberData(nameof(Services))]
    public async Task ReflectionIsNotServedOutsideDevelopment(string resource)
    {
        using var channel = fixture.ServiceChannel(fixture.App.GetEndpoint(resource, "grpc"), token: null);
        var error = await Assert.ThrowsAsync<RpcException>(() => ListServicesAsync(channel));
        Assert.Equal(StatusCode.Unimplemented, error.StatusCode);
    }

    private static async Task<IReadOnlyList<string>> ListServicesAsync(GrpcChannel channel)
    {
        using var call = new ServerReflection.ServerReflectionClient(channel).ServerReflectionInfo();
        await call.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" });
        await call.RequestStream.CompleteAsync();
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None), "reflection answered nothing");
        return [.. call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name)];
    }
}
