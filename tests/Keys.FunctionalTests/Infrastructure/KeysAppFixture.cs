using System.Net.Http.Headers;
using System.Security.Cryptography;
using Grpc.Net.Client;
using Keys.V1;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Keys.FunctionalTests.Infrastructure;

/// <summary>
/// Starts the real system once for a test collection: Postgres and Redis (local binaries, in a fresh data directory
/// that is removed afterwards), KeyAdmin, KeyValidation, the gateway and the demo upstream.
/// </summary>
public sealed partial class KeysAppFixture : IAsyncLifetime
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);

    private readonly DirectoryInfo _dataDirectory = Directory.CreateTempSubdirectory("keys-test-");

    public const int WatchReplayCapacity = 16;

    /// <summary>Events a Watch stream may have queued for a client that reads slowly, before it is dealt with.</summary>
    public const int WatchBufferCapacity = 256;

    public const int InvalidKeyLimit = 200;

    public DistributedApplication App { get; private set; } = null!;

    public string AdminToken { get; } = "test-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(24));

    /// <summary>KeyValidation's credential for KeyAdmin's internal API (the AppHost's <c>key-validation-token</c>).</summary>
    public string KeyValidationToken { get; } = Convert.ToHexString(RandomNumberGenerator.GetBytes(24));

    /// <summary>The gateway's credential for KeyValidation (the AppHost's <c>gateway-token</c>).</summary>
    public string GatewayToken { get; } = Convert.ToHexString(RandomNumberGenerator.GetBytes(24));

    /// <summary>The tests' own credential for KeyValidation: a caller of their own, as an internal service would be.</summary>
    public string TestCallerToken { get; } = Convert.ToHexString(RandomNumberGenerator.GetBytes(24));

    /// <summary>Wrong admin tokens one address may send to KeyAdmin per window (a minute).</summary>
    public const int FailedTokenLimit = 20;

    /// <summary>Watch streams one caller may hold open on a KeyValidation replica.</summary>
    public const int WatchMaxStreamsPerCaller = 12;

    public async Task InitializeAsync()
    {
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.Keys_AppHost>(
            [
                "Keys:Infrastructure=local",
                "Keys:Replicas:KeyValidation=2",
                "Keys:Replicas:Gateway=2",
                $"Keys:DataDirectory={_dataDirectory.FullName}",
                $"Parameters:admin-token={AdminToken}",
                $"Parameters:key-validation-token={KeyValidationToken}",
                $"Parameters:gateway-token={GatewayToken}",
            ]);
        // KEYS_TEST_LOGS=1 prints every resource's output, for a test run that needs explaining.
        builder.Services.AddLogging(logging =>
        {
            if (Environment.GetEnvironmentVariable("KEYS_TEST_LOGS") == "1")
            {
                logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Information);
            }
            else
            {
                logging.SetMinimumLevel(LogLevel.Warning);
            }
        });

        // Tests run without the dashboard, yet services are still pointed at its OTLP endpoint; exporting to nothing
        // would hold every shutdown (and so every stop and restart a test makes) for the exporter's 10 s timeout.
        foreach (var project in builder.Resources.OfType<ProjectResource>().ToList())
        {
            builder.CreateResourceBuilder(project).WithEnvironment("OTEL_EXPORTER_OTLP_ENDPOINT", "");
        }

        var keyAdmin = builder.Resources.OfType<ProjectResource>().Single(r => r.Name == "key-admin");
        builder.CreateResourceBuilder(keyAdmin)
            .WithEnvironment("KeyAdmin__FailedTokenLimit", FailedTokenLimit.ToString(System.Globalization.CultureInfo.InvariantCulture));

        // Short intervals and small buffers, so that tests of last-used, of Watch replay and of a Watch client that
        // falls behind run in seconds.
        var keyValidation = builder.Resources.OfType<ProjectResource>().Single(r => r.Name == "key-validation");
        builder.CreateResourceBuilder(keyValidation)
            .WithEnvironment("KeyValidation__UsageFlushInterval", "00:00:01")
            .WithEnvironment("KeyValidation__WatchReplayCapacity", WatchReplayCapacity.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .WithEnvironment("KeyValidation__WatchBufferCapacity", WatchBufferCapacity.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .WithEnvironment("KeyValidation__WatchMaxStreamsPerCaller", WatchMaxStreamsPerCaller.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .WithEnvironment("ServiceAuth__Callers__tests", TestCallerToken);

        // High enough that tests which send a few bad keys on purpose never meet it; the 429 test goes past it.
        var gateway = builder.Resources.OfType<ProjectResource>().Single(r => r.Name == "gateway");
        builder.CreateResourceBuilder(gateway)
            .WithEnvironment("Gateway__InvalidKeyLimit", InvalidKeyLimit.ToString(System.Globalization.CultureInfo.InvariantCulture));

        App = await builder.BuildAsync();
        using var timeout = new CancellationTokenSource(StartTimeout);
        await App.StartAsync(timeout.Token);
        await App.ResourceNotifications.WaitForResourceHealthyAsync("gateway", timeout.Token);
    }

    public HttpClient CreateGatewayClient() => App.CreateHttpClient("gateway");

    /// <summary>
    /// The gRPC address of each replica of a resource, bypassing the proxy that spreads connections over them, so a
    /// test can ask every replica in turn.
    /// </summary>
    public async Task<IReadOnlyList<Uri>> GetReplicaAddressesAsync(string name, string endpoint, int replicas)
    {
        var addresses = new Dictionary<string, Uri>();
        using var timeout = new CancellationTokenSource(StartTimeout);
        await App.ResourceNotifications.WaitForResourceAsync(
            name,
            e =>
            {
                var url = e.Snapshot.EnvironmentVariables.FirstOrDefault(v => v.Name == $"Kestrel__Endpoints__{endpoint}__Url")?.Value;
                if (url is not null && e.Snapshot.State?.Text == KnownResourceStates.Running)
                {
                    addresses[e.ResourceId] = new Uri(url.Replace("://*", "://localhost", StringComparison.Ordinal));
                }

                return addresses.Count >= replicas;
            },
            timeout.Token);
        return [.. addresses.Values];
    }

    /// <summary>
    /// A gRPC channel to an internal service that presents <paramref name="token"/> (default: the tests' own
    /// KeyValidation credential) on every call; null presents none.
    /// </summary>
    public GrpcChannel ServiceChannel(Uri address, string? token = "")
    {
        HttpMessageHandler handler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true };
        token = token == "" ? TestCallerToken : token;
        if (token is not null)
        {
            handler = new ServiceAuth.ServiceCredentialHandler(token) { InnerHandler = handler };
        }

        return GrpcChannel.ForAddress(address, new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
    }

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

    /// <summary>Stops a resource, or one replica of it (<paramref name="replicaId"/>), and waits until it has exited.</summary>
    public async Task StopResourceAsync(string name, string? replicaId = null)
    {
        using var timeout = new CancellationTokenSource(StartTimeout);
        var result = await App.ResourceCommands.ExecuteCommandAsync(replicaId ?? name, KnownResourceCommands.StopCommand, timeout.Token);
        Assert.True(result.Success, result.Message);
        await App.ResourceNotifications.WaitForResourceAsync(
            name,
            e => (replicaId is null || e.ResourceId == replicaId) && KnownResourceStates.TerminalStates.Contains(e.Snapshot.State?.Text),
            timeout.Token);
    }

    /// <summary>The instance names of a resource's replicas (what resource commands take).</summary>
    public async Task<IReadOnlyList<string>> GetReplicaIdsAsync(string name, int replicas)
    {
        var ids = new HashSet<string>();
        using var timeout = new CancellationTokenSource(StartTimeout);
        await App.ResourceNotifications.WaitForResourceAsync(
            name,
            e =>
            {
                ids.Add(e.ResourceId);
                return ids.Count >= replicas;
            },
            timeout.Token);
        return [.. ids];
    }

    /// <summary>Starts a stopped resource and returns once <paramref name="isReady"/> says it serves again.</summary>
    public async Task StartResourceAsync(string name, Func<CancellationToken, Task<bool>> isReady)
    {
        using var timeout = new CancellationTokenSource(StartTimeout);
        var result = await App.ResourceCommands.ExecuteCommandAsync(name, KnownResourceCommands.StartCommand, timeout.Token);
        Assert.True(result.Success, result.Message);
        await WaitUntilReadyAsync(isReady, timeout.Token);
    }

    /// <summary>Restarts a resource and returns once <paramref name="isReady"/> says it serves again.</summary>
    public async Task RestartResourceAsync(string name, Func<CancellationToken, Task<bool>> isReady)
    {
        using var timeout = new CancellationTokenSource(StartTimeout);
        var result = await App.ResourceCommands.ExecuteCommandAsync(name, KnownResourceCommands.RestartCommand, timeout.Token);
        Assert.True(result.Success, result.Message);
        await WaitUntilReadyAsync(isReady, timeout.Token);
    }

    /// <summary>True once Redis answers PING with the app's credentials.</summary>
    public async Task<bool> RedisAnswersAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync((await App.GetConnectionStringAsync("redis", cancellationToken))!);
            await redis.GetDatabase().PingAsync();
            return true;
        }
        catch (StackExchange.Redis.RedisConnectionException)
        {
            return false;
        }
    }

    /// <summary>True once a resource's <c>/health</c> (every readiness check, migrations included) answers 200.</summary>
    public async Task<bool> IsHealthyAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            using var http = App.CreateHttpClient(name, "http");
            return (await http.GetAsync("/health", cancellationToken)).IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    /// <summary>
    /// Returns once every replica's own <c>/health</c> answers 200. Asking through the proxy would let one healthy
    /// replica hide another that is still starting (a KeyValidation replica refuses Watch until it is current).
    /// </summary>
    public async Task WaitForReplicasHealthyAsync(string name, int replicas)
    {
        using var timeout = new CancellationTokenSource(StartTimeout);
        await WaitUntilReadyAsync(ct => ReplicasHealthyAsync(name, replicas, ct), timeout.Token);
    }

    // Aspire's own health status lags behind a restarted process, so readiness is asked of the service itself.
    private static async Task WaitUntilReadyAsync(Func<CancellationToken, Task<bool>> isReady, CancellationToken cancellationToken)
    {
        while (!await isReady(cancellationToken))
        {
            await Task.Delay(200, cancellationToken);
        }
    }

    public async Task DisposeAsync()
    {
        if (App is not null)
        {
            await App.DisposeAsync();
        }

        _dataDirectory.Delete(recursive: true);
    }
}

[CollectionDefinition(Name)]
public sealed class KeysCollection : ICollectionFixture<KeysAppFixture>
{
    public const string Name = "Keys system";
}
