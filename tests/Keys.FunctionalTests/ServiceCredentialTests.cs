using System.Security.Cryptography;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using Keys.ApiKeys;
using Keys.FunctionalTests.Infrastructure;
using Keys.V1;

namespace Keys.FunctionalTests;

/// <summary>
/// The inside of Keys, tried as an attacker on the same network would: every internal RPC needs the credential of a
/// service allowed to call it, and each service's credential opens only what that service needs.
/// </summary>
[Collection(KeysCollection.Name)]
public sealed class ServiceCredentialTests(KeysAppFixture fixture)
{
    private static readonly string WrongToken = Convert.ToHexString(RandomNumberGenerator.GetBytes(24));

    private Uri KeyValidationAddress => fixture.App.GetEndpoint("key-validation", "grpc");

    private Uri KeyAdminAddress => fixture.App.GetEndpoint("key-admin", "grpc");

    public static TheoryData<string> KeyValidationRpcs => ["Validate", "Watch", "Ping"];

    public static TheoryData<string> KeyAdminInternalRpcs => ["LookupKey", "Changes", "RecordUsage"];

    [Theory]
    [MemberData(nameof(KeyValidationRpcs))]
    public async Task KeyValidationRefusesACallWithNoCredential(string rpc)
    {
        using var channel = fixture.ServiceChannel(KeyValidationAddress, token: null);
        Assert.Equal(StatusCode.Unauthenticated, await CallKeyValidationAsync(channel, rpc));
    }

    [Theory]
    [MemberData(nameof(KeyValidationRpcs))]
    public async Task KeyValidationRefusesAWrongCredential(string rpc)
    {
        using var channel = fixture.ServiceChannel(KeyValidationAddress, WrongToken);
        Assert.Equal(StatusCode.Unauthenticated, await CallKeyValidationAsync(channel, rpc));
    }

    [Theory]
    [MemberData(nameof(KeyValidationRpcs))]
    public async Task KeyValidationRefusesTheOperatorToken(string rpc)
    {
        using var channel = fixture.ServiceChannel(KeyValidationAddress, fixture.AdminToken);
        Assert.Equal(StatusCode.Unauthenticated, await CallKeyValidationAsync(channel, rpc));
    }

    [Theory]
    [MemberData(nameof(KeyValidationRpcs))]
    public async Task KeyValidationAnswersAKnownCaller(string rpc)
    {
        using var channel = fixture.ServiceChannel(KeyValidationAddress, fixture.GatewayToken);
        Assert.Equal(StatusCode.OK, await CallKeyValidationAsync(channel, rpc));
    }

    [Theory]
    [MemberData(nameof(KeyAdminInternalRpcs))]
    public async Task KeyAdminInternalRefusesACallWithNoCredential(string rpc)
    {
        using var channel = fixture.ServiceChannel(KeyAdminAddress, token: null);
        Assert.Equal(StatusCode.Unauthenticated, await CallKeyAdminInternalAsync(channel, rpc));
    }

    [Theory]
    [MemberData(nameof(KeyAdminInternalRpcs))]
    public async Task KeyAdminInternalRefusesAWrongCredential(string rpc)
    {
        using var channel = fixture.ServiceChannel(KeyAdminAddress, WrongToken);
        Assert.Equal(StatusCode.Unauthenticated, await CallKeyAdminInternalAsync(channel, rpc));
    }

    [Theory]
    [MemberData(nameof(KeyAdminInternalRpcs))]
    public async Task KeyAdminInternalRefusesTheOperatorToken(string rpc)
    {
        using var channel = fixture.ServiceChannel(KeyAdminAddress, fixture.AdminToken);
        Assert.Equal(StatusCode.Unauthenticated, await CallKeyAdminInternalAsync(channel, rpc));
    }

    [Theory]
    [MemberData(nameof(KeyAdminInternalRpcs))]
    public async Task KeyAdminInternalRefusesTheGatewaysCredential(string rpc)
    {
        // The gateway calls KeyValidation only: its credential must not read key records or the outbox from KeyAdmin.
        using var channel = fixture.ServiceChannel(KeyAdminAddress, fixture.GatewayToken);
        Assert.Equal(StatusCode.Unauthenticated, await CallKeyAdminInternalAsync(channel, rpc));
    }

    [Theory]
    [MemberData(nameof(KeyAdminInternalRpcs))]
    public async Task KeyAdminInternalAnswersKeyValidation(string rpc)
    {
        using var channel = fixture.ServiceChannel(KeyAdminAddress, fixture.KeyValidationToken);
        Assert.Equal(StatusCode.OK, await CallKeyAdminInternalAsync(channel, rpc));
    }

    [Fact]
    public async Task TheManagementApiRefusesAServiceCredential()
    {
        using var channel = fixture.ServiceChannel(KeyAdminAddress, fixture.KeyValidationToken);
        var error = await Assert.ThrowsAsync<RpcException>(
            async () => await new KeyAdminService.KeyAdminServiceClient(channel).ListProjectsAsync(new ListProjectsRequest()));
        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
    }

