using System.Globalization;
using System.Net.Http.Headers;
using Grpc.Net.Client;
using Keys.V1;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Keys.FunctionalTests.Infrastructure;

/// <summary>
/// Starts the real system once for a test collection (<see cref="KeysHost"/>): Postgres and Redis (local binaries, in
/// a fresh data directory that is removed afterwards), KeyAdmin, KeyValidation, the gateway and the demo upstream,
/// two replicas of each service that has them. Nothing here stops or freezes a part of it: tests that do use
/// <see cref="FaultsAppFixture"/>, a system of their own.
/// </summary>
public class KeysAppFixture(IMessageSink diagnostics) : IAsyncLifetime
{
    public const int WatchReplayCapacity = 16;

    /// <summary>Events a Watch stream may have queued for a client that reads slowly, before it is dealt with.</summary>
    public const int WatchBufferCapacity = 256;

    public const int InvalidKeyLimit = 200;

    /// <summary>Wrong admin tokens one address may send to KeyAdmin per window (a minute).</summary>
    public const int FailedTokenLimit = 20;

    /// <summary>Watch streams one caller may hold open on a KeyValidation replica.</summary>
    public const int WatchMaxStreamsPerCaller = 12;

    public KeysHost Host { get; private set; } = null!;

    public DistributedApplication App => Host.App;

    public string AdminToken => Host.AdminToken;

    /// <summary>KeyValidation's credential for KeyAdmin's internal API (the AppHost's <c>key-validation-token</c>).</summary>
    public string KeyValidationToken { get; } = KeysHost.NewToken();

    /// <summary>The gateway's credential for KeyValidation (the AppHost's <c>gateway-token</c>).</summary>
    public string GatewayToken { get; } = KeysHost.NewToken();

    /// <summary>The tests' own credential for KeyValidation: a caller of their own, as an internal service would be.</summary>
    public string TestCallerToken => Host.CallerToken;

    /// <summary>What the system is for: names its data directory and its log file.</summary>
    protected virtual string Name => "tests";

    /// <summary>Whether services log each request, for the tests that search the logs (<see cref="KeysHostOptions.RequestLogs"/>).</summary>
    protected virtual bool RequestLogs => true;

    public virtual async Task InitializeAsync()
    {
        Host = await KeysHost.StartAsync(Configure(new KeysHostOptions
        {
            Name = Name,
            KeyValidationReplicas = 2,
            GatewayReplicas = 2,
            KeyValidationToken = KeyValidationToken,
            GatewayToken = GatewayToken,
            RequestLogs = RequestLogs,
            Environment =
            [
                ("key-admin", "KeyAdmin__FailedTokenLimit", Invariant(FailedTokenLimit)),

                // Short intervals and small buffers, so that tests of last-used, of Watch replay and of a Watch client
                // that falls behind run in seconds.
                ("key-validation", "KeyValidation__UsageFlushInterval", "00:00:01"),
                ("key-validation", "KeyValidation__WatchReplayCapacity", Invariant(WatchReplayCapacity)),
                ("key-validation", "KeyValidation__WatchBufferCapacity", Invariant(WatchBufferCapacity)),
                ("key-validation", "KeyValidation__WatchMaxStreamsPerCaller", Invariant(WatchMaxStreamsPerCaller)),

                // High enough that tests which send a few bad keys on purpose never meet it; the 429 test goes past it.
                ("gateway", "ApiKeys__InvalidKeyLimit", Invariant(InvalidKeyLimit)),
            ],
        }));
        diagnostics.OnMessage(new DiagnosticMessage($"{GetType().Name}: resource logs in {Host.Logs.RelativePath}"));
    }

    /// <summary>What a fixture of its own changes in the system every collection starts (fewer replicas, more settings).</summary>
    protected virtual KeysHostOptions Configure(KeysHostOptions options) => options;

    public HttpClient CreateGatewayClient() => App.CreateHttpClient("gateway");

    /// <summary>
    /// The address of an endpoint on each replica of a resource, bypassing the proxy that spreads connections over
    /// them, so a test can ask every replica in turn.
    /// </summary>
    public Task<IReadOnlyList<Uri>> GetReplicaAddressesAsync(string name, string endpoint, int replicas) =>
        Host.ReplicaAddressesAsync(name, endpoint, replicas);

    /// <summary>
    /// A gRPC channel to an internal service that presents <paramref name="token"/> (default: the tests' own
    /// KeyValidation credential) on every call; null presents none.
    /// </summary>
    public GrpcChannel ServiceChannel(Uri address, string? token = "") => Host.ServiceChannel(address, token);

    /// <summary>A channel to KeyValidation (through the proxy that spreads calls over its replicas), as the tests' caller.</summary>
    public GrpcChannel KeyValidationChannel() => ServiceChannel(App.GetEndpoint("key-validation", "grpc"));

    /// <summary>KeyAdmin's internal API, with KeyValidation's credential.</summary>
    public KeyAdminInternalService.KeyAdminInternalServiceClient CreateKeyAdminInternalClient(out GrpcChannel channel)
    {
        channel = ServiceChannel(App.GetEndpoint("key-admin", "grpc"), KeyValidationToken);
        return new KeyAdminInternalService.KeyAdminInternalServiceClient(channel);
    }

    /// <summary>The admin token as gRPC call headers, for KeyAdmin's gRPC API.</summary>
    public Grpc.Core.Metadata AdminCallHeaders() => new() { { "Authorization", $"Bearer {AdminToken}" } };

    public KeyAdminClient CreateKeyAdminClient(string? token = null)
    {
        var http = App.CreateHttpClient("key-admin", "http");
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token ?? AdminToken);
        return new KeyAdminClient(http);
    }

    /// <summary>Every line that every resource has written so far (services, Postgres, Redis), joined.</summary>
    public async Task<string> ReadAllLogsAsync() => string.Concat((await ReadLogsByResourceAsync()).Values);

    /// <summary>Every line each resource (all its replicas) has written so far, by resource name.</summary>
    public async Task<IReadOnlyDictionary<string, string>> ReadLogsByResourceAsync()
    {
        var loggers = App.Services.GetRequiredService<ResourceLoggerService>();
        var model = App.Services.GetRequiredService<DistributedApplicationModel>();
        var logs = new Dictionary<string, string>();
        foreach (var resource in model.Resources)
        {
            var text = new System.Text.StringBuilder();
            await foreach (var batch in loggers.GetAllAsync(resource))
            {
                foreach (var line in batch)
                {
                    text.AppendLine(line.Content);
                }
            }

            logs[resource.Name] = text.ToString();
        }

        return logs;
    }

    public virtual async Task DisposeAsync()
    {
        if (Host is not null)
        {
            await Host.DisposeAsync();
        }
    }

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}

[CollectionDefinition(Name)]
public sealed class KeysCollection : ICollectionFixture<KeysAppFixture>
{
    public const string Name = "Keys system";
}
