using Grpc.Net.Client;
using Grpc.Reflection.V1Alpha;
using Keys.FunctionalTests.Infrastructure;

namespace Keys.FunctionalTests;

/// <summary>
/// gRPC server reflection, which grpcurl and Postman use to list services and build calls, is mapped in Development,
/// the environment the AppHost gives the services under <c>./keys run</c> and here. It needs no credential: it tells
/// the services' shapes, never data, and the services it names still ask for theirs (ServiceCredentialTests).
/// </summary>
[Collection(KeysCollection.Name)]
public sealed class ReflectionTests(KeysAppFixture fixture)
{
    [Theory]
    [InlineData("key-validation", "keys.v1.KeyValidationService")]
    [InlineData("key-admin", "keys.v1.KeyAdminService")]
    [InlineData("key-admin", "keys.v1.KeyAdminInternalService")]
    [InlineData("orders", "orders.v1.Orders")]
    public async Task ReflectionListsTheServicesInDevelopmentWithoutACredential(string resource, string service)
    {
        using var channel = GrpcChannel.ForAddress(fixture.App.GetEndpoint(resource, "grpc"));

        Assert.Contains(service, await ListServicesAsync(channel));
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