    [Fact]
    public async Task InternalRpcsAreNotServedAsRest()
    {
        var admin = fixture.CreateKeyAdminClient();
        using var response = await admin.Http.PostAsync("/keys.v1.KeyAdminInternalService/Changes", new StringContent("{}"));
        Assert.NotEqual(System.Net.HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task UsageFromTheFutureIsRecordedAsNow()
    {
        var admin = fixture.CreateKeyAdminClient();
        var project = await admin.CreateProjectAsync();
        var key = await admin.CreateKeyAsync(project.Id, "dev", "future-usage", "secret");
        var keyAdmin = fixture.CreateKeyAdminInternalClient(out var channel);
        using var disposeChannel = channel;

        var before = DateTimeOffset.UtcNow;
        await keyAdmin.RecordUsageAsync(new RecordUsageRequest
        {
            Usages = { new KeyUsage { KeyId = key.Key.Id, LastUsedAt = Timestamp.FromDateTimeOffset(before.AddYears(5)) } },
        });

        var listed = (await admin.ListKeysAsync(project.Id, "dev")).Keys.Single(k => k.Id == key.Key.Id);
        Assert.NotNull(listed.LastUsedAt);
        Assert.InRange(listed.LastUsedAt.Value, before.AddSeconds(-5), DateTimeOffset.UtcNow.AddSeconds(5));
    }

    [Fact]
    public async Task OneCallerCannotHoldMoreWatchStreamsThanItsCap()
    {
        // One replica, so that every stream counts against the same cap.
        var replica = (await fixture.GetReplicaAddressesAsync("key-validation", "grpc", replicas: 2))[0];
        using var channel = fixture.ServiceChannel(replica);
        var client = new KeyValidationService.KeyValidationServiceClient(channel);
        var streams = new List<AsyncServerStreamingCall<WatchEvent>>();
        try
        {
            StatusCode? refused = null;
            for (var i = 0; i <= KeysAppFixture.WatchMaxStreamsPerCaller && refused is null; i++)
            {
                var (call, status) = await OpenWatchAsync(client);
                if (call is null)
                {
                    refused = status;
                }
                else
                {
                    streams.Add(call);
                }
            }

            Assert.Equal(StatusCode.ResourceExhausted, refused);
            Assert.Equal(KeysAppFixture.WatchMaxStreamsPerCaller, streams.Count);

            // Another caller is not held back by this one's streams.
            using var gatewayChannel = fixture.ServiceChannel(replica, fixture.GatewayToken);
            var (other, _) = await OpenWatchAsync(new KeyValidationService.KeyValidationServiceClient(gatewayChannel));
            Assert.NotNull(other);
            other.Dispose();

            // A closed stream gives its slot back.
            streams[0].Dispose();
            streams.RemoveAt(0);
            var (again, againStatus) = await EventuallyOpenAsync(client);
            Assert.True(again is not null, $"a stream was refused ({againStatus}) after one was closed");
            streams.Add(again);
        }
        finally
        {
            streams.ForEach(s => s.Dispose());
        }
    }

    private static async Task<(AsyncServerStreamingCall<WatchEvent>? Call, StatusCode Status)> OpenWatchAsync(KeyValidationService.KeyValidationServiceClient client)
    {
        // A replica not yet current with KeyAdmin refuses with Unavailable: retry that, as the gateway does.
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            var call = client.Watch(new WatchRequest());
            try
            {
                // The first event is a heartbeat: the stream was admitted.
                await call.ResponseStream.MoveNext(CancellationToken.None);
                return (call, StatusCode.OK);
            }
            catch (RpcException ex)
            {
                call.Dispose();
                if (ex.StatusCode != StatusCode.Unavailable || DateTime.UtcNow > deadline)
                {
                    return (null, ex.StatusCode);
                }
            }

            await Task.Delay(200);
        }
    }

    private static async Task<(AsyncServerStreamingCall<WatchEvent>? Call, StatusCode Status)> EventuallyOpenAsync(KeyValidationService.KeyValidationServiceClient client)
    {
        // The server notices a closed stream when its next write fails or the reset arrives: give it a moment.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var (call, status) = await OpenWatchAsync(client);
            if (call is not null || DateTime.UtcNow > deadline)
            {
                return (call, status);
            }

            await Task.Delay(200);
        }
    }

    private static async Task<StatusCode> CallKeyValidationAsync(GrpcChannel channel, string rpc)
    {
        var client = new KeyValidationService.KeyValidationServiceClient(channel);
        try
        {
            switch (rpc)
            {
                case "Validate":
                    await client.ValidateAsync(new ValidateRequest { Key = KeyString.Generate(ApiKeyType.Secret) });
                    break;
                case "Ping":
                    await client.PingAsync(new PingRequest());
                    break;
                default:
                    using (var call = client.Watch(new WatchRequest()))
                    {
                        await call.ResponseStream.MoveNext(CancellationToken.None);
                    }

                    break;
            }

            return StatusCode.OK;
        }
        catch (RpcException ex)
        {
            return ex.StatusCode;
        }
    }

    private static async Task<StatusCode> CallKeyAdminInternalAsync(GrpcChannel channel, string rpc)
    {
        var client = new KeyAdminInternalService.KeyAdminInternalServiceClient(channel);
        try
        {
            switch (rpc)
            {
                case "LookupKey":
                    await client.LookupKeyAsync(new LookupKeyRequest { KeyHash = ByteString.CopyFrom(RandomNumberGenerator.GetBytes(32)) });
                    break;
                case "Changes":
                    await client.ChangesAsync(new ChangesRequest { Limit = 1 });
                    break;
                default:
                    await client.RecordUsageAsync(new RecordUsageRequest());
                    break;
            }

            return StatusCode.OK;
        }
        catch (RpcException ex)
        {
            return ex.StatusCode;
        }
    }
}
