using System.Net.Http.Headers;
using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Keys.FunctionalTests.Infrastructure;

/// <summary>
/// Starts the real system once for a test collection: Postgres and Redis (local binaries, in a fresh data directory
/// that is removed afterwards), KeyAdmin, KeyValidation, the gateway and the demo upstream.
/// </summary>
public sealed class KeysAppFixture : IAsyncLifetime
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);

    private readonly DirectoryInfo _dataDirectory = Directory.CreateTempSubdirectory("keys-test-");

    public DistributedApplication App { get; private set; } = null!;

    public string AdminToken { get; } = "test-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(24));

    public async Task InitializeAsync()
    {
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.Keys_AppHost>(
            [
                "Keys:Infrastructure=local",
                $"Keys:DataDirectory={_dataDirectory.FullName}",
                $"Parameters:admin-token={AdminToken}",
            ]);
        builder.Services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Warning));

        App = await builder.BuildAsync();
        using var timeout = new CancellationTokenSource(StartTimeout);
        await App.StartAsync(timeout.Token);
        await App.ResourceNotifications.WaitForResourceHealthyAsync("gateway", timeout.Token);
    }

    public HttpClient CreateGatewayClient() => App.CreateHttpClient("gateway");

    public KeyAdminClient CreateKeyAdminClient(string? token = null)
    {
        var http = App.CreateHttpClient("key-admin", "http");
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token ?? AdminToken);
        return new KeyAdminClient(http);
    }

    /// <summary>Every line that every resource has written so far (services, Postgres, Redis), joined.</summary>
    public async Task<string> ReadAllLogsAsync()
    {
        var loggers = App.Services.GetRequiredService<ResourceLoggerService>();
        var model = App.Services.GetRequiredService<DistributedApplicationModel>();
        var text = new System.Text.StringBuilder();
        foreach (var resource in model.Resources)
        {
            await foreach (var batch in loggers.GetAllAsync(resource))
            {
                foreach (var line in batch)
                {
                    text.AppendLine(line.Content);
                }
            }
        }

        return text.ToString();
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
