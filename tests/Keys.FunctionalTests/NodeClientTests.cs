using System.Diagnostics;
using System.Text.Json;
using Keys.FunctionalTests.Infrastructure;

namespace Keys.FunctionalTests;

/// <summary>
/// KeyValidation through a gRPC client that is not .NET (Node.js, @grpc/grpc-js, compiling the same protos): what an
/// attacker on the network would use, and what another team's internal service would.
/// </summary>
[Collection(KeysCollection.Name)]
public sealed class NodeClientTests(KeysAppFixture fixture)
{
    /// <summary>The NodeClient folder, once <c>npm ci</c> has run in it: NodeCacheTests runs from there too.</summary>
    internal static readonly Lazy<Task<string>> Installed = new(InstallAsync);

    [Fact]
    public async Task ANodeClientWithoutACredentialLearnsNothingAboutAKey()
    {
        var key = await NewSecretKeyAsync();

        var answer = await ValidateFromNodeAsync(key, token: null);

        Assert.Equal(16, answer.Code); // UNAUTHENTICATED
        Assert.Null(answer.Outcome);
    }

    [Fact]
    public async Task ANodeClientWithAWrongCredentialLearnsNothingAboutAKey()
    {
        var key = await NewSecretKeyAsync();

        var answer = await ValidateFromNodeAsync(key, token: fixture.AdminToken);

        Assert.Equal(16, answer.Code);
        Assert.Null(answer.Outcome);
    }

    [Fact]
    public async Task ANodeServiceWithItsCredentialValidatesAKey()
    {
        var key = await NewSecretKeyAsync();

        var answer = await ValidateFromNodeAsync(key, token: fixture.TestCallerToken);

        Assert.Equal(0, answer.Code);
        Assert.Equal("VALIDATION_OUTCOME_VALID", answer.Outcome);
    }

    private async Task<string> NewSecretKeyAsync()
    {
        var admin = fixture.CreateKeyAdminClient();
        var project = await admin.CreateProjectAsync();
        return (await admin.CreateKeyAsync(project.Id, "dev", "node-probe", "secret")).Value;
    }

    private async Task<NodeAnswer> ValidateFromNodeAsync(string key, string? token)
    {
        var clientDirectory = await Installed.Value;
        var endpoint = fixture.App.GetEndpoint("key-validation", "grpc");
        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = clientDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            ArgumentList = { "validate.mjs", $"{endpoint.Host}:{endpoint.Port}", Path.Combine(RepositoryRoot(), "protos"), key },
        };
        if (token is not null)
        {
            start.Environment["KEYS_SERVICE_TOKEN"] = token;
        }

        // A replica not yet current with KeyAdmin answers UNAVAILABLE (14): ask again, as any client would.
        for (var attempt = 0; ; attempt++)
        {
            var (exitCode, output, error) = await RunAsync(start);
            Assert.True(exitCode == 0, $"node exited {exitCode}: {error}");
            var answer = JsonSerializer.Deserialize<NodeAnswer>(output, JsonSerializerOptions.Web)!;
            if (answer.Code != 14 || attempt == 10)
            {
                return answer;
            }

            await Task.Delay(500);
        }
    }

    private static async Task<string> InstallAsync()
    {
        var directory = Path.Combine(RepositoryRoot(), "tests", "Keys.FunctionalTests", "NodeClient");
        var (exitCode, _, error) = await RunAsync(new ProcessStartInfo("npm")
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            ArgumentList = { "ci", "--no-audit", "--no-fund", "--ignore-scripts" },
        });
        Assert.True(exitCode == 0, $"npm ci failed: {error}");
        return directory;
    }

    private static async Task<(int ExitCode, string Output, string Error)> RunAsync(ProcessStartInfo start)
    {
        using var process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var error = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output, await error);
    }

    private static string RepositoryRoot() => Repository.Root;

    private sealed record NodeAnswer(int Code, string? Outcome);
}
