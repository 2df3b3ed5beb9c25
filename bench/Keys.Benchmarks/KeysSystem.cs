using System.Net.Http.Json;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Keys.Benchmarks;

/// <summary>The whole system, started as the tests start it: local Postgres and Redis in a throw-away data directory.</summary>
public sealed class KeysSystem : IAsyncDisposable
{
    private readonly DirectoryInfo _dataDirectory = Directory.CreateTempSubdirectory("keys-bench-");

    public DistributedApplication App { get; private set; } = null!;

    public string AdminToken { get; } = "bench-" + Guid.NewGuid().ToString("N");

    /// <summary>The benchmark's own credential for KeyValidation, as an internal service would have.</summary>
    public string CallerToken { get; } = Guid.NewGuid().ToString("N") + Guid.NewGuid().ToString("N");

    public static async Task<KeysSystem> StartAsync()
    {
        var system = new KeysSystem();
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.Keys_AppHost>(
            [
                "Keys:Infrastructure=local",
                $"Keys:DataDirectory={system._dataDirectory.FullName}",
                $"Parameters:admin-token={system.AdminToken}",
            ]);
        builder.Services.AddLogging(logging => logging.AddFilter("Keys.AppHost.Resources", LogLevel.Warning).SetMinimumLevel(LogLevel.Warning));
        foreach (var project in builder.Resources.OfType<ProjectResource>().ToList())
        {
            // No dashboard here: exporting telemetry to nowhere would only add noise to the measurements.
            builder.CreateResourceBuilder(project).WithEnvironment("OTEL_EXPORTER_OTLP_ENDPOINT", "");
        }

        // One load generator is one client address: the invalid-key throttle would turn G2's garbage into 429s.
        var gateway = builder.Resources.OfType<ProjectResource>().Single(r => r.Name == "gateway");
        builder.CreateResourceBuilder(gateway).WithEnvironment("Gateway__InvalidKeyLimit", int.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture));

        // Last-used reports update api_key rows, which the garbage test would count as KeyAdmin lookups.
        var keyValidation = builder.Resources.OfType<ProjectResource>().Single(r => r.Name == "key-validation");
        builder.CreateResourceBuilder(keyValidation)
            .WithEnvironment("KeyValidation__UsageFlushInterval", "01:00:00")
            .WithEnvironment("ServiceAuth__Callers__bench", system.CallerToken);

        system.App = await builder.BuildAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await system.App.StartAsync(timeout.Token);
        await system.App.ResourceNotifications.WaitForResourceHealthyAsync("gateway", timeout.Token);
        return system;
    }

    /// <summary>A resource endpoint's own address (not DCP's proxy in front of it), read from its Kestrel settings.</summary>
    public async Task<Uri> DirectAddressAsync(string resource, string endpoint)
    {
        Uri? address = null;
        await App.ResourceNotifications.WaitForResourceAsync(resource, e =>
        {
            var url = e.Snapshot.EnvironmentVariables.FirstOrDefault(v => v.Name == $"Kestrel__Endpoints__{endpoint}__Url")?.Value;
            address = url is null ? null : new Uri(url.Replace("://*", "://localhost", StringComparison.Ordinal));
            return address is not null;
        });
        return address!;
    }

    /// <summary>A gRPC channel to an internal service that presents the benchmark's credential, as every caller must.</summary>
    public Grpc.Net.Client.GrpcChannel ServiceChannel(Uri address) => Grpc.Net.Client.GrpcChannel.ForAddress(address, new()
    {
        HttpHandler = new ServiceAuth.ServiceCredentialHandler(CallerToken) { InnerHandler = new SocketsHttpHandler() },
        DisposeHttpClient = true,
    });

    public async Task<(string ProjectId, string KeyId, string Value)> CreateKeyAsync(string type)
    {
        using var http = App.CreateHttpClient("key-admin", "http");
        http.DefaultRequestHeaders.Authorization = new("Bearer", AdminToken);
        var project = await (await http.PostAsJsonAsync("/v1/projects", new { name = "Benchmark" })).Content.ReadFromJsonAsync<IdOnly>();
        var response = await http.PostAsJsonAsync($"/v1/projects/{project!.Id}/environments/prod/keys", new { name = $"bench-{Guid.NewGuid():N}", type });
        var created = await response.Content.ReadFromJsonAsync<CreatedKey>();
        return (project.Id, created!.Key.Id, created.Value);
    }

    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync();
        _dataDirectory.Delete(recursive: true);
    }

    private sealed record IdOnly(string Id);

    private sealed record CreatedKey(IdOnly Key, string Value);
}
